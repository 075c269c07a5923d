package host

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestLockRefusesSecondHolder(t *testing.T) {
	f := NewFS(t.TempDir())
	release, err := f.Lock("/run/eksd-kata.lock")
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file description, so a second open in
	// the same process conflicts just as another process would.
	if _, err := f.Lock("/run/eksd-kata.lock"); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock: %v, want ErrLocked", err)
	}
	release()
	release2, err := f.Lock("/run/eksd-kata.lock")
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	release2()
}

// TestLockUnderRootLeavesNoTrace: under a root that is not /, the lock
// leaves nothing in the tree, and holds for the tree however it is named.
func TestLockUnderRootLeavesNoTrace(t *testing.T) {
	root := t.TempDir()
	mkfile(t, root, "/etc/hostname", "node\n", 0o644)
	before := listing(t, root)
	release, err := NewFS(root).Lock("/run/eksd-kata.lock")
	if err != nil {
		t.Fatal(err)
	}
	if got := listing(t, root); !mapsEqual(got, before) {
		t.Fatalf("the lock left a trace in the root: %v", got)
	}
	link := filepath.Join(t.TempDir(), "image")
	if err := os.Symlink(root, link); err != nil {
		t.Fatal(err)
	}
	_, err = NewFS(link).Lock("/run/eksd-kata.lock")
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("Lock through a symlink to the locked root: %v; want ErrLocked naming pid %d", err, os.Getpid())
	}
	release()
	release2, err := NewFS(link).Lock("/run/eksd-kata.lock")
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	release2()
	if got := listing(t, root); !mapsEqual(got, before) {
		t.Fatalf("the lock left a trace in the root: %v", got)
	}
}
