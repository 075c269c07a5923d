package images

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
)

// FuzzImageArchive reads arbitrary files as image archives (images import
// FILE): readArchive never panics, and an archive it accepts names only
// normalized references, which check can match against a release.
func FuzzImageArchive(f *testing.F) {
	const ref = "public.ecr.aws/eks-distro/kubernetes/pause:v1.36.2-eks-1-36-7"
	oci, docker := ociLayoutTar(ref), dockerSaveTar(ref)
	f.Add(oci)
	f.Add(docker)
	f.Add(bytes.ReplaceAll(oci, []byte(`"size":`), []byte(`"size":1`)))   // sizes that do not match
	f.Add(bytes.ReplaceAll(docker, []byte(`"l.tar"`), []byte(`"x.tar"`))) // a missing layer
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(dir, "images.tar")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		a, err := readArchive(file)
		if err != nil {
			return
		}
		if len(a.images) == 0 || a.kind == "" {
			t.Fatalf("accepted archive %+v", a)
		}
		for name := range a.images {
			if n, ok := normalize(name); !ok || n != name {
				t.Fatalf("image name %q is not normalized (%q, %v)", name, n, ok)
			}
		}
		pairs := []eksd.ImagePair{{Name: eksd.Pause, Source: ref, Digest: "sha256:" + hex.EncodeToString(make([]byte, 32))}}
		_ = a.check(pairs, map[string]string{eksd.Pause: ref})
	})
}

// ociLayoutTar is a one-image OCI layout as ctr images export writes it.
func ociLayoutTar(ref string) []byte {
	files := map[string][]byte{"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`)}
	blob := func(media string, data []byte) string {
		sum := sha256.Sum256(data)
		files["blobs/sha256/"+hex.EncodeToString(sum[:])] = data
		return fmt.Sprintf(`{"mediaType":%q,"digest":"sha256:%x","size":%d`, media, sum, len(data))
	}
	config := blob("application/vnd.oci.image.config.v1+json", []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	layer := blob("application/vnd.oci.image.layer.v1.tar", make([]byte, 1024))
	manifest := blob("application/vnd.oci.image.manifest.v1+json", []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":`+config+`},"layers":[`+layer+`}]}`))
	files["index.json"] = []byte(`{"schemaVersion":2,"manifests":[` + manifest + `,"annotations":{"io.containerd.image.name":"` + ref + `","org.opencontainers.image.ref.name":"v1"}}]}`)
	return tarOfFiles(files)
}

// dockerSaveTar is a one-image archive as docker save writes it.
func dockerSaveTar(ref string) []byte {
	return tarOfFiles(map[string][]byte{
		"manifest.json": []byte(`[{"Config":"c.json","RepoTags":["` + ref + `"],"Layers":["l.tar"]}]`),
		"c.json":        []byte(`{"architecture":"amd64","os":"linux"}`),
		"l.tar":         make([]byte, 1024),
	})
}

func tarOfFiles(files map[string][]byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		_ = tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[name]))})
		_, _ = tw.Write(files[name])
	}
	_ = tw.Close()
	return buf.Bytes()
}
