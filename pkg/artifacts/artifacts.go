// Package artifacts names the upstream release files eksd-kata installs by
// version (containerd, runc, kata-static): where each project publishes
// them and the sha256 eksd-kata carries for the versions it knows, and
// gets one verified, from the network or from an operator's directory.
package artifacts

import (
	_ "embed"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"sigs.k8s.io/yaml"
)

// Project is one of the upstream projects whose releases eksd-kata installs.
type Project string

const (
	Containerd Project = "containerd"
	Runc       Project = "runc"
	Kata       Project = "kata"
)

// File is one release file of a project, for one architecture.
type File struct {
	Project Project
	Version string // without a leading v: 2.2.7, 1.3.4, 3.32.0
	Arch    string // amd64, arm64
	Name    string // the file's name in the release: containerd-static-2.2.7-linux-amd64.tar.gz
	URL     string
	// SHA256 is the expected checksum; empty when eksd-kata carries none for
	// this version and the operator gave none.
	SHA256 string
}

// Known reports whether the file has a checksum to verify it against.
func (f File) Known() bool { return f.SHA256 != "" }

// Lookup returns the release file of project at version for arch. version
// is exact (2.2.7), or a line (2.2 or 2.2.x) for the newest patch carried
// in it. A version eksd-kata carries no checksum for still returns its
// file and URL, with SHA256 empty, and an *UnknownVersionError.
func Lookup(p Project, version, arch string) (File, error) {
	v := strings.TrimPrefix(strings.TrimSpace(version), "v")
	if line, ok := strings.CutSuffix(v, ".x"); ok {
		v = line
	}
	if _, err := parseVersion(v); err != nil {
		return File{}, fmt.Errorf("%s version %q: want MAJOR.MINOR.PATCH (or MAJOR.MINOR for its newest patch)", p, version)
	}
	sums := table()[p]
	if strings.Count(v, ".") == 1 {
		newest := ""
		for _, have := range Versions(p) {
			if strings.HasPrefix(have, v+".") {
				newest = have
				break
			}
		}
		if newest == "" {
			return File{}, &UnknownVersionError{Project: p, Version: version, Known: Versions(p)}
		}
		v = newest
	}
	f, err := file(p, v, arch)
	if err != nil {
		return File{}, err
	}
	sum, ok := sums[v][arch]
	if !ok {
		return f, &UnknownVersionError{Project: p, Version: v, Arch: arch, Known: Versions(p)}
	}
	f.SHA256 = sum
	return f, nil
}

// Newest returns the newest version of p carried for arch that accept
// takes (nil: any).
func Newest(p Project, arch string, accept func(version string) bool) (File, bool) {
	for _, v := range Versions(p) {
		if accept == nil || accept(v) {
			if f, err := Lookup(p, v, arch); err == nil {
				return f, true
			}
		}
	}
	return File{}, false
}

// Versions lists the versions of p eksd-kata carries checksums for, newest first.
func Versions(p Project) []string {
	var vs []string
	for v := range table()[p] {
		vs = append(vs, v)
	}
	slices.SortFunc(vs, func(a, b string) int { return Compare(b, a) })
	return vs
}

// Arches are the architectures eksd-kata installs release files for.
var Arches = []string{"amd64", "arm64"}

func file(p Project, v, arch string) (File, error) {
	if !slices.Contains(Arches, arch) {
		return File{}, fmt.Errorf("%s for %s: eksd-kata installs only %s", p, arch, strings.Join(Arches, ", "))
	}
	f := File{Project: p, Version: v, Arch: arch}
	switch p {
	case Containerd:
		// The static build: it runs on any distribution's libc.
		f.Name = fmt.Sprintf("containerd-static-%s-linux-%s.tar.gz", v, arch)
		f.URL = "https://github.com/containerd/containerd/releases/download/v" + v + "/" + f.Name
	case Runc:
		f.Name = "runc." + arch
		f.URL = "https://github.com/opencontainers/runc/releases/download/v" + v + "/" + f.Name
	case Kata:
		ext := "tar.zst"
		if Compare(v, "3.21.0") < 0 {
			ext = "tar.xz"
		}
		f.Name = fmt.Sprintf("kata-static-%s-%s.%s", v, arch, ext)
		f.URL = "https://github.com/kata-containers/kata-containers/releases/download/" + v + "/" + f.Name
	default:
		return File{}, fmt.Errorf("unknown project %q", p)
	}
	return f, nil
}

// UnknownVersionError says that eksd-kata carries no checksum for a version.
type UnknownVersionError struct {
	Project Project
	Version string
	Arch    string
	Known   []string
}

func (e *UnknownVersionError) Error() string {
	what := string(e.Project) + " " + e.Version
	if e.Arch != "" {
		what += " for " + e.Arch
	}
	known := "none"
	if n := len(e.Known); n > 0 {
		known = e.Known[n-1] + " to " + e.Known[0]
	}
	return fmt.Sprintf("eksd-kata carries no checksum for %s (it knows %s)", what, known)
}

// Compare orders two versions (MAJOR.MINOR[.PATCH]) numerically.
func Compare(a, b string) int {
	va, _ := parseVersion(a)
	vb, _ := parseVersion(b)
	return slices.Compare(va, vb)
}

func parseVersion(s string) ([]int, error) {
	parts := strings.Split(strings.TrimPrefix(s, "v"), ".")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, fmt.Errorf("version %q", s)
	}
	out := make([]int, 3)
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("version %q", s)
		}
		out[i] = n
	}
	return out, nil
}

//go:embed checksums.yaml
var checksumsYAML []byte

var table = sync.OnceValue(func() map[Project]map[string]map[string]string {
	var t map[Project]map[string]map[string]string
	if err := yaml.UnmarshalStrict(checksumsYAML, &t); err != nil {
		panic("artifacts: checksums.yaml: " + err.Error())
	}
	return t
})
