package host

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestHelperProcess is not a test: TestWriteFileCrash runs the test binary
// again with this as the only test, to die half-way through a write.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("EKSD_KATA_HELPER") != "crash-before-rename" {
		return
	}
	root := os.Getenv("EKSD_KATA_ROOT")
	fs := NewFS(root)
	fs.SetFault(func(point string) {
		tmp, ok := strings.CutPrefix(point, "before-rename ")
		// The backup of the original is written first, atomically too: let it through.
		if ok && filepath.Dir(tmp) == filepath.Join(root, "etc") {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	})
	_, err := fs.WriteFile("/etc/app.conf", []byte("new\n"), 0)
	// Only reached when the hook did not fire.
	t.Fatalf("write survived the crash hook: %v", err)
}

func TestWriteFileCrashKeepsOldFile(t *testing.T) {
	root := t.TempDir()
	mkfile(t, root, "/etc/app.conf", "old\n", 0o640)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "EKSD_KATA_HELPER=crash-before-rename", "EKSD_KATA_ROOT="+root)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("helper: want it killed, got %v\n%s", err, out)
	}
	if ws := ee.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("helper: want SIGKILL, got %v\n%s", ws, out)
	}

	target := filepath.Join(root, "etc/app.conf")
	if got := mustRead(t, target); got != "old\n" {
		t.Fatalf("after crash target holds %q, want the old bytes", got)
	}
	// The crash really happened between write and rename: the new bytes sit in a temp file.
	tmps := tempFiles(t, filepath.Join(root, "etc"))
	if len(tmps) != 1 || mustRead(t, tmps[0]) != "new\n" {
		t.Fatalf("want one temp file holding the new bytes, got %v", tmps)
	}

	f := NewFS(root)
	changed, err := f.WriteFile("/etc/app.conf", []byte("new\n"), 0)
	if err != nil || !changed {
		t.Fatalf("second write: changed=%v err=%v", changed, err)
	}
	if got := mustRead(t, target); got != "new\n" {
		t.Fatalf("target = %q after second write", got)
	}
	if m := mustMode(t, target); m != 0o640 {
		t.Fatalf("mode = %v, want kept 0640", m)
	}
	if tmps := tempFiles(t, filepath.Join(root, "etc")); len(tmps) != 0 {
		t.Fatalf("temp files left behind: %v", tmps)
	}
	// The crashed process had already backed up the original; it must still be the original.
	if got := mustRead(t, filepath.Join(root, "var/lib/eksd-kata/backup/files/etc/app.conf")); got != "old\n" {
		t.Fatalf("backup = %q, want the original", got)
	}
}

