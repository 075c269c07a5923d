package host

import (
	"archive/tar"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// escapeFixture is a host root holding a live /opt/kata, beside a
// directory outside the root with a file in it: where an unpacker that
// escapes the tree it builds writes. The tree is built in
// base/root/opt/.kata.eksd-kata-*, so "../../../outside" from its top is
// that directory.
type escapeFixture struct{ base, root, outside string }

const toOutside = "../../../outside"

func newEscapeFixture(t *testing.T) escapeFixture {
	t.Helper()
	base := t.TempDir()
	fx := escapeFixture{base: base, root: filepath.Join(base, "root"), outside: filepath.Join(base, "outside")}
	mkfile(t, fx.outside, "/secret", "secret", 0o600)
	if err := os.Mkdir(fx.root, 0o755); err != nil {
		t.Fatal(err)
	}
	live := tarOf(t, tarEntry{name: "opt/kata/bin/shim", body: "live", typ: tar.TypeReg})
	if err := NewFS(fx.root).InstallTree("/opt/kata", live, underOptKata, nil); err != nil {
		t.Fatal(err)
	}
	return fx
}

// snapshot describes every file below dir: type and mode, and a
// file's link count and content or a symlink's target.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		var more string
		switch {
		case fi.Mode().IsRegular():
			var b []byte
			b, err = os.ReadFile(p)
			more = fmt.Sprintf(" %d %s", fi.Sys().(*syscall.Stat_t).Nlink, b)
		case fi.Mode()&fs.ModeSymlink != 0:
			more, err = os.Readlink(p)
			more = " -> " + more
		}
		out[rel] = fi.Mode().String() + more
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func file(name, body string) tarEntry { return tarEntry{name: name, body: body, typ: tar.TypeReg} }
func directory(name string) tarEntry  { return tarEntry{name: name, typ: tar.TypeDir} }
func sym(name, to string) tarEntry    { return tarEntry{name: name, link: to, typ: tar.TypeSymlink} }
func hard(name, to string) tarEntry   { return tarEntry{name: name, link: to, typ: tar.TypeLink} }

func TestInstallTreeRefusesEveryEscape(t *testing.T) {
	const p = "opt/kata/"
	deep := strings.Repeat("a/", 30)
	for _, c := range []struct {
		name string
		// entries of the archive; in link, "OUT" stands for the absolute
		// path of the outside directory.
		entries []tarEntry
		refused string // the entry named
	}{
		{"chained symlinks, then a file through them", []tarEntry{
			sym(p+"a", "."),
			directory(p + deep),
			sym(p+"b", deep+toOutside),
			file(p+"b/x", "escaped"),
		}, p + deep},
		{"a symlink out through an earlier symlink", []tarEntry{
			sym(p+"a", "."),
			sym(p+"b", deep+toOutside),
		}, p + "b"},
		{"a symlink out through a later symlink", []tarEntry{
			sym(p+"b", deep+toOutside),
			sym(p+"a", "."),
		}, p + "b"},
		{"a hard link to a file outside, through chained symlinks", []tarEntry{
			sym(p+"a", "."),
			sym(p+"b", deep+toOutside),
			hard(p+"h", p+"b/secret"),
		}, p + "b"},
		{"a symlink loop", []tarEntry{
			sym(p+"l", "m/x"),
			sym(p+"m", "l"),
		}, p + "l"},
		{"an absolute symlink, then a file through it", []tarEntry{
			sym(p+"x", "OUT"),
			file(p+"x/f", "escaped"),
		}, p + "x"},
		{"a symlink to /etc, then x/passwd", []tarEntry{
			sym(p+"x", "/etc"),
			file(p+"x/passwd", "root::0:0::/:/bin/sh\n"),
		}, p + "x"},
		{"a symlink out by ..", []tarEntry{
			sym(p+"bin/sh", "../"+toOutside),
		}, p + "bin/sh"},
		{".. in a name", []tarEntry{
			file(p+toOutside+"/f", "escaped"),
		}, p + toOutside + "/f"},
		{".. in a name that stays inside", []tarEntry{
			file(p+"bin/../f", "x"),
		}, p + "bin/../f"},
		{"an absolute name", []tarEntry{
			file("/opt/kata/bin/x", "x"),
		}, "/opt/kata/bin/x"},
		{"a hard link to an absolute path", []tarEntry{
			hard(p+"h", "OUT/secret"),
		}, p + "h"},
		{"a hard link to ../outside", []tarEntry{
			hard(p+"h", p+toOutside+"/secret"),
		}, p + "h"},
		{"a hard link to a name outside the tree", []tarEntry{
			hard(p+"h", "etc/shadow"),
		}, p + "h"},
		{"a hard link through a symlink", []tarEntry{
			file(p+"bin/shim", "shim"),
			sym(p+"l", "bin"),
			hard(p+"h", p+"l/shim"),
		}, p + "h"},
		{"a hard link to a symlink", []tarEntry{
			sym(p+"bin/up", ".."),
			hard(p+"up", p+"bin/up"),
		}, p + "up"},
		{"a directory replaced by a symlink", []tarEntry{
			directory(p + "bin/"),
			directory(p + "d/"),
			sym(p+"d", "bin"),
			file(p+"d/f", "x"),
		}, p + "d"},
		{"a directory over a symlink", []tarEntry{
			directory(p + "bin/"),
			sym(p+"d", "bin"),
			{name: p + "d/", typ: tar.TypeDir, mode: 0o700},
		}, p + "d/"},
		{"a file through a symlink an earlier entry made", []tarEntry{
			directory(p + "bin/"),
			sym(p+"l", "bin"),
			file(p+"l/f", "x"),
		}, p + "l/f"},
		{"a file replacing a file", []tarEntry{
			file(p+"bin/shim", "one"),
			file(p+"bin/shim", "two"),
		}, p + "bin/shim"},
		{"a FIFO", []tarEntry{{name: p + "fifo", typ: tar.TypeFifo}}, p + "fifo"},
		{"a character device", []tarEntry{{name: p + "dev/kvm", typ: tar.TypeChar}}, p + "dev/kvm"},
		{"a block device", []tarEntry{{name: p + "dev/sda", typ: tar.TypeBlock}}, p + "dev/sda"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fx := newEscapeFixture(t)
			entries := make([]tarEntry, len(c.entries))
			for i, e := range c.entries {
				e.link = strings.Replace(e.link, "OUT", fx.outside, 1)
				entries[i] = e
			}
			before := snapshot(t, fx.base)
			passwd, _ := os.ReadFile("/etc/passwd")
			wantRefused := func(err error) {
				t.Helper()
				var unsafe *UnsafeEntryError
				if !errors.As(err, &unsafe) || unsafe.Entry != c.refused || !strings.Contains(err.Error(), fmt.Sprintf("%q", c.refused)) {
					t.Errorf("err = %v, want one refusing entry %q", err, c.refused)
				}
			}
			wantRefused(CheckArchive(tarOf(t, entries...), underOptKata))
			wantRefused(NewFS(fx.root).InstallTree("/opt/kata", tarOf(t, entries...), underOptKata, nil))
			if after := snapshot(t, fx.base); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("the refused archive changed the files:\nbefore %v\nafter  %v", before, after)
			}
			if now, _ := os.ReadFile("/etc/passwd"); string(now) != string(passwd) {
				t.Error("/etc/passwd changed")
			}
		})
	}
}

