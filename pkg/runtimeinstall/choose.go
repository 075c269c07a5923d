package runtimeinstall

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/artifacts"
	"github.com/eksd-kata/eksd-kata/pkg/containerd"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
)

// Request is what the operator asked of the runtime phase.
type Request struct {
	// Containerd is --install-containerd: a version (2.2.7), a line (2.2
	// or 2.2.x, its newest patch) or a release tarball's file or URL.
	// Empty: containerd is installed only on a host without one.
	Containerd string
	// SHA256 is --containerd-sha256: the checksum of that file or URL, or
	// of a version eksd-kata carries no checksum for.
	SHA256 string
}

// Source is one release file to install.
type Source struct {
	artifacts.File
	// Local is the operator's file (--install-containerd FILE), read in
	// place of URL.
	Local string
	// From says where the choice comes from, for messages.
	From string
}

// Where is the file's origin for people: its path or URL.
func (s Source) Where() string {
	if s.Local != "" {
		return s.Local
	}
	return s.URL
}

// Choice is the containerd and runc the runtime phase installs, when it
// installs them.
type Choice struct {
	Containerd, Runc Source
	// Replace: --install-containerd asks for this containerd in place of
	// whatever is installed.
	Replace bool
}

const (
	fromManifest = "the release manifest"
	fromTable    = "its release"
	fromFlag     = "--install-containerd"
)

// tarballName is how containerd names its release tarballs: the static
// build, or the one linked against glibc.
var tarballName = regexp.MustCompile(`^containerd-(?:static-)?(\d+\.\d+\.\d+)-linux-([a-z0-9]+)\.tar\.gz$`)

// Choose picks the containerd and runc for a release on arch. Without a
// request, containerd is the release manifest's own component when it
// lists one (a private mirror's or a test bundle's), else the newest
// version eksd-kata carries a checksum for that the release's Kubernetes
// supports; runc likewise. Errors are the operator's to fix (bad input).
func Choose(rel *eksd.Release, req Request, arch string) (Choice, error) {
	minor := eksd.ChannelMinor(rel.Channel())
	var c Choice
	var err error
	if req.Containerd == "" {
		if req.SHA256 != "" {
			return Choice{}, fmt.Errorf("--containerd-sha256 checks the tarball of --install-containerd, which is not given: add --install-containerd VERSION|FILE|URL or drop --containerd-sha256")
		}
		c.Containerd, err = defaultContainerd(rel, arch, minor)
	} else {
		c.Replace = true
		c.Containerd, err = requested(rel, req, arch)
		if err == nil && containerd.SupportsKubernetes(c.Containerd.Version, minor) != nil {
			err = fmt.Errorf("--install-containerd %s: %s", req.Containerd, tooOldFor(c.Containerd.Version, minor))
		}
	}
	if err != nil {
		return Choice{}, err
	}
	c.Runc, err = fromRelease(rel, eksd.RuncComponent, artifacts.Runc, arch)
	if err != nil || c.Runc.URL != "" {
		return c, err
	}
	f, ok := artifacts.Newest(artifacts.Runc, arch, nil)
	if !ok {
		return Choice{}, fmt.Errorf("eksd-kata carries no runc for %s", arch)
	}
	c.Runc = Source{File: f, From: fromTable}
	return c, nil
}

// defaultContainerd is the manifest's containerd, else the newest carried
// one Kubernetes 1.<minor> supports.
func defaultContainerd(rel *eksd.Release, arch string, minor int) (Source, error) {
	s, err := fromRelease(rel, eksd.ContainerdComponent, artifacts.Containerd, arch)
	if err != nil || s.URL != "" {
		if err == nil && containerd.SupportsKubernetes(s.Version, minor) != nil {
			err = fmt.Errorf("the release manifest's containerd: %s", tooOldFor(s.Version, minor))
		}
		return s, err
	}
	f, ok := artifacts.Newest(artifacts.Containerd, arch, fits(minor))
	if !ok {
		return Source{}, fmt.Errorf("eksd-kata carries no containerd for %s that Kubernetes 1.%d supports (%s): give one with --install-containerd FILE|URL --containerd-sha256 SUM",
			arch, minor, containerd.MinimumVersionsText(minor))
	}
	return Source{File: f, From: fromTable}, nil
}

// fits takes the containerd versions Kubernetes 1.<minor> supports.
func fits(minor int) func(version string) bool {
	return func(v string) bool { return containerd.SupportsKubernetes(v, minor) == nil }
}