func TestWriteFileNewFileDefaults(t *testing.T) {
	root := t.TempDir()
	f := NewFS(root)
	changed, err := f.WriteFile("/etc/new/dir/file", []byte("x"), 0)
	if err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	if m := mustMode(t, filepath.Join(root, "etc/new/dir/file")); m != 0o644 {
		t.Fatalf("new file mode %v, want 0644", m)
	}
	if m := mustMode(t, filepath.Join(root, "etc/new/dir")); m != os.ModeDir|0o755 {
		t.Fatalf("new dir mode %v, want 0755", m)
	}
	if _, err := f.WriteFile("/etc/exec", []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if m := mustMode(t, filepath.Join(root, "etc/exec")); m != 0o755 {
		t.Fatalf("mode %v, want 0755", m)
	}
	// perm != 0 changes the mode of an existing file even with the same bytes.
	changed, err = f.WriteFile("/etc/exec", []byte("#!/bin/sh\n"), 0o700)
	if err != nil || !changed {
		t.Fatalf("mode-only change: changed=%v err=%v", changed, err)
	}
	if m := mustMode(t, filepath.Join(root, "etc/exec")); m != 0o700 {
		t.Fatalf("mode %v, want 0700", m)
	}
	if _, err := f.WriteFile("etc/relative", nil, 0); err == nil {
		t.Fatal("relative path accepted")
	}
	if err := os.Mkdir(filepath.Join(root, "etc/adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteFile("/etc/adir", []byte("x"), 0); err == nil {
		t.Fatal("writing over a directory succeeded")
	}
}

func TestCopyFile(t *testing.T) {
	root := t.TempDir()
	f := NewFS(root)
	src := filepath.Join(t.TempDir(), "kubelet")
	if err := os.WriteFile(src, []byte("new binary"), 0o600); err != nil {
		t.Fatal(err)
	}
	copyFrom := func(p string, check func() error) error {
		in, err := os.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		return f.CopyFile(p, in, 0o755, check)
	}

	// A new file: the bytes and mode, parents made, recorded as created.
	if err := copyFrom("/usr/local/bin/kubelet", nil); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(root, "usr/local/bin/kubelet")
	if got := mustRead(t, real); got != "new binary" {
		t.Fatalf("copied %q", got)
	}
	if m := mustMode(t, real); m != 0o755 {
		t.Fatalf("mode %v, want 0755", m)
	}
	if err := f.Restore("/usr/local/bin/kubelet"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(real); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("restore left the created file: %v", err)
	}

	// Over an old file whose check fails: the old file stays, no temp file.
	mkfile(t, root, "/usr/local/bin/kubeadm", "old binary", 0o755)
	old := filepath.Join(root, "usr/local/bin/kubeadm")
	changed := errors.New("source changed")
	if err := copyFrom("/usr/local/bin/kubeadm", func() error { return changed }); !errors.Is(err, changed) {
		t.Fatalf("want the check's error, got %v", err)
	}
	if got := mustRead(t, old); got != "old binary" {
		t.Fatalf("a failed check replaced the file: %q", got)
	}
	if tmps := tempFiles(t, filepath.Dir(old)); len(tmps) != 0 {
		t.Fatalf("temp files left behind: %v", tmps)
	}

	// The same with a passing check: replaced, the original backed up.
	checked := false
	if err := copyFrom("/usr/local/bin/kubeadm", func() error { checked = true; return nil }); err != nil || !checked {
		t.Fatalf("copy: err=%v checked=%v", err, checked)
	}
	if got := mustRead(t, old); got != "new binary" {
		t.Fatalf("copied %q", got)
	}
	if err := f.Restore("/usr/local/bin/kubeadm"); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, old); got != "old binary" {
		t.Fatalf("restored %q, want the original", got)
	}

	if err := copyFrom("/usr/local/bin", nil); err == nil {
		t.Fatal("copying over a directory succeeded")
	}
}

func TestWriteFileKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to 1234:1234 needs root")
	}
	root := t.TempDir()
	mkfile(t, root, "/etc/owned", "a", 0o4750)
	real := filepath.Join(root, "etc/owned")
	if err := os.Chown(real, 1234, 1234); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(real, 0o4750|os.ModeSetuid); err != nil { // chown cleared setuid
		t.Fatal(err)
	}
	f := NewFS(root)
	if _, err := f.WriteFile("/etc/owned", []byte("b"), 0); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		t.Fatal(err)
	}
	if uid, gid := owner(fi); uid != 1234 || gid != 1234 {
		t.Fatalf("owner %d:%d, want 1234:1234", uid, gid)
	}
	if fi.Mode() != os.ModeSetuid|0o750 {
		t.Fatalf("mode %v, want setuid kept", fi.Mode())
	}
	// The backup carries the owner too, and Restore puts it back.
	if err := os.Chown(real, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Restore("/etc/owned"); err != nil {
		t.Fatal(err)
	}
	fi, _ = os.Stat(real)
	if uid, gid := owner(fi); uid != 1234 || gid != 1234 || mustRead(t, real) != "a" {
		t.Fatalf("restored owner %d:%d content %q", uid, gid, mustRead(t, real))
	}
}

func TestSymlinksStayInsideRoot(t *testing.T) {
	root := t.TempDir()
	f := NewFS(root)
	mkfile(t, root, "/etc/bar", "bar", 0o644)
	if err := os.Symlink("/etc/bar", filepath.Join(root, "etc/foo")); err != nil {
		t.Fatal(err)
	}
	real, err := f.Resolve("/etc/foo")
	if err != nil || real != filepath.Join(root, "etc/bar") {
		t.Fatalf("Resolve(/etc/foo) = %q, %v; want %s", real, err, filepath.Join(root, "etc/bar"))
	}
	if _, err := f.WriteFile("/etc/foo", []byte("through link"), 0); err != nil {
		t.Fatal(err)
	}
	if mustRead(t, filepath.Join(root, "etc/bar")) != "through link" {
		t.Fatal("write through absolute symlink did not land on its target inside root")
	}
	if mustMode(t, filepath.Join(root, "etc/foo"))&os.ModeSymlink == 0 {
		t.Fatal("the symlink itself was replaced")
	}
	if fi, err := f.Lstat("/etc/foo"); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("Lstat followed the link: %v %v", fi, err)
	}

	passwd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Skip("no /etc/passwd to compare with")
	}
	if err := os.Symlink("../../../../../../../../etc/passwd", filepath.Join(root, "etc/escape")); err != nil {
		t.Fatal(err)
	}
	real, err = f.Resolve("/etc/escape")
	if err != nil || real != filepath.Join(root, "etc/passwd") {
		t.Fatalf("Resolve(/etc/escape) = %q, %v", real, err)
	}
	if _, err := f.WriteFile("/etc/escape", []byte("pwned\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if mustRead(t, filepath.Join(root, "etc/passwd")) != "pwned\n" {
		t.Fatal("write did not land inside root")
	}
	if after, _ := os.ReadFile("/etc/passwd"); string(after) != string(passwd) {
		t.Fatal("the machine's /etc/passwd changed")
	}

	// A symlinked directory met by Glob resolves inside the root too.
	if err := os.Symlink("/", filepath.Join(root, "etc/up")); err != nil {
		t.Fatal(err)
	}
	got, err := f.Glob("/etc/up/etc/pass*")
	if err != nil || !slices.Equal(got, []string{"/etc/up/etc/passwd"}) {
		t.Fatalf("Glob = %v, %v", got, err)
	}
	if b, err := f.ReadFile("/etc/up/etc/passwd"); err != nil || string(b) != "pwned\n" {
		t.Fatalf("read through /etc/up: %q %v", b, err)
	}
}

