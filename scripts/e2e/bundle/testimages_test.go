package main

import (
	"archive/tar"
	"bytes"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// entry is what a flattened image holds at a path.
type entry struct {
	typ      byte
	mode     int64
	linkname string
	data     string
}

// pull reads REGISTRY/REPO back and flattens its layers.
func pull(t *testing.T, reg, repo string) (v1.Image, map[string]entry) {
	t.Helper()
	ref, err := name.ParseReference(reg+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	files := map[string]entry{}
	tr := tar.NewReader(mutate.Extract(img))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = entry{h.Typeflag, h.Mode, h.Linkname, string(b)}
	}
	return img, files
}

// inputs writes what the images are made of, small, into a temp dir.
func inputs(t *testing.T) testImageSources {
	t.Helper()
	dir := t.TempDir()
	write := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A Debian tree as debootstrap's tar has it: "./"-prefixed names.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct{ name, data string }{
		{"./etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"},
		{"./etc/group", "root:x:0:\n"},
		{"./usr/bin/dig", "dig"},
	} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return testImageSources{
		debian:     write("debian.tar", buf.String(), 0o644),
		agnhost:    write("agnhost", "agnhost binary", 0o755),
		porter:     filepath.Dir(write("porter/localhost.crt", "crt", 0o644)),
		busybox:    write("busybox", "#!/bin/sh\necho busybox sh env\n", 0o755),
		nonewprivs: write("nnp", "nnp binary", 0o755),
	}
}

func TestTestImagesAsUpstreamLaysThemOut(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	reg := strings.TrimPrefix(srv.URL, "http://")
	src := inputs(t)
	if err := os.WriteFile(filepath.Join(src.porter, "localhost.key"), []byte("key"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The release's pause image, as the bundle's registry has it.
	pause, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := pushAs(reg, "eks-distro/kubernetes/pause:v1", pause); err != nil {
		t.Fatal(err)
	}

	images := map[string]string{
		"e2e/agnhost:2.63.0": "agnhost", "e2e/agnhost:2.55": "agnhost",
		"e2e/glibc-dns-testing:2.0.0": "glibc-dns-testing",
		"e2e/busybox:1.37.0-1":        "busybox", "e2e/nonewprivs:1.4": "nonewprivs",
	}
	copies := map[string]string{"eks-distro/kubernetes/pause:v1": "k8s/pause:3.10.2"}
	if err := pushTestImages(reg, src, images, copies); err != nil {
		t.Fatal(err)
	}

	agn, files := pull(t, reg, "e2e/agnhost:2.63.0")
	for path, want := range map[string]entry{
		"agnhost":       {typ: tar.TypeReg, mode: 0o755, data: "agnhost binary"},
		"agnhost-2":     {typ: tar.TypeSymlink, mode: 0o777, linkname: "agnhost"},
		"uploads":       {typ: tar.TypeDir, mode: 0o755},
		"localhost.crt": {typ: tar.TypeReg, mode: 0o644, data: "crt"},
		"localhost.key": {typ: tar.TypeReg, mode: 0o644, data: "key"},
		"usr/bin/dig":   {typ: tar.TypeReg, mode: 0o644, data: "dig"},
	} {
		if got := files[path]; got != want {
			t.Errorf("agnhost /%s = %+v, want %+v", path, got, want)
		}
	}
	if p := files["etc/passwd"].data; !strings.HasPrefix(p, "root:x:0:0:") || !strings.Contains(p, "\nuser-defined-in-image:x:1000:1000:") {
		t.Errorf("agnhost /etc/passwd keeps the tree's and adds upstream's user:\n%s", p)
	}
	if g := files["etc/group"].data; !strings.Contains(g, "\ngroup-defined-in-image:x:50000:user-defined-in-image\n") {
		t.Errorf("agnhost /etc/group has no group-defined-in-image with the user in it:\n%s", g)
	}
	cf, err := agn.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cf.Config.Entrypoint, " ") + " | " + strings.Join(cf.Config.Cmd, " "); got != "/agnhost | pause" {
		t.Errorf("agnhost entrypoint | command = %q", got)
	}
	prev, _ := pull(t, reg, "e2e/agnhost:2.55")
	d1, _ := agn.Digest()
	d2, _ := prev.Digest()
	if d1 != d2 {
		t.Errorf("agnhost's two tags are two images: %s, %s", d1, d2)
	}

	_, files = pull(t, reg, "e2e/glibc-dns-testing:2.0.0")
	if _, ok := files["usr/bin/dig"]; !ok || files["agnhost"].typ != 0 {
		t.Errorf("glibc-dns-testing is not the Debian tree alone: %v", files)
	}

	_, files = pull(t, reg, "e2e/busybox:1.37.0-1")
	for _, applet := range []string{"sh", "env"} {
		if got := files["bin/"+applet]; got.typ != tar.TypeSymlink || got.linkname != "busybox" {
			t.Errorf("busybox /bin/%s = %+v, want a link to busybox", applet, got)
		}
	}
	if got := files["tmp"]; got.mode != 0o1777 {
		t.Errorf("busybox /tmp mode %o, want 1777", got.mode)
	}

	_, files = pull(t, reg, "e2e/nonewprivs:1.4")
	if got := files["usr/local/bin/nnp"]; got.mode != 0o4755 || got.data != "nnp binary" {
		t.Errorf("nnp = %+v, want set-user-ID 4755", got)
	}

	copied, _ := pull(t, reg, "k8s/pause:3.10.2")
	d1, _ = pause.Digest()
	d2, _ = copied.Digest()
	if d1 != d2 {
		t.Errorf("pause copy digest %s, want %s", d2, d1)
	}
}

func TestTestImagesRefusesAnUnknownKind(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	err := pushTestImages(strings.TrimPrefix(srv.URL, "http://"), inputs(t), map[string]string{"e2e/nginx:1.15-4": "nginx"}, nil)
	if err == nil || !strings.Contains(err.Error(), "nginx: unknown image kind") {
		t.Fatalf("run with kind nginx: %v", err)
	}
}
