package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestBackupOnceAndRestore(t *testing.T) {
	root := t.TempDir()
	f := NewFS(root)
	mkfile(t, root, "/etc/fstab", "original\n", 0o600)
	fstab := filepath.Join(root, "etc/fstab")

	// Identical bytes, mode kept: no change, no backup.
	changed, err := f.WriteFile("/etc/fstab", []byte("original\n"), 0)
	if err != nil || changed {
		t.Fatalf("identical write: changed=%v err=%v", changed, err)
	}
	if changed, _ := f.WriteFile("/etc/fstab", []byte("original\n"), 0o600); changed {
		t.Fatal("identical bytes and mode reported a change")
	}
	if b, err := f.Backups(); err != nil || len(b) != 0 {
		t.Fatalf("backups after no-op writes: %v, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(root, "var")); !os.IsNotExist(err) {
		t.Fatalf("no-op write created %s/var: %v", root, err)
	}

	for _, content := range []string{"first change\n", "second change\n"} {
		if changed, err := f.WriteFile("/etc/fstab", []byte(content), 0o644); err != nil || !changed {
			t.Fatalf("write %q: changed=%v err=%v", content, changed, err)
		}
	}
	if _, err := f.WriteFile("/etc/created.conf", []byte("ours"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteFile("/etc/created.conf", []byte("ours, again"), 0); err != nil {
		t.Fatal(err)
	}

	bdir := filepath.Join(root, "var/lib/eksd-kata/backup")
	if got := mustRead(t, filepath.Join(bdir, "files/etc/fstab")); got != "original\n" {
		t.Fatalf("backup holds %q, want the original", got)
	}
	if m := mustMode(t, filepath.Join(bdir, "files/etc/fstab")); m != 0o600 {
		t.Fatalf("backup mode %v, want the original 0600", m)
	}
	if _, err := os.Stat(filepath.Join(bdir, "files/etc/created.conf")); !os.IsNotExist(err) {
		t.Fatalf("a created file got a content backup: %v", err)
	}
	want := []Backup{{Path: "/etc/created.conf", Created: true}, {Path: "/etc/fstab", Mode: 0o600}}
	if got, err := f.Backups(); err != nil || !slices.Equal(got, want) {
		t.Fatalf("Backups = %+v, %v; want %+v", got, err, want)
	}
	if f.BackupDir() != "/var/lib/eksd-kata/backup" {
		t.Fatalf("BackupDir = %s", f.BackupDir())
	}

	if err := f.Restore("/etc/fstab"); err != nil {
		t.Fatal(err)
	}
	if got, m := mustRead(t, fstab), mustMode(t, fstab); got != "original\n" || m != 0o600 {
		t.Fatalf("restored %q mode %v, want original bytes and 0600", got, m)
	}
	if err := f.Restore("/etc/created.conf"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/created.conf")); !os.IsNotExist(err) {
		t.Fatalf("created file still there after restore: %v", err)
	}
	if got, err := f.Backups(); err != nil || len(got) != 0 {
		t.Fatalf("backups left after restore: %v, %v", got, err)
	}
	if err := f.Restore("/etc/fstab"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("second restore: want ErrNotExist, got %v", err)
	}
	// Restore dropped the entry, so the next change backs up afresh.
	if _, err := f.WriteFile("/etc/fstab", []byte("later\n"), 0); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, filepath.Join(bdir, "files/etc/fstab")); got != "original\n" {
		t.Fatalf("new backup holds %q", got)
	}
}

func TestRemoveBacksUp(t *testing.T) {
	root := t.TempDir()
	f := NewFS(root)
	mkfile(t, root, "/etc/containerd/config.toml", "user = true\n", 0o640)
	if err := os.Symlink("/etc/containerd/config.toml", filepath.Join(root, "etc/link")); err != nil {
		t.Fatal(err)
	}

	if err := f.Remove("/etc/link"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/containerd/config.toml")); err != nil {
		t.Fatalf("removing a symlink touched its target: %v", err)
	}
	if err := f.Remove("/etc/containerd/config.toml"); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove("/etc/containerd/config.toml"); err != nil {
		t.Fatalf("removing a missing file: %v", err)
	}
	want := []Backup{{Path: "/etc/containerd/config.toml", Mode: 0o640}, {Path: "/etc/link", Mode: os.ModeSymlink | 0o777}}
	if got, err := f.Backups(); err != nil || !slices.Equal(got, want) {
		t.Fatalf("Backups = %+v, %v; want %+v", got, err, want)
	}
	for _, b := range want {
		if err := f.Restore(b.Path); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := os.Readlink(filepath.Join(root, "etc/link")); err != nil || got != "/etc/containerd/config.toml" {
		t.Fatalf("restored link = %q, %v", got, err)
	}
	real := filepath.Join(root, "etc/containerd/config.toml")
	if mustRead(t, real) != "user = true\n" || mustMode(t, real) != 0o640 {
		t.Fatal("removed file not restored byte- and mode-identical")
	}
	if tmps := tempFiles(t, filepath.Join(root, "etc")); len(tmps) != 0 {
		t.Fatalf("temp files left: %v", tmps)
	}
	if err := os.Mkdir(filepath.Join(root, "etc/dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove("/etc/dir"); err == nil {
		t.Fatal("Remove of a directory succeeded without a backup")
	}
}

// TestConcurrentWritesEachBackedUp: writes of different files run at once
// (the node binaries), and each still gets its backup record exactly once.
func TestConcurrentWritesEachBackedUp(t *testing.T) {
	root := t.TempDir()
	f := NewFS(root)
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/old.conf"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := f.WriteFile(fmt.Sprintf("/usr/local/bin/b%d", i), []byte{byte(i)}, 0o755); err != nil {
				t.Error(err)
			}
			if _, err := f.WriteFile("/etc/old.conf", []byte(fmt.Sprintf("new %d", i)), 0o644); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	bs, err := f.Backups()
	if err != nil {
		t.Fatal(err)
	}
	created, dirs := 0, []string{}
	for _, b := range bs {
		switch {
		case b.Path == "/etc/old.conf" && !b.Created:
		case strings.HasPrefix(b.Path, "/usr/local/bin/b") && b.Created:
			created++
		case b.Dir:
			dirs = append(dirs, b.Path)
		default:
			t.Errorf("unexpected backup %+v", b)
		}
	}
	// The directories the writes made, each once, deepest first.
	if want := []string{"/usr/local/bin", "/usr/local", "/usr"}; created != 8 || !slices.Equal(dirs, want) {
		t.Errorf("%d created, directories %v (want %v): %+v", created, dirs, want, bs)
	}
	if err := f.Restore("/etc/old.conf"); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.ReadFile("/etc/old.conf"); string(got) != "old" {
		t.Errorf("restored %q, want the first content", got)
	}
}

// TestCreatedDirectoriesGoOnceEmpty: the directories a write creates are
// recorded; restoring in Backups order removes them, but a directory that
// someone else put a file in stays, with that file. Directories that were
// there before, and eksd-kata's own state directory, are not recorded.
func TestCreatedDirectoriesGoOnceEmpty(t *testing.T) {
	root := t.TempDir()
	f := NewFS(root)
	if err := os.MkdirAll(filepath.Join(root, "etc/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/etc/systemd/system/kubelet.service.d/10-kubeadm.conf", "/opt/x/y/z.conf", "/var/lib/eksd-kata/digests.json"} {
		if _, err := f.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.MkdirAll("/root/.kube", 0o700); err != nil {
		t.Fatal(err)
	}
	// Someone else's file in a directory we created.
	if err := os.WriteFile(filepath.Join(root, "opt/x/theirs"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	bs, err := f.Backups()
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, b := range bs {
		if b.Dir {
			dirs = append(dirs, b.Path)
		}
	}
	want := []string{"/root/.kube", "/root", "/opt/x/y", "/opt/x", "/opt", "/etc/systemd/system/kubelet.service.d"}
	if !slices.Equal(dirs, want) {
		t.Fatalf("created directories %v, want %v", dirs, want)
	}
	for _, b := range bs {
		if err := f.Restore(b.Path); err != nil {
			t.Fatal(err)
		}
	}
	for _, gone := range []string{"etc/systemd/system/kubelet.service.d", "opt/x/y", "root"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("%s is still there after the restore (%v)", gone, err)
		}
	}
	for _, kept := range []string{"etc/systemd/system", "opt/x/theirs"} {
		if _, err := os.Lstat(filepath.Join(root, kept)); err != nil {
			t.Errorf("%s: %v", kept, err)
		}
	}
	if bs, err := f.Backups(); err != nil || len(bs) != 0 {
		t.Fatalf("after the restore: backups %+v, %v", bs, err)
	}
}
