package ctrtest

import (
	"archive/tar"
	"bytes"
	"context"
	_ "crypto/sha256" // go-digest needs the hash registered
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// pauseSource is the whole pause image: a static binary that sleeps until
// killed, like registry.k8s.io/pause.
const pauseSource = `package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
`

var (
	pauseOnce sync.Once
	pauseBin  []byte
	pauseErr  error
)

// PauseBinary builds the static pause binary once per test process.
func PauseBinary(t testing.TB) []byte {
	t.Helper()
	pauseOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pause")
		if err != nil {
			pauseErr = err
			return
		}
		defer os.RemoveAll(dir)
		src := filepath.Join(dir, "main.go")
		if pauseErr = os.WriteFile(src, []byte(pauseSource), 0o644); pauseErr != nil {
			return
		}
		out := filepath.Join(dir, "pause")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, src)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GO111MODULE=off")
		if b, err := cmd.CombinedOutput(); err != nil {
			pauseErr = fmt.Errorf("go build pause: %v: %s", err, b)
			return
		}
		pauseBin, pauseErr = os.ReadFile(out)
	})
	if pauseErr != nil {
		t.Skipf("cannot build the pause binary (needs the go tool): %v", pauseErr)
	}
	return pauseBin
}

// PauseArchive returns an OCI image layout tarball holding one image named
// ref whose single uncompressed layer is /pause.
func PauseArchive(binary []byte, ref string) ([]byte, error) {
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	if err := tw.WriteHeader(&tar.Header{Name: "pause", Mode: 0o755, Size: int64(len(binary)), Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(binary); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layerDesc := descriptor(ocispec.MediaTypeImageLayer, layer.Bytes())
	cfg, err := json.Marshal(ocispec.Image{
		Platform: ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH},
		Config:   ocispec.ImageConfig{Entrypoint: []string{"/pause"}},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layerDesc.Digest}},
	})
	if err != nil {
		return nil, err
	}
	cfgDesc := descriptor(ocispec.MediaTypeImageConfig, cfg)
	manifest, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cfgDesc,
		Layers:    []ocispec.Descriptor{layerDesc},
	})
	if err != nil {
		return nil, err
	}
	mDesc := descriptor(ocispec.MediaTypeImageManifest, manifest)
	mDesc.Platform = &ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
	mDesc.Annotations = map[string]string{"io.containerd.image.name": ref}
	index, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{mDesc},
	})
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	tw = tar.NewWriter(&out)
	files := []struct {
		name string
		data []byte
	}{
		{ocispec.ImageLayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
		{blobPath(layerDesc), layer.Bytes()},
		{blobPath(cfgDesc), cfg},
		{blobPath(mDesc), manifest},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func descriptor(mediaType string, data []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
}

func blobPath(d ocispec.Descriptor) string {
	return "blobs/sha256/" + d.Digest.Encoded()
}

// ImportPause imports the pause image as ref into namespace k8s.io through
// the containerd Go client and unpacks it for the overlayfs snapshotter,
// which is what the CRI plugin needs before it can start a sandbox.
func ImportPause(ctx context.Context, t testing.TB, d *Daemon, ref string) {
	t.Helper()
	archive, err := PauseArchive(PauseBinary(t), ref)
	if err != nil {
		t.Fatal(err)
	}
	c, err := containerd.New(d.Socket, containerd.WithDefaultNamespace("k8s.io"))
	if err != nil {
		t.Fatalf("containerd client: %v", err)
	}
	defer c.Close()
	imgs, err := c.Import(ctx, bytes.NewReader(archive))
	if err != nil {
		t.Fatalf("import pause image: %v", err)
	}
	if len(imgs) != 1 || imgs[0].Name != ref {
		t.Fatalf("import pause image: got %v, want one image %s", imgs, ref)
	}
	if err := containerd.NewImage(c, imgs[0]).Unpack(ctx, "overlayfs"); err != nil {
		t.Fatalf("unpack pause image: %v", err)
	}
}
