package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
)

// foundHost is a host as found, before any bootstrap.
func foundHost(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	hosttest.WriteTree(t, root, map[string]string{
		"/etc/fstab":                  "UUID=1 / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n",
		"/etc/selinux/config":         "SELINUX=enforcing\nSELINUXTYPE=targeted\n",
		"/etc/containerd/config.toml": "# Docker Engine\ndisabled_plugins = [\"cri\"]\n",
	})
	// Every host has /var/lib: the parents of the state directory are not
	// recorded as created, so reset would leave them.
	if err := os.MkdirAll(filepath.Join(root, "var/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// bootstrapArgs bootstraps what changes files under root.
func bootstrapArgs(root string) []string {
	return []string{"--root", root, "bootstrap", "--only", "host,containerd", "--containerd-version", "2.4.2"}
}

func mustRun(t *testing.T, args ...string) {
	t.Helper()
	if code, out, stderr := run(t, "", args...); code != ExitOK {
		t.Fatalf("%s: exit %d\n%s%s", strings.Join(args, " "), code, out, stderr)
	}
}

// TestResetRefusesUntrustedState: with a symlink in eksd-kata's own state,
// reset stops before changing anything (exit 2, the path named), and
// everything in the root, and what the symlink points to, stays.
func TestResetRefusesUntrustedState(t *testing.T) {
	const bdir = "var/lib/eksd-kata/backup"
	for name, tc := range map[string]struct {
		swap func(t *testing.T, root, outside string)
		path string
	}{
		"files is a symlink to /": {func(t *testing.T, root, _ string) {
			swapForSymlink(t, filepath.Join(root, bdir, "files"), "/")
		}, "/" + bdir + "/files"},
		"files is a symlink to a directory outside": {func(t *testing.T, root, outside string) {
			swapForSymlink(t, filepath.Join(root, bdir, "files"), outside)
		}, "/" + bdir + "/files"},
		"the state directory is a symlink inside the root": {func(t *testing.T, root, _ string) {
			moveForSymlink(t, filepath.Join(root, "var/lib/eksd-kata"), filepath.Join(root, "srv/state"), "/srv/state")
		}, "/var/lib/eksd-kata"},
		"the backup directory is a symlink inside the root": {func(t *testing.T, root, _ string) {
			moveForSymlink(t, filepath.Join(root, bdir), filepath.Join(root, "srv/backup"), "../../../srv/backup")
		}, "/" + bdir},
	} {
		t.Run(name, func(t *testing.T) {
			root := foundHost(t)
			mustRun(t, bootstrapArgs(root)...)
			outside := t.TempDir()
			// What the backup would restore there, were it followed.
			hosttest.WriteTree(t, outside, map[string]string{"/sentinel": "keep\n", "/etc/fstab": "not a backup\n"})
			tc.swap(t, root, outside)
			before, beforeOut := hosttest.HashTree(t, root), hosttest.HashTree(t, outside)

			code, out, stderr := run(t, "", "--root", root, "reset")
			if code != ExitUsage || !strings.Contains(stderr, tc.path+" is a symlink") {
				t.Errorf("reset: exit %d, stderr %q; want exit 2 naming %s\n%s", code, stderr, tc.path, out)
			}
			if hosttest.HashTree(t, root) != before {
				t.Error("the refused reset changed the root")
			}
			if hosttest.HashTree(t, outside) != beforeOut {
				t.Error("the refused reset changed the directory the symlink points to")
			}
		})
	}
}

// TestBootstrapRefusesSymlinkedState: a state directory that is a symlink
// is refused by bootstrap too, before it changes anything: reset would
// refuse to restore from it.
func TestBootstrapRefusesSymlinkedState(t *testing.T) {
	root := foundHost(t)
	hosttest.LinkDir(t, root, "/var/lib/eksd-kata", "/srv/state")
	before := hosttest.HashTree(t, root)
	code, out, stderr := run(t, "", bootstrapArgs(root)...)
	if code == ExitOK || !strings.Contains(stderr, "/var/lib/eksd-kata is a symlink to /srv/state") {
		t.Errorf("bootstrap: exit %d, stderr %q; want it refused naming the state directory\n%s", code, stderr, out)
	}
	if hosttest.HashTree(t, root) != before {
		t.Error("the refused bootstrap changed the root")
	}
}

// swapForSymlink replaces directory p by a symlink to target.
func swapForSymlink(t *testing.T, p, target string) {
	t.Helper()
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// moveForSymlink moves directory p to dst and leaves a symlink to target
// (dst as seen from p) in its place.
func moveForSymlink(t *testing.T, p, dst, target string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p, dst); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// TestResetKilledAnywhereConverges kills a reset at every fault point in
// turn (each step boundary, before and after each restored file's rename,
// between removing a created file and dropping its record, between
// dropping a record and pruning its directories, at each directory
// pruned): a second reset must finish and leave exactly the tree the
// first bootstrap started from.
func TestResetKilledAnywhereConverges(t *testing.T) {
	reset := func(root string) []string { return []string{"--root", root, "reset"} }
	ref := foundHost(t)
	want := treeHash(t, ref)
	mustRun(t, bootstrapArgs(ref)...)
	var fc faultCounter
	code, out, stderr := runFault(t, fc.hit, reset(ref)...)
	points := fc.count()
	if code != ExitOK || treeHash(t, ref) != want {
		t.Fatalf("uninterrupted reset: exit %d, or not the tree bootstrap started from\n%s%s", code, out, stderr)
	}
	if points < 20 {
		t.Fatalf("only %d fault points: the hooks are not wired", points)
	}
	for at := 1; at <= points; at++ {
		root := foundHost(t)
		mustRun(t, bootstrapArgs(root)...)
		killAt(t, at, reset(root))
		code, out, stderr := run(t, "", reset(root)...)
		if code != ExitOK {
			t.Fatalf("fault point %d: re-run exit %d\n%s%s", at, code, out, stderr)
		}
		if treeHash(t, root) != want {
			t.Fatalf("fault point %d: the re-run left a different tree than the one bootstrap started from", at)
		}
	}
	t.Logf("%d fault points, each converged", points)
}