func TestReadHelpers(t *testing.T) {
	root := t.TempDir()
	f := NewFS(root)
	mkfile(t, root, "/lib/modules/6.1.0/modules.dep", "", 0o644)
	mkfile(t, root, "/lib/modules/6.2.0/modules.dep", "", 0o644)
	mkfile(t, root, "/lib/modules/6.3.0/other", "", 0o644)

	got, err := f.Glob("/lib/modules/*/modules.dep")
	if err != nil || !slices.Equal(got, []string{"/lib/modules/6.1.0/modules.dep", "/lib/modules/6.2.0/modules.dep"}) {
		t.Fatalf("Glob = %v, %v", got, err)
	}
	if _, err := f.Glob("/lib/[/x"); err == nil {
		t.Fatal("bad pattern accepted")
	}
	if ok, err := f.Exists("/lib/modules/6.1.0/modules.dep"); !ok || err != nil {
		t.Fatalf("Exists = %v, %v", ok, err)
	}
	if ok, err := f.Exists("/lib/modules/6.1.0/modules.dep/below"); ok || err != nil {
		t.Fatalf("Exists through a file = %v, %v; want false, nil", ok, err)
	}
	if ok, err := f.Exists("/nope"); ok || err != nil {
		t.Fatalf("Exists(/nope) = %v, %v", ok, err)
	}
	entries, err := f.ReadDir("/lib/modules")
	if err != nil || len(entries) != 3 || entries[0].Name() != "6.1.0" {
		t.Fatalf("ReadDir = %v, %v", entries, err)
	}
	if err := f.MkdirAll("/var/lib/x", 0o750); err != nil {
		t.Fatal(err)
	}
	if fi, err := f.Stat("/var/lib/x"); err != nil || !fi.IsDir() {
		t.Fatalf("Stat = %v, %v", fi, err)
	}
	if _, err := f.ReadFile("/missing"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadFile(/missing) = %v", err)
	}
}

func TestLookPath(t *testing.T) {
	root := t.TempDir()
	f := NewFS(root)
	mkfile(t, root, "/usr/bin/runc", "", 0o755)
	mkfile(t, root, "/usr/sbin/runc", "", 0o755) // sbin comes first in PATH
	mkfile(t, root, "/usr/bin/noexec", "", 0o644)
	mkfile(t, root, "/opt/kata/bin/containerd-shim-kata-v2", "", 0o755)
	if err := os.MkdirAll(filepath.Join(root, "bin/adir"), 0o755); err != nil {
		t.Fatal(err)
	}

	for name, want := range map[string]string{
		"runc":                    "/usr/sbin/runc",
		"containerd-shim-kata-v2": "/opt/kata/bin/containerd-shim-kata-v2",
		"/usr/bin/runc":           "/usr/bin/runc",
	} {
		if got, err := f.LookPath(name); err != nil || got != want {
			t.Errorf("LookPath(%s) = %q, %v; want %s", name, got, err, want)
		}
	}
	for _, name := range []string{"noexec", "adir", "missing", "/usr/bin/noexec"} {
		if _, err := f.LookPath(name); !errors.Is(err, exec.ErrNotFound) {
			t.Errorf("LookPath(%s): want ErrNotFound, got %v", name, err)
		}
	}
	if _, err := f.LookPath("bin/runc"); err == nil {
		t.Error("relative path with a slash accepted")
	}
}

// TestDirectoryModesIgnoreUmask: the directories made for a file, those
// MkdirAll makes and those of the backups get their modes from eksd-kata,
// not from the umask of whoever runs it.
func TestDirectoryModesIgnoreUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	t.Cleanup(func() { syscall.Umask(old) })
	root := t.TempDir()
	f := NewFS(root)
	if _, err := f.WriteFile("/etc/new/dir/file", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.MkdirAll("/srv/kubelet/pki", 0o750); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Symlink("/x", "/usr/local/bin/link"); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{
		"etc/new":                               0o755,
		"etc/new/dir":                           0o755,
		"etc/new/dir/file":                      0o644,
		"srv":                                   0o750,
		"srv/kubelet/pki":                       0o750,
		"usr/local/bin":                         0o755,
		"var/lib/eksd-kata/backup/created/etc":  0o755,
		"var/lib/eksd-kata/backup/dirs/etc/new": 0o755,
	} {
		if m := mustMode(t, filepath.Join(root, p)).Perm(); m != want {
			t.Errorf("%s: mode %v, want %v", p, m, want)
		}
	}
}