// fromRelease is the manifest's component of project for arch; a zero
// Source when the manifest lists none.
func fromRelease(rel *eksd.Release, component string, p artifacts.Project, arch string) (Source, error) {
	a, ok := rel.Archive(component, arch)
	if !ok {
		return Source{}, nil
	}
	v := strings.TrimPrefix(a.Version, "v")
	switch {
	case !artifacts.IsSHA256(a.SHA256):
		return Source{}, fmt.Errorf("the release manifest's %s for %s has no sha256 to verify it against", component, arch)
	case !validVersion(v):
		return Source{}, fmt.Errorf("the release manifest's %s: gitTag %q is not a version", component, a.Version)
	case !safeName(a.FileName):
		return Source{}, fmt.Errorf("the release manifest's %s: asset name %q is not a file name", component, a.FileName)
	}
	if err := artifacts.CheckURL(a.URL); err != nil {
		return Source{}, fmt.Errorf("the release manifest's %s: %w", component, err)
	}
	return Source{File: artifacts.File{Project: p, Version: v, Arch: arch, Name: a.FileName, URL: a.URL, SHA256: strings.ToLower(a.SHA256)}, From: fromManifest}, nil
}

// requested is the containerd --install-containerd names.
func requested(rel *eksd.Release, req Request, arch string) (Source, error) {
	given := req.Containerd
	if req.SHA256 != "" && !artifacts.IsSHA256(req.SHA256) {
		return Source{}, fmt.Errorf("--containerd-sha256 %q: want 64 hex digits", req.SHA256)
	}
	sum := strings.ToLower(req.SHA256)
	if artifacts.IsURL(given) || strings.Contains(given, "/") || strings.HasSuffix(given, ".tar.gz") {
		// A file or URL: its name says the version, the operator the checksum.
		name := path.Base(given)
		m := tarballName.FindStringSubmatch(name)
		switch {
		case m == nil:
			return Source{}, fmt.Errorf("--install-containerd %s: want a containerd release tarball, named containerd-static-VERSION-linux-ARCH.tar.gz as containerd publishes it", given)
		case m[2] != arch:
			return Source{}, fmt.Errorf("--install-containerd %s: for %s, this host is %s", given, m[2], arch)
		case sum == "":
			return Source{}, fmt.Errorf("--install-containerd %s: refusing to install without a checksum; pass --containerd-sha256 SUM (from the release page)", given)
		}
		s := Source{File: artifacts.File{Project: artifacts.Containerd, Version: m[1], Arch: arch, Name: name, SHA256: sum}, From: fromFlag}
		if artifacts.IsURL(given) {
			if err := artifacts.CheckURL(given); err != nil {
				return Source{}, fmt.Errorf("--install-containerd: %w", err)
			}
			s.URL = given
		} else {
			abs, err := filepath.Abs(given)
			if err != nil {
				return Source{}, fmt.Errorf("--install-containerd %s: %w", given, err)
			}
			s.Local = abs
		}
		return s, nil
	}
	// A version: the manifest's file when it is that version (a mirror),
	// else the project's release, with the checksum eksd-kata carries.
	if m, err := fromRelease(rel, eksd.ContainerdComponent, artifacts.Containerd, arch); err == nil && m.URL != "" && sameVersion(given, m.Version) {
		if sum != "" {
			return Source{}, fmt.Errorf("--containerd-sha256: the release manifest gives the checksum of containerd %s; drop the flag", m.Version)
		}
		return m, nil
	}
	f, err := artifacts.Lookup(artifacts.Containerd, given, arch)
	unknown := errors.As(err, new(*artifacts.UnknownVersionError)) && f.URL != ""
	switch {
	case err == nil && sum != "":
		return Source{}, fmt.Errorf("--containerd-sha256: eksd-kata carries the checksum of containerd %s itself; the flag is for versions it carries none for: drop it", f.Version)
	case err == nil:
		return Source{File: f, From: fromTable}, nil
	case unknown && sum != "":
		f.SHA256 = sum
		return Source{File: f, From: fromTable}, nil
	case unknown:
		return Source{}, fmt.Errorf("--install-containerd %s: %w; pass --containerd-sha256 SUM from the release page (%s)", given, err, f.URL)
	default:
		return Source{}, fmt.Errorf("--install-containerd %s: %w", given, err)
	}
}

func tooOldFor(version string, minor int) string {
	return fmt.Sprintf("containerd %s is too old for Kubernetes 1.%d (it needs %s)", version, minor, containerd.MinimumVersionsText(minor))
}

// sameVersion reports whether version is what want names: the exact
// version or its line (2.2, 2.2.x).
func sameVersion(want, version string) bool {
	want = strings.TrimSuffix(strings.TrimPrefix(want, "v"), ".x")
	return want == version || strings.HasPrefix(version, want+".") && strings.Count(want, ".") == 1
}

var versionRE = regexp.MustCompile(`^\d+\.\d+\.\d+$`)

func validVersion(v string) bool { return versionRE.MatchString(v) }

// safeName is a plain file name: nothing a path could be made of.
func safeName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}
