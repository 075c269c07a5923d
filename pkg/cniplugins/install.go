package cniplugins

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/artifacts"
	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// maxPlugins bounds the plugins a tarball unpacks to, all together: a
// release's are about 100 MB; more is not a CNI plugins tarball.
const maxPlugins = 1 << 30

// Install puts the plugins of the release's tarball into Dir, each written
// atomically (and backed up, for reset), then records what it installed.
// The tarball is verified, and every entry checked, before the first write.
type Install struct {
	Archive eksd.Archive
	Dir     string
	// Artifact is the operator's copy, read and verified while planning.
	Artifact string

	tarball *tarball // the plugins of Artifact
	changed []string // the plugins of Artifact that differ from Dir's
	step    *Step
}

func (c *Install) Summary() string {
	from := c.Archive.URL
	if c.Artifact != "" {
		from = c.Artifact
	}
	s := fmt.Sprintf("install the CNI plugins %s into %s from %s (sha256 verified first; other plugins there are kept)", c.Archive.Version, c.Dir, from)
	if c.changed != nil {
		s += ": " + strings.Join(c.changed, ", ")
	}
	return s
}

func (c *Install) Apply(ctx context.Context, h *host.Host) error {
	t := c.tarball
	if t == nil {
		data, err := getter(c.step).Get(ctx, file(c.Archive))
		if err != nil {
			return err
		}
		if t, err = readTarball(data); err != nil {
			err = fmt.Errorf("%s: %w", c.Archive.URL, err)
			var unsafe *host.UnsafeEntryError
			if errors.As(err, &unsafe) {
				return badinput.Wrap(err) // its checksum says which archive this is, not that it is safe
			}
			return err
		}
		if w := c.step.Progress; w != nil {
			fmt.Fprintf(w, "cni-plugins: %.1f MiB downloaded, sha256 verified, %d plugins\n", float64(len(data))/(1<<20), len(t.plugins))
		}
	}
	for _, name := range t.names() {
		if _, err := h.FS.WriteFile(path.Join(c.Dir, name), t.plugins[name], 0o755); err != nil {
			return err
		}
	}
	_, err := h.FS.WriteFile(RecordFile, t.record(c.Archive, c.Dir), 0o644)
	return err
}

// getter gets the tarball as the step is set to: from the operator's
// directory or the network.
func getter(s *Step) artifacts.Getter {
	return artifacts.Getter{Client: s.Client, Policy: s.Policy, Dir: s.ArtifactsDir}
}

// file is the tarball as pkg/artifacts gets it: by its file name from
// --artifacts-dir, or its URL, verified against the manifest's sha256.
func file(a eksd.Archive) artifacts.File {
	return artifacts.File{Name: a.FileName, URL: a.URL, SHA256: a.SHA256, Arch: a.Arch, Version: strings.TrimPrefix(a.Version, "v")}
}

// tarball is what a CNI plugins tarball installs: its plugins by name.
type tarball struct {
	sha256  string
	plugins map[string][]byte
}

func (t *tarball) names() []string { return slices.Sorted(maps.Keys(t.plugins)) }

// readTarball reads the plugins out of a verified tarball. The whole
// archive is first read as host.InstallTree would unpack it, so that one
// entry that could leave the directory (a "..", an absolute path, a
// symlink out, a device) refuses all of it. The plugins are its top-level
// executable regular files (and hard links to them); what EKS-D puts
// beside them (ATTRIBUTION.txt, LICENSES/) is not installed.
func readTarball(data []byte) (*tarball, error) {
	open := func() (*tar.Reader, error) {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("not a .tar.gz: %w", err)
		}
		return tar.NewReader(zr), nil
	}
	tr, err := open()
	if err != nil {
		return nil, err
	}
	if err := host.CheckArchive(tr, topLevel); err != nil {
		return nil, err
	}
	if tr, err = open(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	t := &tarball{sha256: hex.EncodeToString(sum[:]), plugins: map[string][]byte{}}
	var total int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		name, _ := topLevel(hdr.Name)
		if strings.Contains(name, "/") || strings.HasPrefix(name, ".") {
			continue // below the top, the top itself, or hidden
		}
		switch {
		case hdr.Typeflag == tar.TypeReg && hdr.Mode&0o111 != 0:
			if total += hdr.Size; total > maxPlugins {
				return nil, fmt.Errorf("more than %d MiB of plugins: not a CNI plugins tarball", maxPlugins>>20)
			}
			b, err := io.ReadAll(io.LimitReader(tr, hdr.Size))
			if err != nil {
				return nil, fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
			t.plugins[name] = b
		case hdr.Typeflag == tar.TypeLink:
			// CheckArchive saw that the target is a regular file made before.
			if target, _ := topLevel(hdr.Linkname); t.plugins[target] != nil {
				t.plugins[name] = t.plugins[target]
			}
		}
	}
	if len(t.plugins) == 0 {
		return nil, errors.New("no CNI plugins in it (executable files at its top)")
	}
	return t, nil
}

// topLevel maps an entry of the tarball ("./bridge") to its place in the
// plugins directory ("bridge"); "./" is the directory itself.
func topLevel(name string) (string, bool) {
	return path.Clean(strings.TrimPrefix(name, "./")), true
}

// differing lists the plugins of t that dir does not hold as t has them
// (content and mode 0755).
func (t *tarball) differing(h *host.Host, dir string) []string {
	var out []string
	for _, name := range t.names() {
		sum := sha256.Sum256(t.plugins[name])
		if !installed(h, path.Join(dir, name), hex.EncodeToString(sum[:])) {
			out = append(out, name)
		}
	}
	return out
}

// installed reports whether p is a regular file, mode 0755, whose sha256
// is want.
func installed(h *host.Host, p, want string) bool {
	f, err := h.FS.OpenInput(p)
	if err != nil {
		return false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Mode().Perm() != 0o755 {
		return false
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, f); err != nil {
		return false
	}
	return hex.EncodeToString(sum.Sum(nil)) == want
}
