package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/containerd"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/version"
)

func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runAs(t, os.Geteuid(), stdin, args...)
}

// runAs is run with the effective user id euid.
func runAs(t *testing.T, euid int, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runWith(t, &globals{stdin: strings.NewReader(stdin), euid: func() int { return euid }}, args...)
}

// runFault is run with fault called at every fault point of the host.
func runFault(t *testing.T, fault func(point string), args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runWith(t, &globals{stdin: strings.NewReader(""), euid: os.Geteuid, fault: fault}, args...)
}

func runWith(t *testing.T, g *globals, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = execute(context.Background(), g, args, &out, &errb)
	return code, out.String(), errb.String()
}

// mainFault is Main with fault called at every fault point of the host,
// for a test binary run again as a child that is to die at one of them.
func mainFault(fault func(point string), args []string) int {
	return execute(context.Background(), &globals{stdin: strings.NewReader(""), euid: os.Geteuid, fault: fault}, args, os.Stdout, os.Stderr)
}

func TestHelpListsEveryVerb(t *testing.T) {
	code, out, _ := run(t, "", "--help")
	if code != ExitOK {
		t.Fatalf("--help exit %d", code)
	}
	for _, verb := range []string{"check", "bootstrap", "join", "reset", "status", "upgrade", "images", "config", "version", "completion"} {
		if !strings.Contains(out, "  "+verb+" ") {
			t.Errorf("--help does not list %q:\n%s", verb, out)
		}
	}
}

func TestConfigPrintValidatesThroughStdin(t *testing.T) {
	code, printed, stderr := run(t, "", "config", "print")
	if code != ExitOK {
		t.Fatalf("config print exit %d: %s", code, stderr)
	}
	if !strings.Contains(printed, "kind: NodeConfig") {
		t.Fatalf("config print:\n%s", printed)
	}
	code, out, stderr := run(t, printed, "config", "validate", "-f", "-")
	if code != ExitOK || !strings.Contains(out, "valid") {
		t.Fatalf("validate of printed defaults: exit %d\n%s%s", code, out, stderr)
	}
}

func TestConfigPrintAppliesFlags(t *testing.T) {
	code, out, stderr := run(t, "", "config", "print", "--pod-cidr", "10.32.0.0/16", "--hypervisors", "clh")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "podCIDR: 10.32.0.0/16") || !strings.Contains(out, "- clh") {
		t.Fatalf("flags not applied:\n%s", out)
	}
}

// TestBadInputExits2 covers the promise: bad input exits 2, names the
// problem, and changes nothing under --root.
func TestBadInputExits2(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	n := 0
	write := func(s string) string {
		n++
		bad := filepath.Join(tmp, fmt.Sprintf("bad%d.yaml", n))
		if err := os.WriteFile(bad, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return bad
	}
	head := "apiVersion: eksd-kata.io/v1alpha1\nkind: NodeConfig\n"
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown field", []string{"config", "validate", "-f", write(head + "spec: {colour: blue}\n")}, `spec.colour: unknown field`},
		{"bad cidr", []string{"config", "validate", "-f", write(head + "spec: {network: {podCIDR: 10.0.0.0/33}}\n")}, `spec.network.podCIDR: Invalid value: "10.0.0.0/33": is not a CIDR`},
		{"unknown hypervisor", []string{"config", "validate", "-f", write(head + "spec: {kata: {hypervisors: [vmware]}}\n")}, `spec.kata.hypervisors[0]`},
		{"missing release", []string{"config", "validate", "-f", write(head + "spec: {release: {channel: \"1-99\"}}\n")}, `spec.release`},
		{"missing file", []string{"config", "validate", "-f", "/nonexistent/node.yaml"}, `/nonexistent/node.yaml`},
		{"validate without file", []string{"config", "validate"}, `-f FILE`},
		{"unknown verb", []string{"frobnicate"}, `unknown command`},
		{"unknown flag", []string{"check", "--frob"}, `unknown flag`},
		{"extra argument", []string{"version", "now"}, `unknown command "now"`},
		{"bad log format", []string{"--log-format", "xml", "version"}, `--log-format`},
		{"bad output format", []string{"version", "--releases", "-o", "yaml"}, `-o/--output: "yaml"`},
		{"root missing", []string{"--root", "/nonexistent-root", "check"}, `--root /nonexistent-root`},
		{"root is a file", []string{"--root", "/etc/hostname", "check"}, `not a directory`},
		{"bad flag value", []string{"--root", root, "bootstrap", "--pod-cidr", "300.0.0.0/8"}, `spec.network.podCIDR`},
		{"bad release flag", []string{"--root", root, "check", "--release", "1.36"}, `--release`},
		{"bad config under root", []string{"--root", root, "bootstrap", "--config", write(head + "spec: {node: {role: master}}\n")}, `spec.node.role`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := hosttest.HashTree(t, root)
			code, _, stderr := run(t, "", tc.args...)
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, ExitUsage, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Fatalf("stderr does not name the problem %q:\n%s", tc.want, stderr)
			}
			if after := hosttest.HashTree(t, root); after != before {
				t.Fatalf("the root changed")
			}
		})
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "", "version")
	if code != ExitOK || !strings.Contains(out, "eksd-kata ") || !strings.Contains(out, "1-36-7") {
		t.Fatalf("version: exit %d\n%s", code, out)
	}
}

