package preflight

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/cniplugins"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
)

var hostChecks = []Check{
	{"host.privileges", HostCategory, checkPrivileges},
	{"host.os", HostCategory, checkOS},
	{"host.cgroup", HostCategory, checkCgroup},
	{"host.cpus", HostCategory, checkCPUs},
	{"host.memory", HostCategory, checkMemory},
	{"host.swap", HostCategory, checkSwap},
	{"host.selinux", HostCategory, checkSELinux},
	{"host.br_netfilter", HostCategory, checkBrNetfilter},
	{"host.bridge_nf_call_iptables", HostCategory, checkBridgeNF},
	{"host.ip_forward", HostCategory, checkIPForward},
	{"host.tools", HostCategory, checkTools},
	{"host.cni_plugins", HostCategory, checkCNIPlugins},
	{"host.hostname", HostCategory, checkHostname},
	{"host.ports", HostCategory, checkPorts},
}

func checkPrivileges(_ context.Context, e *Env) Result {
	switch {
	case !e.Host.IsLive():
		return skip("--root %s is not the running system: live probes (/dev/kvm, containerd socket, versions) are skipped", e.Host.Root())
	case !e.Root:
		return warn("run eksd-kata check as root for the complete picture; bootstrap must run as root",
			"not running as root: checks that need root are skipped")
	}
	return pass("running as root")
}

// minKernel is the oldest kernel line Kubernetes still supports (kubeadm's
// system validation warns below it).
const minKernelMajor, minKernelMinor = 4, 19

func checkOS(_ context.Context, e *Env) Result {
	osName := ""
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		if b, err := e.Host.FS.ReadText(p); err == nil {
			osName = osRelease(b)
			break
		}
	}
	kernel, err := e.Host.KernelRelease()
	if err != nil {
		if osName == "" {
			return skip("neither /etc/os-release nor /proc/sys/kernel/osrelease is readable")
		}
		return pass("%s (kernel unknown: no /proc under the root)", osName)
	}
	if osName == "" {
		osName = "unknown OS"
	}
	if major, minor, ok := kernelVersion(kernel); ok && (major < minKernelMajor || major == minKernelMajor && minor < minKernelMinor) {
		return warn("upgrade to a kernel 5.x or newer (cgroup v2 wants 5.8+)", "%s, kernel %s: older than %d.%d, which Kubernetes no longer supports", osName, kernel, minKernelMajor, minKernelMinor)
	}
	return pass("%s, kernel %s", osName, kernel)
}

// osRelease returns PRETTY_NAME (or NAME VERSION_ID) of an os-release file.
func osRelease(b []byte) string {
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok {
			kv[k] = strings.Trim(v, `"'`)
		}
	}
	if kv["PRETTY_NAME"] != "" {
		return kv["PRETTY_NAME"]
	}
	return strings.TrimSpace(kv["NAME"] + " " + kv["VERSION_ID"])
}

// kernelVersion reads major and minor of a release such as "6.18.44-fc-v782".
func kernelVersion(release string) (major, minor int, ok bool) {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	return major, minor, err1 == nil && err2 == nil
}

func checkCgroup(_ context.Context, e *Env) Result {
	exists := func(p string) bool { ok, _ := e.Host.FS.Exists(p); return ok }
	var mode string
	switch {
	case exists("/sys/fs/cgroup/cgroup.controllers"):
		return pass("cgroup v2 (unified)")
	case exists("/sys/fs/cgroup/unified/cgroup.controllers"):
		mode = "cgroup v1 (hybrid: v2 mounted at /sys/fs/cgroup/unified)"
	case exists("/sys/fs/cgroup/memory") || exists("/sys/fs/cgroup/cpu"):
		mode = "cgroup v1"
	default:
		return skip("no cgroup file system under /sys/fs/cgroup")
	}
	remedy := "boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2)"
	ch := e.channel()
	if eksd.ChannelMinor(ch) >= 35 && e.Config.Spec.Node.AllowCgroupV1 {
		return warn(remedy, "%s: allowed by spec.node.allowCgroupV1 (kubelet failCgroupV1: false); Kubernetes keeps cgroup v1 in maintenance mode only", mode)
	}
	if eksd.ChannelMinor(ch) >= 35 {
		return fail(remedy+", or allow it with --allow-cgroup-v1 (spec.node.allowCgroupV1: kubelet failCgroupV1: false)",
			"%s: the kubelet of Kubernetes 1.35+ (EKS-D %s) refuses to start on cgroup v1 by default (failCgroupV1, KEP-5573)", mode, ch)
	}
	return warn(remedy, "%s: Kubernetes keeps cgroup v1 in maintenance mode and its kubelet refuses it from 1.35", mode)
}

