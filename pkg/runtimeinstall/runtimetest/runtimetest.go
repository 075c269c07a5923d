// Package runtimetest builds containerd and runc release files for tests:
// tarballs laid out as containerd publishes them (fake programs), a runc
// binary, a release manifest that lists both, and a loopback server of
// them.
package runtimetest

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/release/releasetest"
)

// Entry is one entry of a test tarball.
type Entry struct {
	Name     string
	Type     byte // tar.TypeReg when 0
	Body     string
	Linkname string
}

// Tarball is a .tar.gz of entries, in order, each of mode 0755.
func Tarball(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	out := make([]releasetest.Entry, len(entries))
	for i, e := range entries {
		out[i] = releasetest.Entry{Name: e.Name, Type: e.Type, Mode: 0o755, Data: []byte(e.Body), Linkname: e.Linkname}
	}
	return releasetest.Tarball(t, out...)
}

// Programs are the programs of a containerd release, as in its bin/.
var Programs = []string{"containerd", "containerd-shim-runc-v2", "containerd-stress", "ctr"}

// Containerd is a containerd release tarball of version: bin/ and its
// programs, each a script that names itself and the version.
func Containerd(t testing.TB, version string) []byte {
	t.Helper()
	entries := []Entry{{Name: "bin/", Type: tar.TypeDir}}
	for _, p := range Programs {
		entries = append(entries, Entry{Name: "bin/" + p, Body: Program(p, version)})
	}
	return Tarball(t, entries...)
}

// Program is the content of a fake program of a release.
func Program(name, version string) string {
	return "#!/bin/sh\necho " + name + " " + version + "\n"
}

// Runc is a runc release binary of version.
func Runc(version string) []byte { return []byte(Program("runc", version)) }

// ContainerdName and RuncName are the release files' names for arch.
func ContainerdName(version, arch string) string {
	return "containerd-static-" + version + "-linux-" + arch + ".tar.gz"
}

func RuncName(arch string) string { return "runc." + arch }

// SHA256 is data's checksum, as a manifest or a flag gives it.
func SHA256(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// Files are a containerd and a runc release, by file name.
type Files map[string][]byte

// Dir writes files into a new directory, as an operator's --artifacts-dir.
func (f Files) Dir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range f {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Release is the embedded EKS-D 1-36-7 with a containerd and a runc
// component, as a private mirror's manifest lists them, served at
// baseURL/<file name>; it returns the files to serve.
func Release(t testing.TB, containerdVersion, runcVersion, arch, baseURL string) (*eksd.Release, Files) {
	t.Helper()
	r := releasetest.Release(t, "1-36", 7, "https://distro.invalid", releasetest.Binaries())
	files := Files{
		ContainerdName(containerdVersion, arch): Containerd(t, containerdVersion),
		RuncName(arch):                          Runc(runcVersion),
	}
	for _, c := range []struct{ component, version, name string }{
		{eksd.ContainerdComponent, containerdVersion, ContainerdName(containerdVersion, arch)},
		{eksd.RuncComponent, runcVersion, RuncName(arch)},
	} {
		releasetest.AddArchive(r, c.component, "v"+c.version, c.name, arch, baseURL+"/"+c.name, files[c.name])
	}
	return r, files
}

// Server serves files over plain HTTP on loopback (which eksd-kata takes,
// as it does https) and counts the requests.
type Server struct {
	*httptest.Server
	mu    sync.Mutex
	files Files
	hits  int
}

// NewServer serves files at /<name>; Put adds more.
func NewServer(t testing.TB, files Files) *Server {
	s := &Server{files: Files{}}
	s.Put(files)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits++
		data, ok := s.files[strings.TrimPrefix(r.URL.Path, "/")]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(data)
	}))
	t.Cleanup(s.Close)
	return s
}

// Put serves files too, in place of those of the same names.
func (s *Server) Put(files Files) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, data := range files {
		s.files[name] = data
	}
}

// Hits counts the requests so far.
func (s *Server) Hits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits
}
