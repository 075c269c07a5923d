package releasetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
)

// CNIPlugins returns small, distinct fake CNI plugins, by name: those of
// eksd-kata's bridge pod network and one more.
func CNIPlugins() map[string][]byte {
	return fakes([]string{"bandwidth", "bridge", "host-local", "loopback", "portmap"}, "CNI plugin ", 100)
}

// Entry is one entry of a test tarball; Type 0 is a regular file.
type Entry struct {
	Name     string
	Type     byte
	Mode     int64
	Data     []byte
	Linkname string
}

// Tarball returns a gzip-compressed tar stream of entries, in order.
func Tarball(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Size: int64(len(e.Data)), Linkname: e.Linkname}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Typeflag != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			if _, err := tw.Write(e.Data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// CNITarball is the CNI plugins tarball as EKS-D builds it: each plugin
// as ./NAME, mode 0755, beside the licences of what they are built from.
func CNITarball(t testing.TB, plugins map[string][]byte) []byte {
	t.Helper()
	entries := []Entry{{Name: "./", Type: tar.TypeDir, Mode: 0o755}}
	for _, name := range slices.Sorted(maps.Keys(plugins)) {
		entries = append(entries, Entry{Name: "./" + name, Mode: 0o755, Data: plugins[name]})
	}
	entries = append(entries,
		Entry{Name: "./ATTRIBUTION.txt", Mode: 0o644, Data: []byte("attribution\n")},
		Entry{Name: "./LICENSES/", Type: tar.TypeDir, Mode: 0o755},
		Entry{Name: "./LICENSES/github.com/containernetworking/plugins/LICENSE", Mode: 0o644, Data: []byte("Apache-2.0\n")},
	)
	return Tarball(t, entries...)
}

// CNIPluginsVersion is the version of the CNI plugins AddCNIPlugins lists.
const CNIPluginsVersion = "v1.6.2"

// CNIFileName is the name of the CNI plugins tarball for arch, as EKS-D
// names it.
func CNIFileName(arch string) string {
	return fmt.Sprintf("cni-plugins-linux-%s-%s.tar.gz", arch, CNIPluginsVersion)
}

// AddCNIPlugins lists the CNI plugins component in r, as every published
// manifest does: for each architecture, tarballs[arch] served at
// baseURL/<file name> with its checksums.
func AddCNIPlugins(r *eksd.Release, baseURL string, tarballs map[string][]byte) {
	c := eksd.Component{Name: eksd.CNIPluginsComponent, GitTag: CNIPluginsVersion}
	for _, arch := range slices.Sorted(maps.Keys(tarballs)) {
		s256, s512 := sums(tarballs[arch])
		name := CNIFileName(arch)
		c.Assets = append(c.Assets, eksd.Asset{
			Name: name, Type: eksd.AssetTypeArchive, OS: "linux", Arch: []string{arch},
			Archive: &eksd.AssetArchive{URI: baseURL + "/" + name, SHA256: s256, SHA512: s512},
		})
	}
	r.Status.Components = append(r.Status.Components, c)
}

// sums are the hex sha256 and sha512 of data.
func sums(data []byte) (string, string) {
	s256, s512 := sha256.Sum256(data), sha512.Sum512(data)
	return hex.EncodeToString(s256[:]), hex.EncodeToString(s512[:])
}