func checkCPUs(_ context.Context, e *Env) Result {
	ci, err := e.cpuInfo()
	if err != nil {
		return skip("cannot read /proc/cpuinfo: %v", err)
	}
	if ci.Count >= 2 {
		return pass("%d CPUs", ci.Count)
	}
	if e.Config.Spec.Node.Role == config.RoleControlPlane {
		return fail("give the machine at least 2 CPUs", "%d CPU: kubeadm init needs at least 2", ci.Count)
	}
	return warn("give the machine at least 2 CPUs: every Kata VM takes one", "%d CPU", ci.Count)
}

// Memory minimums: kubeadm refuses a control plane below 1700 MB; a Kata VM
// reserves default_memory (2048 MiB in Kata's shipped configurations).
const (
	kubeadmMinMemMiB = 1700
	kataMinMemMiB    = 2048
)

func checkMemory(_ context.Context, e *Env) Result {
	b, err := e.Host.FS.ReadFile("/proc/meminfo")
	if err != nil {
		return skip("cannot read /proc/meminfo: %v", err)
	}
	kib, ok := meminfo(b, "MemTotal")
	if !ok {
		return skip("/proc/meminfo has no MemTotal")
	}
	mib := kib / 1024
	switch {
	case mib < kubeadmMinMemMiB && e.Config.Spec.Node.Role == config.RoleControlPlane:
		return fail("give the machine at least 2 GiB of memory", "%d MiB of memory: kubeadm init needs %d MB", mib, kubeadmMinMemMiB)
	case mib < kataMinMemMiB:
		return warn("give the machine at least 2 GiB of memory, more for several Kata pods",
			"%d MiB of memory: less than one Kata VM's default_memory (%d MiB)", mib, kataMinMemMiB)
	}
	return pass("%d MiB of memory", mib)
}

func meminfo(b []byte, key string) (int64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != key {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		return n, err == nil
	}
	return 0, false
}

func checkSwap(_ context.Context, e *Env) Result {
	swaps, err := e.Host.Swaps()
	if notExist(err) {
		return skip("no /proc/swaps under the root")
	}
	if err != nil {
		return skip("cannot read swaps: %v", err)
	}
	if len(swaps) == 0 {
		return pass("swap is off")
	}
	var total int64
	paths := make([]string, len(swaps))
	for i, s := range swaps {
		total += s.SizeKiB
		paths[i] = s.Path
	}
	return fixable("bootstrap turns swap off and comments it out of /etc/fstab",
		"swap is on (%s, %d MiB): the kubelet refuses to start with swap by default", strings.Join(paths, ", "), total/1024)
}

func checkSELinux(_ context.Context, e *Env) Result {
	mode, err := e.Host.SELinux()
	if err != nil {
		return skip("cannot read the SELinux mode: %v", err)
	}
	if mode == host.SELinuxEnforcing {
		return fixable("bootstrap sets SELinux to permissive (now and in /etc/selinux/config)",
			"SELinux is enforcing: kubeadm's static pods and Kata's shim need it permissive")
	}
	return pass("SELinux is %s", mode)
}

func checkBrNetfilter(_ context.Context, e *Env) Result {
	st, err := e.Host.Module("br_netfilter")
	if err != nil {
		return skip("cannot tell whether br_netfilter is available: %v", err)
	}
	switch st {
	case host.ModuleMissing:
		return fail(moduleRemedy(e, "br_netfilter", "BRIDGE_NETFILTER"),
			"br_netfilter is missing: bridged pod traffic would bypass iptables (Services break)")
	case host.ModuleLoadable:
		return fixable("bootstrap loads br_netfilter and lists it in /etc/modules-load.d", "br_netfilter is loadable but not loaded")
	}
	return pass("br_netfilter is %s", st)
}

