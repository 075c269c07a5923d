package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
)

func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runAs(t, os.Geteuid(), stdin, args...)
}

// runAs is run with the effective user id euid.
func runAs(t *testing.T, euid int, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	g := &globals{stdin: strings.NewReader(stdin), euid: func() int { return euid }}
	code = execute(context.Background(), newRoot(g, &out, &errb), args, &errb)
	return code, out.String(), errb.String()
}

func TestHelpListsEveryVerb(t *testing.T) {
	code, out, _ := run(t, "", "--help")
	if code != ExitOK {
		t.Fatalf("--help exit %d", code)
	}
	for _, verb := range []string{"check", "bootstrap", "join", "reset", "images", "config", "version", "completion"} {
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
