package host

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// changedTree is a root with one backed-up file (/etc/fstab) and one
// created file (/etc/eksd-kata/x.conf, in a created directory).
func changedTree(t *testing.T) (string, *FS) {
	t.Helper()
	root := t.TempDir()
	mkfile(t, root, "/etc/fstab", "original\n", 0o644)
	f := NewFS(root)
	for p, data := range map[string]string{"/etc/fstab": "ours\n", "/etc/eksd-kata/x.conf": "ours\n"} {
		if _, err := f.WriteFile(p, []byte(data), 0); err != nil {
			t.Fatal(err)
		}
	}
	return root, f
}

// listing returns every path under dir with its content or link target.
func listing(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			v += " -> " + target
		case fi.Mode().IsRegular():
			v += " " + mustRead(t, p)
		}
		out[p] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantRefused checks err is ErrUntrustedState naming path.
func wantRefused(t *testing.T, what string, err error, path string) {
	t.Helper()
	if !errors.Is(err, ErrUntrustedState) || !strings.Contains(err.Error(), path) {
		t.Fatalf("%s: %v; want it refused as untrusted, naming %s", what, err, path)
	}
}

func TestUntrustedBackupTreeIsRefused(t *testing.T) {
	const bdir = "/var/lib/eksd-kata/backup"
	for name, tc := range map[string]struct {
		swap    func(t *testing.T, root, outside string) // makes the state untrusted
		path    string                                   // host path the error names
		restore string                                   // a host path whose entry it makes untrusted
	}{
		"files is a symlink to /": {func(t *testing.T, root, _ string) {
			replaceWith(t, filepath.Join(root, bdir, "files"), func(p string) error { return os.Symlink("/", p) })
		}, bdir + "/files", "/etc/fstab"},
		"files is a symlink out of the root": {func(t *testing.T, root, outside string) {
			replaceWith(t, filepath.Join(root, bdir, "files"), func(p string) error { return os.Symlink(outside, p) })
		}, bdir + "/files", "/etc/fstab"},
		"the state directory is a symlink": {func(t *testing.T, root, _ string) {
			if err := os.Rename(filepath.Join(root, "var/lib/eksd-kata"), filepath.Join(root, "var/lib/moved")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("moved", filepath.Join(root, "var/lib/eksd-kata")); err != nil {
				t.Fatal(err)
			}
		}, "/var/lib/eksd-kata", "/etc/fstab"},
		"the backup directory is a symlink": {func(t *testing.T, root, _ string) {
			if err := os.Rename(filepath.Join(root, bdir), filepath.Join(root, "var/lib/backup")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/var/lib/backup", filepath.Join(root, bdir)); err != nil {
				t.Fatal(err)
			}
		}, bdir, "/etc/fstab"},
		"a directory in created is a symlink": {func(t *testing.T, root, _ string) {
			replaceWith(t, filepath.Join(root, bdir, "created/etc"), func(p string) error { return os.Symlink("/etc", p) })
		}, bdir + "/created/etc", "/etc/eksd-kata/x.conf"},
		"an entry is a FIFO": {func(t *testing.T, root, _ string) {
			replaceWith(t, filepath.Join(root, bdir, "files/etc/fstab"), func(p string) error { return unix.Mkfifo(p, 0o644) })
		}, bdir + "/files/etc/fstab", "/etc/fstab"},
		"an entry is a device": {func(t *testing.T, root, _ string) {
			replaceWith(t, filepath.Join(root, bdir, "files/etc/fstab"), func(p string) error {
				return unix.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3)))
			})
		}, bdir + "/files/etc/fstab", "/etc/fstab"},
		"a created marker is a symlink": {func(t *testing.T, root, _ string) {
			replaceWith(t, filepath.Join(root, bdir, "created/etc/eksd-kata/x.conf"), func(p string) error { return os.Symlink("/etc/fstab", p) })
		}, bdir + "/created/etc/eksd-kata/x.conf", "/etc/eksd-kata/x.conf"},
		"a directory marker is a symlink": {func(t *testing.T, root, _ string) {
			replaceWith(t, filepath.Join(root, bdir, "dirs/etc/eksd-kata/.created"), func(p string) error { return os.Symlink("/etc", p) })
		}, bdir + "/dirs/etc/eksd-kata/.created", "/etc/eksd-kata"},
	} {
		t.Run(name, func(t *testing.T) {
			if name == "an entry is a device" && os.Getuid() != 0 {
				t.Skip("mknod needs root")
			}
			root, f := changedTree(t)
			outside := t.TempDir()
			mkfile(t, outside, "/sentinel", "keep me\n", 0o644)
			tc.swap(t, root, outside)
			before, beforeOut := listing(t, root), listing(t, outside)

			_, err := f.Backups()
			wantRefused(t, "Backups", err, tc.path)
			_, err = f.BackupLeftovers()
			wantRefused(t, "BackupLeftovers", err, tc.path)
			wantRefused(t, "PruneBackups", f.PruneBackups(), tc.path)
			wantRefused(t, "Restore", f.Restore(tc.restore), tc.path)
			if got := listing(t, root); !mapsEqual(got, before) {
				t.Errorf("the root changed:\n%v\nwant\n%v", got, before)
			}
			if got := listing(t, outside); !mapsEqual(got, beforeOut) {
				t.Errorf("the outside directory changed: %v", got)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// replaceWith removes whatever is at p and makes something else there.
func replaceWith(t *testing.T, p string, make func(string) error) {
	t.Helper()
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := make(p); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreRefusesPathsOutsideTheTree(t *testing.T) {
	_, f := changedTree(t)
	for _, p := range []string{"/etc/../etc/fstab", "etc/fstab", "/", "/var/lib/eksd-kata/backup/files/etc/fstab"} {
		if err := f.Restore(p); !errors.Is(err, ErrUntrustedState) {
			t.Errorf("Restore(%q): %v; want it refused", p, err)
		}
	}
}

// TestRestoreRemovesOnlyWhatItCreated: what stands where eksd-kata created
// something is removed only while it is what eksd-kata made there.
func TestRestoreRemovesOnlyWhatItCreated(t *testing.T) {
	root, f := changedTree(t)
	// A user replaced the created file by a directory of theirs, and put a
	// file of theirs in the created directory's place.
	conf := filepath.Join(root, "etc/eksd-kata/x.conf")
	if err := os.Remove(conf); err != nil {
		t.Fatal(err)
	}
	mkfile(t, root, "/etc/eksd-kata/x.conf/theirs", "user\n", 0o644)
	restoreAll(t, f)
	if got := mustRead(t, filepath.Join(conf, "theirs")); got != "user\n" {
		t.Fatalf("the user's file holds %q", got)
	}
	if got := mustRead(t, filepath.Join(root, "etc/fstab")); got != "original\n" {
		t.Fatalf("fstab holds %q", got)
	}
	if b := mustBackups(t, f); len(b) != 0 {
		t.Fatalf("entries left: %+v", b)
	}

	// A created directory now a file stays a file.
	root, f = changedTree(t)
	dir := filepath.Join(root, "etc/eksd-kata")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	mkfile(t, root, "/etc/eksd-kata", "a file of theirs\n", 0o644)
	restoreAll(t, f)
	if got := mustRead(t, dir); got != "a file of theirs\n" {
		t.Fatalf("the user's file holds %q", got)
	}
}

// restoreAll restores every entry, as reset does.
func restoreAll(t *testing.T, f *FS) {
	t.Helper()
	for _, b := range mustBackups(t, f) {
		if err := f.Restore(b.Path); err != nil {
			t.Fatalf("Restore(%s): %v", b.Path, err)
		}
	}
}

func mustBackups(t *testing.T, f *FS) []Backup {
	t.Helper()
	b, err := f.Backups()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPruneBackupsRemovesLeftovers: the directories a killed reset left
// with nothing in them, and temp files of a crashed backup write, are
// listed and removed; a directory holding an entry stays.
func TestPruneBackupsRemovesLeftovers(t *testing.T) {
	root, f := changedTree(t)
	bdir := filepath.Join(root, "var/lib/eksd-kata/backup")
	if err := os.Remove(filepath.Join(bdir, "created/etc/eksd-kata/x.conf")); err != nil {
		t.Fatal(err)
	}
	mkfile(t, root, "/var/lib/eksd-kata/backup/files/etc/.passwd.eksd-kata-123.tmp", "torn", 0o600)
	got, err := f.BackupLeftovers()
	want := []string{
		"/var/lib/eksd-kata/backup/files/etc/.passwd.eksd-kata-123.tmp",
		"/var/lib/eksd-kata/backup/created/etc/eksd-kata",
		"/var/lib/eksd-kata/backup/created/etc",
		"/var/lib/eksd-kata/backup/created",
	}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("leftovers %q, %v; want %q", got, err, want)
	}
	if err := f.PruneBackups(); err != nil {
		t.Fatal(err)
	}
	for _, p := range want {
		if _, err := os.Lstat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("%s left: %v", p, err)
		}
	}
	if got := mustRead(t, filepath.Join(bdir, "files/etc/fstab")); got != "original\n" {
		t.Fatalf("the backup of fstab holds %q", got)
	}

	restoreAll(t, f)
	if err := f.PruneBackups(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(bdir); !os.IsNotExist(err) {
		t.Fatalf("the emptied backup directory stays: %v", err)
	}
}

// TestWriteRefusesUntrustedState: with files/ a symlink to /, every file
// would look backed up already (its "backup" being itself); the write is
// refused before anything changes instead.
func TestWriteRefusesUntrustedState(t *testing.T) {
	root := t.TempDir()
	mkfile(t, root, "/etc/fstab", "original\n", 0o644)
	if err := os.MkdirAll(filepath.Join(root, "var/lib/eksd-kata/backup"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(root, "var/lib/eksd-kata/backup/files")); err != nil {
		t.Fatal(err)
	}
	before := listing(t, root)
	f := NewFS(root)
	_, err := f.WriteFile("/etc/fstab", []byte("ours\n"), 0)
	wantRefused(t, "WriteFile", err, "/var/lib/eksd-kata/backup/files")
	wantRefused(t, "MkdirAll", f.MkdirAll("/etc/eksd-kata", 0o755), "/var/lib/eksd-kata/backup/files")
	if got := listing(t, root); !mapsEqual(got, before) {
		t.Fatalf("the refused writes changed the root:\n%v", got)
	}
}
