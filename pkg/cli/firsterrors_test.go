package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
)

// TestNotRootIsRefusedFirst: the verbs that change the host refuse a user
// who is not root in one line before anything else (here before reading
// --config, which does not exist), unless they work under --root DIR; the
// verbs that only read run.
func TestNotRootIsRefusedFirst(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	for _, verb := range []string{"bootstrap", "join", "reset"} {
		code, out, stderr := runAs(t, 1000, "", verb, "--config", missing)
		if want := "error: eksd-kata " + verb + " must run as root (sudo)\n"; code != ExitUsage || stderr != want || out != "" {
			t.Errorf("%s as uid 1000: exit %d, stdout %q, stderr %q; want exit 2 and %q alone", verb, code, out, stderr, want)
		}
		// Root gets as far as the configuration.
		if code, _, stderr := runAs(t, 0, "", verb, "--config", missing); code != ExitUsage || !strings.Contains(stderr, "missing.yaml") {
			t.Errorf("%s as root: exit %d, stderr %q; want the missing file named", verb, code, stderr)
		}
	}
	code, _, stderr := runAs(t, 1000, "", "--root", t.TempDir(), "bootstrap", "--config", missing)
	if code != ExitUsage || !strings.Contains(stderr, "missing.yaml") || strings.Contains(stderr, "root (sudo)") {
		t.Errorf("bootstrap --root DIR as uid 1000: exit %d, stderr %q; want the missing file named, no root check", code, stderr)
	}
	if code, _, stderr := runAs(t, 1000, "", "config", "print"); code != ExitOK {
		t.Errorf("config print as uid 1000: exit %d: %s", code, stderr)
	}
}

// TestConfigValidateListsEveryProblem: unknown fields, each with the field
// meant, and the problems of the known fields, all in one run.
func TestConfigValidateListsEveryProblem(t *testing.T) {
	file := filepath.Join(t.TempDir(), "node.yaml")
	yaml := "apiVersion: eksd-kata.io/v1alpha1\nkind: NodeConfig\nspec:\n  network: {podCidr: 10.0.0.0/16}\n  node: {rolee: worker, cgroupDriver: cgroupv2}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "", "config", "validate", "-f", file)
	want := "error: " + file + ": spec.network.podCidr: unknown field, did you mean podCIDR?\n" +
		file + ": spec.node.rolee: unknown field, did you mean role?\n" +
		file + `: spec.node.cgroupDriver: Unsupported value: "cgroupv2": supported values: "systemd", "cgroupfs"` + "\n"
	if code != ExitUsage || stderr != want {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit 2 and:\n%s", code, stderr, want)
	}
}

// TestJoinMissingEverythingOneLineEach: a bare join names the token, the
// hash and the endpoint, each on its own line.
func TestJoinMissingEverythingOneLineEach(t *testing.T) {
	root := t.TempDir()
	before := hosttest.HashTree(t, root)
	code, _, stderr := run(t, "", "--root", root, "join")
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	want := []string{"error: --token (spec.join.token): Required value", "--discovery-token-ca-cert-hash (spec.join.discoveryTokenCACertHash): Required value", "--control-plane-endpoint (spec.join.controlPlaneEndpoint): Required value"}
	if code != ExitUsage || len(lines) != len(want) {
		t.Fatalf("exit %d, want 2 and %d lines:\n%s", code, len(want), stderr)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d is %q, want it to start %q", i+1, lines[i], w)
		}
	}
	if hosttest.HashTree(t, root) != before {
		t.Fatal("the root changed")
	}
}

func TestImagesImportNamesItsArgument(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "error: images import: name the image archive: eksd-kata images import FILE\n"},
		{[]string{"a.tar", "b.tar"}, "error: images import: takes one image archive, not 2: eksd-kata images import FILE\n"},
	} {
		code, _, stderr := run(t, "", append([]string{"images", "import"}, tc.args...)...)
		if code != ExitUsage || stderr != tc.want {
			t.Errorf("images import %v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestMisspeltFlagsAndVerbsSuggest: an unknown flag or verb exits 2 with
// the one meant, at the top and below it.
func TestMisspeltFlagsAndVerbsSuggest(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bootstrap", "--dryrun"}, "error: unknown flag: --dryrun (did you mean --dry-run?)\n"},
		{[]string{"bootstrap", "--confg", "x"}, "error: unknown flag: --confg (did you mean --config?)\n"}, // a global flag
		{[]string{"bootstrap", "--frobnicate"}, "error: unknown flag: --frobnicate\n"},
		{[]string{"bootstap"}, "error: unknown command \"bootstap\" for \"eksd-kata\"\n\nDid you mean this?\n\tbootstrap\n\n"},
		{[]string{"images", "lst"}, "error: unknown command \"lst\" for \"eksd-kata images\"\n\nDid you mean this?\n\tlist\n\n"},
	} {
		code, out, stderr := run(t, "", append([]string{"--root", root}, tc.args...)...)
		if code != ExitUsage || stderr != tc.want {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want 2 and %q", tc.args, code, stderr, out, tc.want)
		}
	}
}

// TestBootstrapWorkerSaysJoin: bootstrap makes a control plane, so a
// worker role (flag or file) is sent to join with nothing changed; join's
// preparation steps alone may still run for a worker.
func TestBootstrapWorkerSaysJoin(t *testing.T) {
	file := filepath.Join(t.TempDir(), "worker.yaml")
	if err := os.WriteFile(file, []byte("apiVersion: eksd-kata.io/v1alpha1\nkind: NodeConfig\nspec:\n  node: {role: worker}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	hosttest.WriteTree(t, root, map[string]string{"/etc/fstab": "/dev/sda2 none swap sw 0 0\n"})
	before := hosttest.HashTree(t, root)
	steps := []string{"--only", "host,containerd,kubeadm", "--containerd-version", "2.4.2"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--role", "worker"}, "--role worker: a worker joins a cluster: use eksd-kata join ENDPOINT --token … --discovery-token-ca-cert-hash …"},
		{[]string{"--config", file}, "spec.node.role: worker: a worker joins a cluster"},
	} {
		args := append(append([]string{"--root", root, "bootstrap"}, steps...), tc.args...)
		code, out, stderr := run(t, "", args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want 2 and %q:\n%s%s", tc.args, code, tc.want, out, stderr)
		}
		if hosttest.HashTree(t, root) != before {
			t.Fatalf("%v changed the root", tc.args)
		}
	}
	code, out, stderr := run(t, "", "--root", root, "bootstrap", "--role", "worker", "--only", "host,containerd", "--containerd-version", "2.4.2", "--dry-run")
	if code != ExitOK {
		t.Fatalf("a worker's preparation steps: exit %d\n%s%s", code, out, stderr)
	}
}
