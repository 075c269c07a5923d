package runtimeinstall

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// maxProgram bounds one program of a release tarball held in memory: the
// containerd daemon, the largest, is about 60 MB.
const maxProgram = 512 << 20

// programs returns the programs of a containerd release tarball: the
// regular files directly in its bin/, by name. The whole archive is first
// read as host.CheckArchive would unpack it, so an entry that could leave
// its place anywhere in it refuses the archive; so does anything in bin/
// that is not a plain program, with an *host.UnsafeEntryError. Nothing is
// written: the caller installs what it returns.
func programs(data []byte) (map[string][]byte, error) {
	tr, err := tarball(data)
	if err != nil {
		return nil, err
	}
	if err := host.CheckArchive(tr, func(name string) (string, bool) { return name, true }); err != nil {
		return nil, err
	}
	if tr, err = tarball(data); err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		name, ok := strings.CutPrefix(path.Clean(hdr.Name), "bin/")
		if !ok {
			continue // bin/ itself, or what the release has beside it
		}
		switch {
		case strings.Contains(name, "/"):
			return nil, &host.UnsafeEntryError{Entry: hdr.Name, Reason: "is below bin/, where a containerd release has only programs"}
		case hdr.Typeflag != tar.TypeReg:
			return nil, &host.UnsafeEntryError{Entry: hdr.Name, Reason: "is not a regular file, and bin/ of a containerd release has only programs"}
		case out[name] != nil:
			return nil, &host.UnsafeEntryError{Entry: hdr.Name, Reason: "would replace what an earlier entry made"}
		case hdr.Size > maxProgram:
			return nil, fmt.Errorf("archive entry %q: %d bytes is more than a program of containerd can be", hdr.Name, hdr.Size)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("archive entry %q: %w", hdr.Name, err)
		}
		out[name] = b
	}
	if out["containerd"] == nil {
		return nil, errors.New("not a containerd release tarball: it has no bin/containerd")
	}
	return out, nil
}

func tarball(data []byte) (*tar.Reader, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not a containerd release tarball (.tar.gz): %w", err)
	}
	return tar.NewReader(zr), nil
}