// sysctlOne checks that a sysctl is 1; bootstrap sets it when it is not.
func sysctlOne(e *Env, key, why string) Result {
	v, err := e.Host.Sysctl(key)
	if err != nil && !notExist(err) {
		return skip("cannot read %s: %v", key, err)
	}
	if v == "1" {
		return pass("%s = 1", key)
	}
	if v == "" {
		v = "absent"
	}
	return fixable("bootstrap sets "+key+" = 1 (now and in /etc/sysctl.d)", "%s is %s: %s", key, v, why)
}

func checkBridgeNF(_ context.Context, e *Env) Result {
	return sysctlOne(e, "net.bridge.bridge-nf-call-iptables", "kube-proxy and CNI plugins need bridged traffic to pass iptables")
}

func checkIPForward(_ context.Context, e *Env) Result {
	return sysctlOne(e, "net.ipv4.ip_forward", "pods cannot reach beyond the node without IP forwarding")
}

func checkTools(_ context.Context, e *Env) Result {
	look := func(names ...string) bool {
		for _, n := range names {
			if _, err := e.Host.FS.LookPath(n); err == nil {
				return true
			}
		}
		return false
	}
	// kubeadm's preflight: conntrack became optional in 1.32.
	required := [][]string{{"ip"}, {"iptables", "nft"}, {"mount"}, {"nsenter"}}
	optional := [][]string{{"socat"}, {"tc"}, {"ethtool"}, {"ebtables"}}
	if eksd.ChannelMinor(e.channel()) < 32 {
		required = append(required, []string{"conntrack"})
	} else {
		optional = append([][]string{{"conntrack"}}, optional...)
	}
	var missReq, missOpt []string
	for _, alts := range required {
		if !look(alts...) {
			missReq = append(missReq, strings.Join(alts, " or "))
		}
	}
	for _, alts := range optional {
		if !look(alts...) {
			missOpt = append(missOpt, strings.Join(alts, " or "))
		}
	}
	install := "install them: apt-get install iproute2 iptables mount util-linux conntrack socat ethtool ebtables (dnf: iproute iptables-nft conntrack-tools socat ethtool ebtables)"
	switch {
	case len(missReq) > 0:
		return fail(install, "kubeadm needs %s, not found in PATH%s", strings.Join(missReq, ", "), label("; also missing (optional): ", strings.Join(missOpt, ", ")))
	case len(missOpt) > 0:
		return warn(install, "optional tools missing: %s (kubeadm warns; port-forward needs socat)", strings.Join(missOpt, ", "))
	}
	return pass("all tools kubeadm uses are in PATH")
}

// checkCNIPlugins: a control plane given no CNI manifest gets the bridge
// pod network the addons step writes, which runs these plugins; without
// them the node never gets Ready. A manifest brings its own network, and a
// joining node takes the cluster's.
func checkCNIPlugins(_ context.Context, e *Env) Result {
	if e.Config.Spec.Addons.CNIManifest != "" || e.Config.Spec.Node.Role != config.RoleControlPlane {
		return skip("the pod network is not eksd-kata's bridge: it comes from a CNI manifest or the cluster")
	}
	var missing []string
	for _, p := range cniplugins.BridgePlugins {
		if ok, err := e.Host.FS.Exists(cniplugins.Dir + "/" + p); err != nil || !ok {
			missing = append(missing, p)
		}
	}
	switch {
	case len(missing) == 0:
		return pass("the CNI plugins of the bridge pod network are in %s", cniplugins.Dir)
	case e.InstallCNIPlugins && cniplugins.Ships(e.release(), runtime.GOARCH):
		return fixable("the cni step of bootstrap and join installs them",
			"the CNI plugins %s of the bridge pod network are not in %s yet: they come with the EKS-D release", strings.Join(missing, ", "), cniplugins.Dir)
	}
	return warn("install the CNI plugins into /opt/cni/bin (Debian and Ubuntu: apt-get install containernetworking-plugins, which puts them in /usr/lib/cni: link that to /opt/cni/bin), or give a CNI manifest with --cni-manifest",
		"the bridge pod network eksd-kata writes without a CNI manifest needs the CNI plugins %s in /opt/cni/bin: without them the node stays NotReady", strings.Join(missing, ", "))
}

// String lists results compactly, for test failures.
func (r Result) String() string {
	return fmt.Sprintf("%s=%s (%s)", r.ID, r.Status, r.Message)
}
