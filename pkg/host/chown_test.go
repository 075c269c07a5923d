package host

import (
	"os"
	"path/filepath"
	"testing"
)

// TestChownBacksUpAndRestoresOwner: a chown is backed up like a write, so
// reset brings the old owner back; the same owner again changes nothing.
func TestChownBacksUpAndRestoresOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	root := t.TempDir()
	mkfile(t, root, "/home/alice/.kube/config", "x", 0o600)
	f := NewFS(root)
	if changed, err := f.Chown("/home/alice/.kube/config", 1000, 1001); err != nil || !changed {
		t.Fatalf("chown: %v %v", changed, err)
	}
	if changed, err := f.Chown("/home/alice/.kube/config", 1000, 1001); err != nil || changed {
		t.Fatalf("second chown: %v %v", changed, err)
	}
	fi, _ := f.Stat("/home/alice/.kube/config")
	if u, g := Owner(fi); u != 1000 || g != 1001 {
		t.Fatalf("owner %d:%d", u, g)
	}
	if err := f.Restore("/home/alice/.kube/config"); err != nil {
		t.Fatal(err)
	}
	fi, _ = f.Stat("/home/alice/.kube/config")
	if u, g := Owner(fi); u != 0 || g != 0 {
		t.Fatalf("restored owner %d:%d", u, g)
	}
}

func TestRemoveEmptyDir(t *testing.T) {
	root := t.TempDir()
	mkfile(t, root, "/etc/full/f", "x", 0o644)
	if err := os.MkdirAll(filepath.Join(root, "etc/empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := NewFS(root)
	for p, want := range map[string]bool{"/etc/empty": true, "/etc/full": false, "/etc/missing": false} {
		if got, err := f.RemoveEmptyDir(p); err != nil || got != want {
			t.Errorf("%s: removed %v, %v; want %v", p, got, err, want)
		}
	}
	if _, err := f.RemoveEmptyDir("/etc/full/f"); err == nil {
		t.Error("a file is not a directory")
	}
}
