package preflight

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"k8s.io/apimachinery/pkg/util/validation"
)

// nodeName is the name kubeadm will give the node: the configured one, else
// the host name (the running kernel's, else the tree's /etc/hostname).
func nodeName(e *Env) (name, source string) {
	if n := e.Config.Spec.Node.Name; n != "" {
		return n, "spec.node.name"
	}
	for _, p := range []string{"/proc/sys/kernel/hostname", "/etc/hostname"} {
		if v, ok, _ := e.readTrim(p); ok && v != "" {
			return strings.ToLower(v), p
		}
	}
	return "", ""
}

func checkHostname(_ context.Context, e *Env) Result {
	name, source := nodeName(e)
	if name == "" {
		return fail("set a host name (hostnamectl set-hostname NAME) or --node-name", "no host name: neither /proc/sys/kernel/hostname nor /etc/hostname names one")
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fail("choose a node name of lower-case letters, digits, '-' and '.' (--node-name)",
			"node name %q (from %s) is not valid in Kubernetes: %s", name, source, strings.Join(errs, "; "))
	}
	if resolvesLocally(e, name) {
		return pass("node name %q (from %s) resolves locally", name, source)
	}
	// No DNS query: check stays offline and fast.
	return warn(fmt.Sprintf("add \"<address> %s\" to /etc/hosts unless DNS resolves it", name),
		"node name %q (from %s) is not in /etc/hosts; the kubelet needs it to resolve", name, source)
}

// resolvesLocally reports whether /etc/hosts names host, or nss-myhostname
// (which always resolves the local host name) is configured.
func resolvesLocally(e *Env, name string) bool {
	if b, err := e.Host.FS.ReadText("/etc/hosts"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line, _, _ := strings.Cut(sc.Text(), "#")
			f := strings.Fields(line)
			if len(f) > 1 && slices.ContainsFunc(f[1:], func(h string) bool { return strings.EqualFold(h, name) }) {
				return true
			}
		}
	}
	if b, err := e.Host.FS.ReadText("/etc/nsswitch.conf"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if ok && strings.TrimSpace(k) == "hosts" && slices.Contains(strings.Fields(v), "myhostname") {
				return true
			}
		}
	}
	return false
}

// nodePorts are what kubeadm's preflight requires free, by role.
func nodePorts(role config.Role) []int {
	if role == config.RoleWorker {
		return []int{10250}
	}
	return []int{6443, 2379, 2380, 10250, 10257, 10259}
}

// busyPorts tells which of want are in use: on the running system by
// listening on each for a moment, as kubeadm does (reading /proc/net/tcp
// takes milliseconds on some kernels); under --root from the tree's
// /proc/net/tcp, so fixtures can describe other machines.
func busyPorts(e *Env, want []int) (map[int]bool, error) {
	if e.Host.Root() != "/" {
		return listening(e)
	}
	busy := map[int]bool{}
	for _, p := range want {
		inUse, err := e.Host.TCPPortInUse(p)
		if err != nil {
			return nil, err
		}
		busy[p] = inUse
	}
	return busy, nil
}

// listening reads the TCP ports in LISTEN state from /proc/net/tcp{,6}:
// reading them changes nothing, where a trial bind would.
func listening(e *Env) (map[int]bool, error) {
	// Both files are read at once: on some kernels each read takes
	// milliseconds however few sockets there are.
	files := []string{"/proc/net/tcp", "/proc/net/tcp6"}
	data := make([][]byte, len(files))
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, p := range files {
		wg.Go(func() { data[i], errs[i] = e.Host.FS.ReadFile(p) })
	}
	wg.Wait()
	ports := map[int]bool{}
	found := false
	for i, b := range data {
		if notExist(errs[i]) {
			continue
		}
		if errs[i] != nil {
			return nil, errs[i]
		}
		found = true
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 4 || f[3] != "0A" { // 0A = TCP_LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(f[1], ":")
			if n, err := strconv.ParseUint(hexPort, 16, 16); ok && err == nil {
				ports[int(n)] = true
			}
		}
	}
	if !found {
		return nil, errNoProcNet
	}
	return ports, nil
}

var errNoProcNet = fmt.Errorf("no /proc/net/tcp under the root")

func checkPorts(_ context.Context, e *Env) Result {
	role := e.Config.Spec.Node.Role
	want := nodePorts(role)
	ports, err := busyPorts(e, want)
	if err != nil {
		return skip("cannot list listening ports: %v", err)
	}
	var busy []string
	for _, p := range want {
		if ports[p] {
			busy = append(busy, strconv.Itoa(p))
		}
	}
	list := joinInts(want)
	if len(busy) == 0 {
		return pass("ports %s are free (%s)", list, role)
	}
	if ok, _ := e.Host.FS.Exists(adminConf); ok || role == config.RoleWorker && e.existingKubelet() {
		return warn("eksd-kata reset removes the existing cluster", "ports %s are in use, by the cluster already on this host", strings.Join(busy, ", "))
	}
	return fail(fmt.Sprintf("stop what listens there (ss -ltnp 'sport = :%s')", busy[0]),
		"ports %s are in use; kubeadm needs %s free for a %s", strings.Join(busy, ", "), list, role)
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
