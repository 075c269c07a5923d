package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/preflight/preflighttest"
)

// summaryLine returns the summary line that starts with what ("would
// change", "already right", …), or "".
func summaryLine(out, what string) string {
	m := regexp.MustCompile(`(?m)^  ` + what + `: (.*)$`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1]
}

func containsAll(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, text)
		}
	}
}

// TestDryRunTellsEveryBlocker: on an empty root with a containerd too old
// for the default release, the dry run lists the failed preflight checks
// and the containerd blocker with their remedies, still plans the steps
// after them, exits 1 and changes nothing.
func TestDryRunTellsEveryBlocker(t *testing.T) {
	root := t.TempDir()
	before := hosttest.HashTree(t, root)
	code, out, stderr := run(t, "", "--root", root, "bootstrap", "--dry-run", "--containerd-version", "1.6.20")
	if code != ExitFailure {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, stderr)
	}
	if hosttest.HashTree(t, root) != before {
		t.Fatal("the dry run changed the root")
	}
	_, blockers, ok := strings.Cut(out, "\nblockers: a real run would stop here\n")
	if !ok {
		t.Fatalf("no blockers heading:\n%s", out)
	}
	containsAll(t, "blockers", blockers,
		"  ✗ preflight: host.hostname: no host name",
		"    → set a host name",
		"  ✗ runtime: containerd 1.6.20 is too old for Kubernetes 1.36",
		"    → pass --install-containerd 2.3.4 to install containerd 2.3.4 from its release in /usr/local/bin in its place",
		"  ✗ containerd: containerd 1.6.20 is too old for Kubernetes 1.36",
		"    → upgrade containerd (--install-containerd VERSION installs one from its release), or choose an older EKS-D release with --release")
	// The steps after the blocked ones are planned all the same.
	containsAll(t, "output", out,
		"[1/12] preflight: blocked by",
		"[3/12] runtime: blocked by 1 problem(s)",
		"[4/12] containerd: blocked by 1 problem(s)",
		"+++ b/etc/sysctl.d/99-eksd-kata.conf",
		"+ install /usr/local/bin/kubeadm from ")
	if got := summaryLine(out, "would change"); !strings.Contains(got, "host (2)") || !strings.Contains(got, "binaries (") {
		t.Errorf("would change: %q\n%s", got, out)
	}
	if got := summaryLine(out, "blocked"); got != "preflight, runtime, containerd" {
		t.Errorf("blocked: %q, want preflight, runtime, containerd", got)
	}
	if got := summaryLine(out, "not complete"); got != "kata" {
		t.Errorf("not complete: %q, want kata (not installed)", got)
	}
	right := summaryLine(out, "already right")
	for _, step := range []string{"preflight", "runtime", "containerd", "kata"} {
		if strings.Contains(right, step) {
			t.Errorf("already right lists %s: %q", step, right)
		}
	}
	if summaryLine(out, "changed") != "" {
		t.Errorf("a dry run says what changed:\n%s", out)
	}
	if !strings.Contains(stderr, "a real run would stop at step preflight") || strings.Contains(stderr, "run the same command again") {
		t.Errorf("stderr: %s", stderr)
	}
}

// TestDryRunWithoutContainerdVersionUnderRoot: over a root with a
// containerd of its own, the missing flag, bad input for a real run, is a
// blocker of a dry run, which plans on.
func TestDryRunWithoutContainerdVersionUnderRoot(t *testing.T) {
	root := t.TempDir()
	hosttest.WriteTree(t, root, map[string]string{"/usr/bin/containerd": "#!/bin/sh\n", "/usr/sbin/runc": "#!/bin/sh\n"})
	for _, p := range []string{"usr/bin/containerd", "usr/sbin/runc"} {
		if err := os.Chmod(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	code, out, stderr := run(t, "", "--root", root, "bootstrap", "--dry-run", "--ignore", "all")
	if code != ExitFailure || !strings.Contains(out, "  ✗ containerd: under --root the installed containerd cannot be asked for its version\n    → pass --containerd-version") {
		t.Fatalf("exit %d, want 1 with the blocker\n%s%s", code, out, stderr)
	}
	if !strings.Contains(out, "[7/12] binaries: 5 change(s) planned") {
		t.Errorf("the steps after containerd are not planned:\n%s", out)
	}
	// (--skip binaries,cni: a real run would fetch the published manifest.)
	code, _, stderr = run(t, "", "--root", root, "bootstrap", "--ignore", "all", "--skip", "binaries,cni")
	if code != ExitUsage || !strings.Contains(stderr, "--containerd-version") {
		t.Fatalf("real run: exit %d, want 2\n%s", code, stderr)
	}
}

// TestDryRunNothingBlocks: a root whose preflight passes, with a containerd
// the release supports, plans with exit 0 and says what would change.
func TestDryRunNothingBlocks(t *testing.T) {
	root, _ := preflighttest.Build(t, "selinux-swap.txtar")
	before := hosttest.HashTree(t, root)
	code, out, stderr := run(t, "", "--root", root, "bootstrap", "--dry-run", "--containerd-version", "2.4.2",
		"--node-name", "node-1", "--advertise-address", "192.0.2.10")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	if got := summaryLine(out, "would change"); !strings.Contains(got, "containerd (1)") {
		t.Errorf("would change: %q\n%s", got, out)
	}
	if strings.Contains(out, "blockers:") || summaryLine(out, "blocked") != "" || summaryLine(out, "changed") != "" {
		t.Errorf("output:\n%s", out)
	}
	if hosttest.HashTree(t, root) != before {
		t.Fatal("the dry run changed the root")
	}
}

// TestRealRunStopsAtTheFirstBlocker: without --dry-run nothing is planned
// past the failed preflight, and the user is told how to go on.
func TestRealRunStopsAtTheFirstBlocker(t *testing.T) {
	root := t.TempDir()
	before := hosttest.HashTree(t, root)
	code, out, stderr := run(t, "", "--root", root, "bootstrap", "--containerd-version", "1.6.20", "--skip", "binaries,cni")
	if code != ExitFailure || !strings.Contains(stderr, "error: step preflight: ") || !strings.Contains(stderr, "preflight check(s) failed:\n  ✗ ") {
		t.Fatalf("exit %d, want 1 at preflight\n%s%s", code, out, stderr)
	}
	if !strings.Contains(stderr, "run the same command again") || strings.Contains(out, "blockers:") || strings.Contains(out, "[2/") {
		t.Errorf("output:\n%s%s", out, stderr)
	}
	if hosttest.HashTree(t, root) != before {
		t.Fatal("a blocked run changed the root")
	}
}
