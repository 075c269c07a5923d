package eksd

import (
	"fmt"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/clip"
)

// imageRef is a split image reference: host[:port]/path:tag[@digest].
type imageRef struct {
	registry   string // public.ecr.aws
	path       string // eks-distro/kubernetes/pause
	repository string // registry + "/" + path
	tag        string
	digest     string
}

// parseImageRef splits a fully qualified, tagged reference. Manifests must
// name the registry: a reference without one would silently resolve to
// Docker Hub.
func parseImageRef(s string) (imageRef, error) {
	var ref imageRef
	if s == "" {
		return ref, fmt.Errorf("empty image reference")
	}
	if strings.ContainsAny(s, " \t\n") || strings.Contains(s, "://") {
		return ref, fmt.Errorf("%q is not an image reference (want host/path:tag)", clip.String(s))
	}
	rest := s
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		ref.digest = rest[i+1:]
		rest = rest[:i]
		if !strings.Contains(ref.digest, ":") {
			return ref, fmt.Errorf("image reference %q: digest %q is not algorithm:hex", clip.String(s), clip.String(ref.digest))
		}
	}
	slash := strings.LastIndexByte(rest, '/')
	if i := strings.LastIndexByte(rest, ':'); i > slash {
		ref.tag = rest[i+1:]
		rest = rest[:i]
	}
	if ref.tag == "" {
		return ref, fmt.Errorf("image reference %q has no tag (want host/path:tag)", clip.String(s))
	}
	host, p, ok := strings.Cut(rest, "/")
	if !ok || p == "" || !looksLikeRegistry(host) {
		return ref, fmt.Errorf("image reference %q does not start with a registry host (want e.g. public.ecr.aws/eks-distro/...)", clip.String(s))
	}
	ref.registry, ref.path, ref.repository = host, p, rest
	return ref, nil
}

func looksLikeRegistry(host string) bool {
	return host == "localhost" || strings.ContainsAny(host, ".:")
}

func (r imageRef) String() string {
	s := r.repository + ":" + r.tag
	if r.digest != "" {
		s += "@" + r.digest
	}
	return s
}

// withRegistry returns r served from mirror (host[:port][/path]) instead of
// its own registry; the repository path is kept so a plain mirror of
// public.ecr.aws works.
func (r imageRef) withRegistry(mirror string) imageRef {
	if mirror == "" {
		return r
	}
	out := r
	host, prefix, _ := strings.Cut(mirror, "/")
	out.registry = host
	if prefix != "" {
		out.path = prefix + "/" + r.path
	}
	out.repository = out.registry + "/" + out.path
	return out
}

// CheckMirror validates a mirror given as host[:port][/path], e.g.
// "127.0.0.1:5000" or "registry.local/mirror".
func CheckMirror(mirror string) error {
	if mirror == "" {
		return nil
	}
	host, p, _ := strings.Cut(mirror, "/")
	switch {
	case strings.Contains(mirror, "://"):
		return fmt.Errorf("image mirror %q: give host[:port][/path] without a URL scheme", mirror)
	case strings.ContainsAny(mirror, " \t\n@"):
		return fmt.Errorf("image mirror %q: contains a space or '@'", mirror)
	case host == "" || !looksLikeRegistry(host):
		return fmt.Errorf("image mirror %q: %q is not a registry host (want e.g. registry.local or 127.0.0.1:5000)", mirror, host)
	case strings.HasSuffix(mirror, "/") || strings.Contains(p, "//"):
		return fmt.Errorf("image mirror %q: remove the trailing or doubled '/'", mirror)
	case strings.Contains(p, ":"):
		return fmt.Errorf("image mirror %q: the path part must not contain ':' (a tag is not allowed)", mirror)
	}
	return nil
}
