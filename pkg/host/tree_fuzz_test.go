package host

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzUnpack installs arbitrary archives into /opt/kata of a root that sits
// a few directories below a scratch directory: InstallTree never panics
// and never creates anything outside /opt/kata, however the archive's
// names and links are made.
//
// An input is a tar stream, or, when it does not start with a tar header,
// an entry list that is turned into one, so that the fuzzer can vary names
// and links without breaking header checksums: one entry a line,
// "<type> <name> [<link target or file body>]", type d (dir), f (file),
// l (symlink), h (hard link) or c (character device).
func FuzzUnpack(f *testing.F) {
	for _, seed := range []string{
		// kata-static-shaped: directories, files, relative symlinks.
		"d ./opt/kata/\nd ./opt/kata/bin/\nf ./opt/kata/bin/containerd-shim-kata-v2 shim\nf ./opt/kata/bin/qemu-system-x86_64 qemu\n" +
			"d ./opt/kata/share/kata-containers/\nf ./opt/kata/share/kata-containers/vmlinux-6.1 kernel\n" +
			"l ./opt/kata/share/kata-containers/vmlinux.container vmlinux-6.1\nl ./opt/kata/share/defaults ../share/kata-containers\n" +
			"h ./opt/kata/bin/kata-runtime ./opt/kata/bin/containerd-shim-kata-v2\nf ./etc/ignored x\n",
		// A link to an ancestor inside the tree, written through.
		"d opt/kata/a/b\nl opt/kata/a/b/l ../..\nf opt/kata/a/b/l/x inside\n",
		// Hostile ones.
		"f opt/kata/../../x escaped\n",
		"l opt/kata/bin/sh /bin/sh\n",
		"l opt/kata/up ../../..\nf opt/kata/up/x escaped\n",
		"h opt/kata/shadow etc/shadow\n",
		"c opt/kata/kvm\n",
	} {
		f.Add([]byte(seed))
		f.Add(tarFromEntries([]byte(seed)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := tar.NewReader(bytes.NewReader(data)).Next(); err != nil && err != io.EOF {
			data = tarFromEntries(data)
		}
		scratch := t.TempDir()
		// Escapes of a few levels land inside scratch, where the check sees them.
		root := filepath.Join(scratch, "1/2/3/4/5/6/7/8/root")
		sentinel := filepath.Join(filepath.Dir(root), "sentinel")
		if err := os.MkdirAll(sentinel, 0o755); err != nil {
			t.Fatal(err)
		}
		tree := filepath.Join(root, "opt/kata")
		_ = NewFS(root).InstallTree("/opt/kata", tar.NewReader(bytes.NewReader(data)), underOptKata, nil)
		err := filepath.WalkDir(scratch, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch {
			case p == tree || strings.HasPrefix(p, tree+"/") || strings.HasPrefix(p, tree+".eksd-kata-") ||
				strings.HasPrefix(p, filepath.Join(root, "opt/.kata.eksd-kata-")):
				// The tree, the previous one and a temporary one.
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			case d.IsDir() && (p == sentinel || strings.HasPrefix(tree, p+"/")):
				return nil
			}
			t.Errorf("created outside /opt/kata: %s", p)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// tarFromEntries builds a tar stream from an entry list (see FuzzUnpack);
// lines it cannot read are skipped.
func tarFromEntries(list []byte) []byte {
	types := map[string]byte{"d": tar.TypeDir, "f": tar.TypeReg, "l": tar.TypeSymlink, "h": tar.TypeLink, "c": tar.TypeChar}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for line := range strings.Lines(string(list)) {
		fields := strings.SplitN(strings.TrimSuffix(line, "\n"), " ", 3)
		typ, ok := types[fields[0]]
		if !ok || len(fields) < 2 {
			continue
		}
		hdr := &tar.Header{Typeflag: typ, Name: fields[1], Mode: 0o755, Format: tar.FormatPAX}
		var body string
		if len(fields) == 3 {
			if typ == tar.TypeReg {
				body = fields[2]
			} else {
				hdr.Linkname = fields[2]
			}
		}
		hdr.Size = int64(len(body))
		if tw.WriteHeader(hdr) != nil {
			continue
		}
		_, _ = tw.Write([]byte(body))
	}
	_ = tw.Close() // a stream cut short is an input too
	return buf.Bytes()
}
