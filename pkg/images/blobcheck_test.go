package images

import (
	"encoding/json"
	"path"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestBlobCheckerWalksEachDescriptorOnce: an index that lists one child
// many times, nested, is checked in as many steps as it has descriptors,
// not one per path (which here would be 300 × 300 manifests).
func TestBlobCheckerWalksEachDescriptorOnce(t *testing.T) {
	sizes, small := map[string]int64{}, map[string][]byte{}
	add := func(mediaType string, data []byte) ocispec.Descriptor {
		d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
		blob := path.Join("blobs", d.Digest.Algorithm().String(), d.Digest.Encoded())
		sizes[blob], small[blob] = d.Size, data
		return d
	}
	marshal := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	config := add(ocispec.MediaTypeImageConfig, []byte(`{}`))
	layer := add(ocispec.MediaTypeImageLayerGzip, []byte("layer"))
	manifest := add(ocispec.MediaTypeImageManifest, marshal(ocispec.Manifest{Config: config, Layers: []ocispec.Descriptor{layer}}))
	repeat := func(d ocispec.Descriptor) []ocispec.Descriptor {
		ds := make([]ocispec.Descriptor, 300)
		for i := range ds {
			ds[i] = d
		}
		return ds
	}
	inner := add(ocispec.MediaTypeImageIndex, marshal(ocispec.Index{Manifests: repeat(manifest)}))
	outer := add(ocispec.MediaTypeImageIndex, marshal(ocispec.Index{Manifests: repeat(inner)}))

	c := &blobChecker{sizes: sizes, small: small, seen: map[blobVisit]bool{}}
	if err := c.check(outer, 0); err != nil {
		t.Fatal(err)
	}
	if c.visits != 5 {
		t.Errorf("%d descriptors walked, want 5 (two indexes, the manifest, its config and layer)", c.visits)
	}
	// A missing blob is still found behind the repeats.
	delete(sizes, path.Join("blobs", layer.Digest.Algorithm().String(), layer.Digest.Encoded()))
	c = &blobChecker{sizes: sizes, small: small, seen: map[blobVisit]bool{}}
	if err := c.check(outer, 0); err == nil {
		t.Error("a missing layer was not found")
	}
}
