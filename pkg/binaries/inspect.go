package binaries

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// State is how an installed node binary compares with a release.
type State string

const (
	// Match: the file has the release's checksum.
	Match State = "match"
	// Differs: the file is not the release's.
	Differs State = "differs"
	// Missing: there is no file.
	Missing State = "missing"
	// Unverifiable: the release carries no checksum to compare with (an
	// embedded release); SHA256 says what the file is.
	Unverifiable State = "unverifiable"
)

// Installed is one node binary on a host, against a release.
type Installed struct {
	Name  string `json:"name"`
	Path  string `json:"path"`
	State State  `json:"state"`
	// Cached: the digests file vouched for it (installed verified, unchanged
	// since), so it was not hashed.
	Cached bool `json:"cached,omitempty"`
	// Algo and Got are the checksum computed of a hashed file; Want the
	// release's.
	Algo string `json:"algo,omitempty"`
	Got  string `json:"got,omitempty"`
	Want string `json:"want,omitempty"`
}

// Inspect compares kubeadm, kubelet and kubectl in dir (empty: the default)
// with rel's binaries for arch (empty: this machine's). It reads only:
// a file the digests file vouches for is not hashed again; any other is,
// with the manifest's checksum (sha256 when it has no checksum, to show).
func Inspect(h *host.Host, rel *eksd.Release, arch, dir string) ([]Installed, error) {
	s := &Step{Release: rel, Arch: arch, InstallDir: dir}
	var out []Installed
	for _, name := range eksd.RequiredBinaries {
		b, err := rel.Binary(name, s.arch())
		if err != nil {
			return nil, err
		}
		in := Installed{Name: name, Path: path.Join(s.installDir(), name)}
		if err := inspect(h, &in, b); err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

func inspect(h *host.Host, in *Installed, b eksd.Binary) error {
	if b.Verifiable() && knownGood(h, in.Path, b) {
		in.State, in.Cached = Match, true
		return nil
	}
	f, err := h.FS.OpenInput(in.Path)
	if errors.Is(err, fs.ErrNotExist) {
		in.State = Missing
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	var sum hash.Hash
	hs := newHasher(b)
	in.Algo, in.Want, sum = hs.algo, hs.want, hs.sum
	if sum == nil {
		in.Algo, sum = "sha256", sha256.New()
	}
	if _, err := io.Copy(sum, f); err != nil {
		return fmt.Errorf("reading %s: %w", in.Path, err)
	}
	in.Got = hex.EncodeToString(sum.Sum(nil))
	switch {
	case !b.Verifiable():
		in.State = Unverifiable
	case strings.EqualFold(in.Got, strings.TrimSpace(in.Want)):
		in.State = Match
	default:
		in.State = Differs
	}
	return nil
}

// IsRelease reports whether the node binary name in dir (empty: the
// default) is rel's for arch (empty: this machine's), by its checksum.
func IsRelease(h *host.Host, rel *eksd.Release, name, arch, dir string) (bool, error) {
	s := &Step{Release: rel, Arch: arch, InstallDir: dir}
	b, err := rel.Binary(name, s.arch())
	if err != nil {
		return false, err
	}
	in := Installed{Name: name, Path: path.Join(s.installDir(), name)}
	if err := inspect(h, &in, b); err != nil {
		return false, err
	}
	return in.State == Match, nil
}