// releaseJSON is one release as scripts read it: decoded from JSON into
// plain maps, so the keys are compared exactly.
func releaseJSON(r *eksd.Release) map[string]any {
	return map[string]any{"channel": r.Channel(), "number": float64(r.Number()), "kubernetesVersion": r.KubernetesVersion()}
}

func decodeJSON(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
}

func TestVersionJSON(t *testing.T) {
	code, out, stderr := run(t, "", "version", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got map[string]any
	decodeJSON(t, out, &got)
	want := map[string]any{
		"version":        version.Version,
		"commit":         version.Commit,
		"go":             runtime.Version(),
		"platform":       runtime.GOOS + "/" + runtime.GOARCH,
		"defaultRelease": releaseJSON(eksd.Default()),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("version -o json:\n got %v\nwant %v", got, want)
	}
}

// TestVersionReleases: every embedded release is listed with its
// Kubernetes version and the containerd it needs, and only the default is
// marked, in JSON and in the table.
func TestVersionReleases(t *testing.T) {
	code, out, stderr := run(t, "", "version", "--releases", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var list []map[string]any
	decodeJSON(t, out, &list)
	embedded := eksd.Embedded()
	if len(list) != len(embedded) {
		t.Fatalf("%d releases listed, %d embedded", len(list), len(embedded))
	}
	d := eksd.Default()
	for i, r := range embedded {
		want := releaseJSON(r)
		want["default"] = r.Channel() == d.Channel() && r.Number() == d.Number()
		var mins []any
		for _, m := range containerd.MinimumVersions(eksd.ChannelMinor(r.Channel())) {
			mins = append(mins, m)
		}
		want["minimumContainerd"] = mins
		if !reflect.DeepEqual(list[i], want) {
			t.Errorf("release %d:\n got %v\nwant %v", i, list[i], want)
		}
	}
	// Kubernetes 1.36 wants containerd 2.2 or newer (FACTS.md).
	if last := list[len(list)-1]; last["channel"] != "1-36" || !reflect.DeepEqual(last["minimumContainerd"], []any{"2.2.0"}) {
		t.Errorf("1-36: %v", last)
	}

	code, out, stderr = run(t, "", "version", "--releases")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(embedded)+1 || !strings.HasPrefix(lines[0], "DEFAULT") {
		t.Fatalf("want a header and %d rows:\n%s", len(embedded), out)
	}
	for i, r := range embedded {
		row := strings.Fields(lines[i+1])
		marked := row[0] == "*"
		if marked {
			row = row[1:]
		}
		if want := []string{r.Channel(), strconv.Itoa(r.Number()), r.KubernetesVersion()}; !slices.Equal(row[:3], want) {
			t.Errorf("row %q, want it to start with %q", lines[i+1], want)
		}
		if isDefault := r.Channel() == d.Channel() && r.Number() == d.Number(); marked != isDefault {
			t.Errorf("row %q: marked %v, default %v", lines[i+1], marked, isDefault)
		}
	}
}

func TestConfigRenderKubeadm(t *testing.T) {
	code, out, stderr := run(t, "", "--root", t.TempDir(), "config", "render", "kubeadm",
		"--node-name", "node-a", "--advertise-address", "192.0.2.7", "--release", "1-35", "--cgroup-driver", "systemd")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"kind: InitConfiguration", "kubernetesVersion: v1.35.6-eks-1-35-13", "advertiseAddress: 192.0.2.7", "name: node-a", "cgroupDriver: systemd"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	// Under --root nothing detects the advertise address: say which field to set.
	code, _, stderr = run(t, "", "--root", t.TempDir(), "config", "render", "kubeadm", "--node-name", "n")
	if code != ExitUsage || !strings.Contains(stderr, "advertiseAddress") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}
