package host

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWritesStayInRootWhileDirSwapped swaps a directory on the written
// paths for a symlink to a directory outside the root, back and forth, while
// files are written, removed and directories made under it: nothing may
// land in, or vanish from, the outside directory.
func TestWritesStayInRootWhileDirSwapped(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	dir := filepath.Join(root, "etc/sysctl.d")
	swap := filepath.Join(root, "etc/.swap")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, swap); err != nil {
		t.Fatal(err)
	}
	// A Remove that follows the swapped-in link would delete this.
	victim := filepath.Join(outside, "victim.conf")
	if err := os.WriteFile(victim, []byte("outside\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// The swapper runs until the writer is done, 10 s at most;
	// RENAME_EXCHANGE keeps the name present all along.
	var done atomic.Bool
	stopped := make(chan struct{})
	swaps := 0
	go func() {
		defer close(stopped)
		for deadline := time.Now().Add(10 * time.Second); !done.Load() && time.Now().Before(deadline); swaps++ {
			if err := unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, swap, unix.RENAME_EXCHANGE); err != nil {
				t.Error(err)
				break
			}
		}
		if swaps%2 == 1 { // leave the directory in place
			if err := unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, swap, unix.RENAME_EXCHANGE); err != nil {
				t.Error(err)
			}
		}
	}()

	f := NewFS(root)
	const rounds = 50
	failed := 0
	for i := range rounds {
		// Errors are allowed while the tree moves under the calls; only
		// where things land matters.
		for _, err := range []error{
			second(f.WriteFile(fmt.Sprintf("/etc/sysctl.d/%d.conf", i), []byte("x\n"), 0)),
			f.Remove("/etc/sysctl.d/victim.conf"),
			f.MkdirAll(fmt.Sprintf("/etc/sysctl.d/d%d/sub", i), 0o755),
		} {
			if err != nil {
				failed++
			}
		}
	}
	done.Store(true)
	<-stopped
	t.Logf("%d swaps during %d rounds of write, remove and mkdir (%d calls failed)", swaps, rounds, failed)
	if swaps < 2 {
		t.Fatalf("%d swaps: the race was not exercised", swaps)
	}

	entries, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "victim.conf" {
			t.Errorf("%s landed outside the root", e.Name())
		}
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "outside\n" {
		t.Errorf("the file outside the root was changed or removed: %q %v", b, err)
	}

	// Once the tree holds still, the same calls work and stay inside.
	if _, err := f.WriteFile("/etc/sysctl.d/after.conf", []byte("y\n"), 0); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, filepath.Join(dir, "after.conf")); got != "y\n" {
		t.Fatalf("after the race: %q", got)
	}
}

// TestSymlinkedParentResolvesInsideRoot: a directory on the path that is
// already a symlink to an outside directory is followed as if the root were
// "/", for every kind of change: the outside directory is never touched.
func TestSymlinkedParentResolvesInsideRoot(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "etc/sysctl.d")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../..", filepath.Join(root, "etc/up")); err != nil {
		t.Fatal(err)
	}
	// Dangling both inside and outside: creating through it makes its target.
	if err := os.Symlink(outside+"/new/deeper", filepath.Join(root, "etc/dangling")); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(outside, "victim.conf")
	if err := os.WriteFile(victim, []byte("outside\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := NewFS(root)
	if _, err := f.WriteFile("/etc/sysctl.d/a.conf", []byte("a\n"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteFile("/etc/up"+outside+"/b.conf", []byte("b\n"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteFile("/etc/dangling/c.conf", []byte("c\n"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove("/etc/sysctl.d/victim.conf"); err != nil {
		t.Fatal(err)
	}
	if err := f.MkdirAll("/etc/sysctl.d/d", 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Symlink("/x", "/etc/sysctl.d/link"); err != nil {
		t.Fatal(err)
	}

	inside := filepath.Join(root, outside)
	if got := mustRead(t, filepath.Join(inside, "a.conf")) + mustRead(t, filepath.Join(inside, "b.conf")) + mustRead(t, filepath.Join(inside, "new/deeper/c.conf")); got != "a\nb\nc\n" {
		t.Fatalf("inside the root: %q", got)
	}
	if fi, err := os.Lstat(filepath.Join(inside, "d")); err != nil || !fi.IsDir() {
		t.Fatalf("directory inside the root: %v %v", fi, err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 || mustRead(t, victim) != "outside\n" {
		t.Fatalf("the outside directory changed: %v", entries)
	}
	// Records name the paths as resolved, so reset finds what was written.
	bs, err := f.Backups()
	if err != nil {
		t.Fatal(err)
	}
	var created []string
	for _, b := range bs {
		if b.Created && !b.Dir {
			created = append(created, b.Path)
		}
	}
	if want := []string{outside + "/a.conf", outside + "/b.conf", outside + "/link", outside + "/new/deeper/c.conf"}; !slices.Equal(created, want) {
		t.Fatalf("created %v, want %v", created, want)
	}
}
