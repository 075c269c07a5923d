package host

import (
	"archive/tar"
	"bytes"
	"cmp"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type tarEntry struct {
	name, body, link string
	typ              byte
	mode             int64 // 0: 0755
}

func tarOf(t *testing.T, entries ...tarEntry) *tar.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: cmp.Or(e.mode, 0o755), Linkname: e.link, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return tar.NewReader(&buf)
}

func underOptKata(name string) (string, bool) {
	rel, ok := strings.CutPrefix(strings.TrimPrefix(name, "./"), "opt/kata/")
	return rel, ok
}

func TestInstallTreeSwapsAtomically(t *testing.T) {
	root := t.TempDir()
	f := NewFS(root)
	err := f.InstallTree("/opt/kata", tarOf(t,
		tarEntry{name: "./opt/kata/bin/", typ: tar.TypeDir},
		tarEntry{name: "./opt/kata/bin/containerd-shim-kata-v2", body: "v1", typ: tar.TypeReg},
		tarEntry{name: "./opt/kata/share/vmlinux.container", link: "vmlinux-6.1", typ: tar.TypeSymlink},
		tarEntry{name: "./etc/ignored", body: "x", typ: tar.TypeReg},
	), underOptKata, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "opt/kata/bin/containerd-shim-kata-v2")); string(b) != "v1" {
		t.Fatalf("shim = %q", b)
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/ignored")); err == nil {
		t.Fatal("an entry outside opt/kata was unpacked")
	}
	err = f.InstallTree("/opt/kata", tarOf(t, tarEntry{name: "opt/kata/bin/containerd-shim-kata-v2", body: "v2", typ: tar.TypeReg}), underOptKata, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "opt/kata/bin/containerd-shim-kata-v2")); string(b) != "v2" {
		t.Fatalf("after replace: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "opt/kata.eksd-kata-previous/bin/containerd-shim-kata-v2")); string(b) != "v1" {
		t.Fatalf("previous tree not kept: %q", b)
	}
	if left, _ := filepath.Glob(filepath.Join(root, "opt/.kata.eksd-kata-*")); len(left) != 0 {
		t.Fatalf("temporary trees left: %v", left)
	}
}

func TestSymlinkBacksUpOnceAndIsIdempotent(t *testing.T) {
	root := t.TempDir()
	f := NewFS(root)
	changed, err := f.Symlink("/opt/kata/bin/containerd-shim-kata-v2", "/usr/local/bin/containerd-shim-kata-v2")
	if err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	if changed, err := f.Symlink("/opt/kata/bin/containerd-shim-kata-v2", "/usr/local/bin/containerd-shim-kata-v2"); err != nil || changed {
		t.Fatalf("second: changed=%v err=%v", changed, err)
	}
	bs, err := f.Backups()
	// The link, then the directories it needed, deepest first.
	if err != nil || len(bs) != 4 || !bs[0].Created || bs[0].Dir || !bs[1].Dir || bs[1].Path != "/usr/local/bin" || bs[3].Path != "/usr" {
		t.Fatalf("backups %+v %v", bs, err)
	}
	if err := f.Restore("/usr/local/bin/containerd-shim-kata-v2"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, "usr/local/bin/containerd-shim-kata-v2")); err == nil {
		t.Fatal("restore left the created link")
	}
}
