package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
)

// TestLockChild is not a test: TestConcurrentBootstrapIsRefused runs the
// test binary again with this alone, as the first of two bootstraps; it
// pauses inside its run until told to go on.
func TestLockChild(t *testing.T) {
	dir := os.Getenv("EKSD_KATA_LOCK_DIR")
	if dir == "" {
		return
	}
	at := os.Getenv("EKSD_KATA_LOCK_AT")
	if at == "" {
		at = "step-start host"
	}
	fault := func(point string) {
		if point != at {
			return
		}
		os.WriteFile(filepath.Join(dir, "running"), nil, 0o644)
		for i := 0; i < 300; i++ {
			if _, err := os.Stat(filepath.Join(dir, "go-on")); err == nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	args := strings.Split(os.Getenv("EKSD_KATA_LOCK_ARGS"), "\n")
	os.Exit(mainFault(fault, args))
}

// TestConcurrentBootstrapIsRefused: while one bootstrap runs, a second on
// the same host is refused by the lock (and changes nothing); the first
// then finishes.
func TestConcurrentBootstrapIsRefused(t *testing.T) {
	root := t.TempDir()
	hosttest.WriteTree(t, root, map[string]string{"/etc/fstab": "/dev/sda2 none swap sw 0 0\n"})
	args := []string{"--root", root, "bootstrap", "--only", "host,containerd", "--containerd-version", "2.4.2"}
	first, out, goOn := pausedRun(t, args, "")
	refusedMeanwhile(t, root, args)
	goOn()
	if err := first.Wait(); err != nil {
		t.Fatalf("first bootstrap: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "bootstrap: 4 change(s) applied") {
		t.Fatalf("first bootstrap output:\n%s", out.String())
	}
}

// TestConcurrentUpgradeIsRefused: while an upgrade runs, a bootstrap, a
// reset and another upgrade of the same host are refused by the lock.
func TestConcurrentUpgradeIsRefused(t *testing.T) {
	b35, b36 := releaseBundle(t, "1-35"), releaseBundle(t, "1-36")
	root := upgradeNode(t, b35, "2.4.2")
	first, out, goOn := pausedRun(t, upgradeArgs(root, b36), "step-start kubeadm-binary")
	refusedMeanwhile(t, root, upgradeArgs(root, b36), []string{"--root", root, "bootstrap", "--only", "host", "--containerd-version", "2.4.2"},
		[]string{"--root", root, "reset"})
	goOn()
	if err := first.Wait(); err != nil || !strings.Contains(out.String(), "upgrade: ") {
		t.Fatalf("first upgrade: %v\n%s", err, out.String())
	}
}

// pausedRun starts eksd-kata args in a child that pauses at fault point
// at ("": the host step's start) until goOn is called.
func pausedRun(t *testing.T, args []string, at string) (child *exec.Cmd, out *strings.Builder, goOn func()) {
	t.Helper()
	dir := t.TempDir()
	first := exec.Command(os.Args[0], "-test.run=^TestLockChild$", "-test.count=1")
	first.Env = append(os.Environ(), "EKSD_KATA_LOCK_DIR="+dir, "EKSD_KATA_LOCK_ARGS="+strings.Join(args, "\n"), "EKSD_KATA_LOCK_AT="+at)
	out = &strings.Builder{}
	first.Stdout, first.Stderr = out, out
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "running")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			first.Process.Kill()
			t.Fatalf("the first run never paused:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return first, out, func() { os.WriteFile(filepath.Join(dir, "go-on"), nil, 0o644) }
}

// refusedMeanwhile runs each command line and wants it refused by the
// lock, with root unchanged.
func refusedMeanwhile(t *testing.T, root string, lines ...[]string) {
	t.Helper()
	for _, args := range lines {
		before := hosttest.HashTree(t, root)
		code, _, stderr := run(t, "", args...)
		if code != ExitFailure || !strings.Contains(stderr, "another eksd-kata is running") {
			t.Errorf("%q: exit %d, stderr %q; want exit 1 refused by the lock", args, code, stderr)
		}
		if hosttest.HashTree(t, root) != before {
			t.Errorf("%q, refused, changed the root", args)
		}
	}
}

// TestLockLeavesNoTraceUnderRoot: under --root the lock writes nothing in
// the tree, so a converged re-run leaves it byte for byte as it was, and
// reset returns exactly the tree bootstrap started from, /run included.
func TestLockLeavesNoTraceUnderRoot(t *testing.T) {
	root := foundHost(t)
	before := hosttest.HashTree(t, root)
	mustRun(t, bootstrapArgs(root)...)
	bootstrapped := hosttest.HashTree(t, root)
	mustRun(t, bootstrapArgs(root)...)
	if hosttest.HashTree(t, root) != bootstrapped {
		t.Error("a converged re-run changed the tree")
	}
	if _, err := os.Lstat(filepath.Join(root, "run")); !os.IsNotExist(err) {
		t.Errorf("the lock left %s/run: %v", root, err)
	}
	mustRun(t, "--root", root, "reset")
	if hosttest.HashTree(t, root) != before {
		t.Error("reset did not return the tree bootstrap started from")
	}
}
