package images

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/archive/compression"
	"github.com/distribution/reference"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// smallFile bounds the files of an archive kept in memory while it is
// checked: indexes, manifests and configs, never layers.
const smallFile = 4 << 20

// archive is what an image archive holds, read without importing it.
type archive struct {
	path   string
	kind   string            // "OCI layout" or "docker archive"
	images map[string]string // normalized reference → manifest digest ("" when the archive does not say)
}

// readArchive reads an OCI layout tarball (ctr images export, skopeo,
// crane) or a docker archive (docker save) and checks that every blob its
// manifests name is there with its size; digests are verified by the import.
func readArchive(file string) (*archive, error) {
	f, err := host.OpenInput(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := compression.DecompressStream(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	defer r.Close()
	sizes, small, err := readTar(r)
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable tar archive: %w", file, err)
	}
	a := &archive{path: file, images: map[string]string{}}
	switch {
	case small["index.json"] != nil:
		a.kind = "OCI layout"
		err = a.readOCI(sizes, small)
	case small["manifest.json"] != nil:
		a.kind = "docker archive"
		err = a.readDocker(sizes, small)
	default:
		err = errors.New("neither an OCI image layout (no index.json) nor a docker archive (no manifest.json)")
	}
	if err == nil && len(a.images) == 0 {
		err = errors.New("names no image (no io.containerd.image.name or full org.opencontainers.image.ref.name annotation, no RepoTags)")
	}
	if err != nil {
		kind := a.kind
		if kind == "" {
			kind = "image archive"
		}
		return nil, fmt.Errorf("%s: %s: %w", file, kind, err)
	}
	return a, nil
}

func readTar(r io.Reader) (sizes map[string]int64, small map[string][]byte, err error) {
	sizes, small = map[string]int64{}, map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		sizes[name] = hdr.Size
		if hdr.Size <= smallFile {
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, nil, err
			}
			small[name] = b
		}
	}
	if len(sizes) == 0 {
		return nil, nil, errors.New("no files")
	}
	return sizes, small, nil
}

func (a *archive) readOCI(sizes map[string]int64, small map[string][]byte) error {
	if _, ok := sizes[ocispec.ImageLayoutFile]; !ok {
		return fmt.Errorf("no %s file", ocispec.ImageLayoutFile)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(small["index.json"], &idx); err != nil {
		return fmt.Errorf("index.json: %w", err)
	}
	c := &blobChecker{sizes: sizes, small: small, seen: map[blobVisit]bool{}}
	for _, m := range idx.Manifests {
		if err := c.check(m, 0); err != nil {
			return err
		}
		name := m.Annotations[images.AnnotationImageName]
		if name == "" {
			name = m.Annotations[ocispec.AnnotationRefName]
		}
		if ref, ok := normalize(name); ok {
			a.images[ref] = m.Digest.String()
		}
	}
	return nil
}

// blobChecker walks OCI descriptors down to their layers. A descriptor
// met again at the same depth is not walked again: an index may list one
// child many times, and walking every path would take time growing with
// the cube of that count.
type blobChecker struct {
	sizes  map[string]int64
	small  map[string][]byte
	seen   map[blobVisit]bool
	visits int // descriptors walked, for tests
}

type blobVisit struct {
	digest, mediaType string
	size              int64
	depth             int
}

// check walks d, found at depth.
func (c *blobChecker) check(d ocispec.Descriptor, depth int) error {
	v := blobVisit{digest: d.Digest.String(), mediaType: d.MediaType, size: d.Size, depth: depth}
	if c.seen[v] {
		return nil
	}
	c.seen[v] = true
	c.visits++
	sizes, small := c.sizes, c.small
	if err := d.Digest.Validate(); err != nil {
		return fmt.Errorf("descriptor %q: %w", d.Digest, err)
	}
	blob := path.Join("blobs", d.Digest.Algorithm().String(), d.Digest.Encoded())
	size, ok := sizes[blob]
	if !ok {
		return fmt.Errorf("blob %s (%s) is missing", d.Digest, d.MediaType)
	}
	if size != d.Size {
		return fmt.Errorf("blob %s is %d bytes, its descriptor says %d", d.Digest, size, d.Size)
	}
	if depth > 4 {
		return errors.New("indexes nested too deep")
	}
	var children []ocispec.Descriptor
	switch d.MediaType {
	case ocispec.MediaTypeImageIndex, images.MediaTypeDockerSchema2ManifestList:
		var idx ocispec.Index
		if err := json.Unmarshal(small[blob], &idx); err != nil {
			return fmt.Errorf("index %s: %w", d.Digest, err)
		}
		children = idx.Manifests
	case ocispec.MediaTypeImageManifest, images.MediaTypeDockerSchema2Manifest:
		var m ocispec.Manifest
		if err := json.Unmarshal(small[blob], &m); err != nil {
			return fmt.Errorf("manifest %s: %w", d.Digest, err)
		}
		children = append([]ocispec.Descriptor{m.Config}, m.Layers...)
	}
	for _, child := range children {
		// A multi-platform index may hold only this platform's blobs; the
		// import takes only those too.
		if child.Platform != nil && depth == 0 && !slices.Contains([]string{"", "linux"}, child.Platform.OS) {
			continue
		}
		if err := c.check(child, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (a *archive) readDocker(sizes map[string]int64, small map[string][]byte) error {
	var entries []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(small["manifest.json"], &entries); err != nil {
		return fmt.Errorf("manifest.json: %w", err)
	}
	for _, e := range entries {
		for _, f := range append([]string{e.Config}, e.Layers...) {
			if _, ok := sizes[path.Clean(f)]; !ok {
				return fmt.Errorf("%s is missing", f)
			}
		}
		for _, t := range e.RepoTags {
			if ref, ok := normalize(t); ok {
				a.images[ref] = ""
			}
		}
	}
	return nil
}

// normalize returns the full reference of name ("docker.io/library/x:latest"
// for "x"); a bare tag such as ctr's ref.name "v1.36.2" is not a name.
func normalize(name string) (string, bool) {
	if name == "" || !strings.Contains(name, "/") && !strings.Contains(name, ":") {
		return "", false
	}
	n, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "", false
	}
	return reference.TagNameOnly(n).String(), true
}

// find returns the archive's name of pair: its source, or the release's
// own (public) reference when a mirror is configured.
func (a *archive) find(pair eksd.ImagePair, public string) (string, bool) {
	for _, ref := range []string{pair.Source, public} {
		if n, ok := normalize(ref); ok {
			if _, ok := a.images[n]; ok {
				return n, true
			}
		}
	}
	return "", false
}

// check refuses an archive that holds none of pairs or one whose manifest
// digest differs from the release's.
func (a *archive) check(pairs []eksd.ImagePair, public map[string]string) error {
	found := 0
	for _, p := range pairs {
		name, ok := a.find(p, public[p.Name])
		if !ok {
			continue
		}
		found++
		if got := a.images[name]; p.Digest != "" && got != "" && got != p.Digest {
			return fmt.Errorf("%s: %s has manifest digest %s, the release names %s", a.path, name, got, p.Digest)
		}
	}
	if found == 0 {
		names := make([]string, 0, len(a.images))
		for n := range a.images {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("%s: holds none of the release's images for this node (it holds %s)", a.path, strings.Join(names, ", "))
	}
	return nil
}
