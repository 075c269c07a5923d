package images

import (
	"archive/tar"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// testRegistry is an in-memory OCI registry on loopback.
func testRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(newTestRegistry())
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func newTestRegistry() http.Handler {
	return registry.New(registry.Logger(log.New(io.Discard, "", 0)))
}

// pushTo pushes a small random image as ref.
func pushTo(t *testing.T, ref string) {
	t.Helper()
	push(t, map[string]v1.Image{ref: randomImage(t, 1024, 1)})
}

// randomImage is a small linux image of this machine's architecture.
func randomImage(t testing.TB, layerSize int64, layers int) v1.Image {
	t.Helper()
	img, err := random.Image(layerSize, int64(layers))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// testConfig is a node config pulling from mirror.
func testConfig(role config.Role, mirror string) *config.NodeConfig {
	cfg := config.Default()
	cfg.Spec.Node.Role = role
	cfg.Spec.Images.Mirror = mirror
	return cfg
}

// testImages builds one random image per pair, keyed by source reference.
func testImages(t *testing.T, pairs []eksd.ImagePair) map[string]v1.Image {
	t.Helper()
	out := map[string]v1.Image{}
	for _, p := range pairs {
		out[p.Source] = randomImage(t, 32<<10, 2)
	}
	return out
}

// push pushes every image to its reference on the test registry.
func push(t *testing.T, imgs map[string]v1.Image) {
	t.Helper()
	for ref, img := range imgs {
		r, err := name.ParseReference(ref, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(r, img); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
	}
}

func digestOf(t testing.TB, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// releaseWithDigests is the default release with imageDigest set for the
// named images.
func releaseWithDigests(t *testing.T, digests map[string]string) *eksd.Release {
	t.Helper()
	r := *eksd.Default()
	r.Status.Components = append([]eksd.Component(nil), r.Status.Components...)
	for i := range r.Status.Components {
		c := &r.Status.Components[i]
		c.Assets = append([]eksd.Asset(nil), c.Assets...)
		for j := range c.Assets {
			a := &c.Assets[j]
			if a.Image == nil {
				continue
			}
			for n, d := range digests {
				if strings.Contains(a.Image.URI, "/"+n+":") {
					img := *a.Image
					img.ImageDigest = d
					a.Image = &img
				}
			}
		}
	}
	return &r
}

// ociArchive writes imgs as an OCI layout tarball, named like ctr export does.
func ociArchive(t *testing.T, imgs map[string]v1.Image) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for ref, img := range imgs {
		_, tag, _ := strings.Cut(ref[strings.LastIndex(ref, "/"):], ":")
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
			"io.containerd.image.name":          ref,
			"org.opencontainers.image.ref.name": tag,
		})); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "images.tar")
	tarDir(t, string(p), out)
	return out
}

// dockerArchive writes imgs as docker save does.
func dockerArchive(t *testing.T, imgs map[string]v1.Image) string {
	t.Helper()
	refs := map[name.Reference]v1.Image{}
	for ref, img := range imgs {
		r, err := name.NewTag(ref, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		refs[r] = img
	}
	out := filepath.Join(t.TempDir(), "images.tar")
	if err := tarball.MultiRefWriteToFile(out, refs); err != nil {
		t.Fatal(err)
	}
	return out
}

func tarDir(t *testing.T, dir, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o644, Size: fi.Size(), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

type v1Image = v1.Image

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// truncatedLayout is an OCI layout tarball with one layer blob left out.
func truncatedLayout(t *testing.T, imgs map[string]v1.Image) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	var victim v1.Hash
	for ref, img := range imgs {
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"io.containerd.image.name": ref})); err != nil {
			t.Fatal(err)
		}
		ls, _ := img.Layers()
		victim, _ = ls[0].Digest()
	}
	if err := os.Remove(filepath.Join(string(p), "blobs", victim.Algorithm, victim.Hex)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "images.tar")
	tarDir(t, string(p), out)
	return out
}