// A kata-static-shaped tree: implicit and explicit directories, relative
// links within a directory and up through "..", a hard link.
func TestInstallTreeKeepsAKataStaticLayout(t *testing.T) {
	root := t.TempDir()
	const p = "./opt/kata/"
	entries := []tarEntry{
		directory(p),
		directory(p + "bin/"),
		file(p+"bin/containerd-shim-kata-v2", "shim"),
		file(p+"bin/kata-runtime", "runtime"),
		hard(p+"bin/kata-monitor", p+"bin/kata-runtime"),
		file(p+"libexec/virtiofsd", "virtiofsd"),
		tarEntry{name: p + "share/kata-containers/vmlinux-6.12.36-160", body: "kernel", typ: tar.TypeReg, mode: 0o644},
		sym(p+"share/kata-containers/vmlinux.container", "vmlinux-6.12.36-160"),
		tarEntry{name: p + "share/defaults/kata-containers/configuration-qemu.toml", body: "[hypervisor.qemu]\n", typ: tar.TypeReg, mode: 0o644},
		sym(p+"share/defaults/kata-containers/configuration.toml", "configuration-qemu.toml"),
		sym(p+"share/defaults/kata-containers/runtime-rs/configuration.toml", "../configuration-qemu.toml"),
		sym(p+"runtime-rs/bin/virtiofsd", "../../libexec/virtiofsd"),
	}
	if err := CheckArchive(tarOf(t, entries...), underOptKata); err != nil {
		t.Fatal(err)
	}
	err := NewFS(root).InstallTree("/opt/kata", tarOf(t, entries...), underOptKata, map[string][]byte{".installed": []byte("sum\n")})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		".":                              "drwxr-xr-x",
		".installed":                     "-rw-r--r-- 1 sum\n",
		"bin":                            "drwxr-xr-x",
		"bin/containerd-shim-kata-v2":    "-rwxr-xr-x 1 shim",
		"bin/kata-monitor":               "-rwxr-xr-x 2 runtime",
		"bin/kata-runtime":               "-rwxr-xr-x 2 runtime",
		"libexec":                        "drwxr-xr-x",
		"libexec/virtiofsd":              "-rwxr-xr-x 1 virtiofsd",
		"runtime-rs":                     "drwxr-xr-x",
		"runtime-rs/bin":                 "drwxr-xr-x",
		"runtime-rs/bin/virtiofsd":       "Lrwxrwxrwx -> ../../libexec/virtiofsd",
		"share":                          "drwxr-xr-x",
		"share/defaults":                 "drwxr-xr-x",
		"share/defaults/kata-containers": "drwxr-xr-x",
		"share/defaults/kata-containers/configuration-qemu.toml":       "-rw-r--r-- 1 [hypervisor.qemu]\n",
		"share/defaults/kata-containers/configuration.toml":            "Lrwxrwxrwx -> configuration-qemu.toml",
		"share/defaults/kata-containers/runtime-rs":                    "drwxr-xr-x",
		"share/defaults/kata-containers/runtime-rs/configuration.toml": "Lrwxrwxrwx -> ../configuration-qemu.toml",
		"share/kata-containers":                                        "drwxr-xr-x",
		"share/kata-containers/vmlinux-6.12.36-160":                    "-rw-r--r-- 1 kernel",
		"share/kata-containers/vmlinux.container":                      "Lrwxrwxrwx -> vmlinux-6.12.36-160",
	}
	if got := snapshot(t, filepath.Join(root, "opt/kata")); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("installed tree:\n%v\nwant\n%v", got, want)
	}
	for _, link := range []string{"runtime-rs/bin/virtiofsd", "share/defaults/kata-containers/runtime-rs/configuration.toml"} {
		if _, err := os.Stat(filepath.Join(root, "opt/kata", link)); err != nil {
			t.Errorf("%s does not resolve: %v", link, err)
		}
	}
}

// Modes come from the archive's permission bits alone, and directories
// are 0755, whatever the umask.
func TestInstallTreeModesIgnoreUmaskAndSetuid(t *testing.T) {
	defer syscall.Umask(syscall.Umask(0o077))
	root := t.TempDir()
	err := NewFS(root).InstallTree("/opt/kata", tarOf(t,
		tarEntry{name: "opt/kata/bin/", typ: tar.TypeDir, mode: 0o700},
		tarEntry{name: "opt/kata/bin/suid", body: "x", typ: tar.TypeReg, mode: 0o4755},
		tarEntry{name: "opt/kata/bin/sgid", body: "x", typ: tar.TypeReg, mode: 0o2711},
		tarEntry{name: "opt/kata/share/conf", body: "x", typ: tar.TypeReg, mode: 0o644},
	), underOptKata, nil)
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]fs.FileMode{
		"":           fs.ModeDir | 0o755,
		"bin":        fs.ModeDir | 0o755,
		"bin/suid":   0o755,
		"bin/sgid":   0o711,
		"share":      fs.ModeDir | 0o755,
		"share/conf": 0o644,
	} {
		if got := mustMode(t, filepath.Join(root, "opt/kata", rel)); got != want {
			t.Errorf("%s: mode %v, want %v", rel, got, want)
		}
	}
}
