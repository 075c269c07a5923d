package main

// bundle testimages: the images Kubernetes' e2e tests run, built from their
// sources and pushed into the bundle's registry (the nodes have no way out
// to registry.k8s.io). scripts/e2e/conformance.sh runs it in the registry's
// network namespace.
//
//	bundle testimages -registry 10.250.0.1:5000 -debian TAR -agnhost BIN -porter DIR \
//	    -busybox BIN -nonewprivs BIN -image REPO:TAG=KIND ... -copy SRC=DST ...
//
// Each -image pushes one image of KIND as REGISTRY/REPO:TAG:
//
//	agnhost            the Debian tools tree (-debian: dig, curl, nc, ip, ss,
//	                   bash, as upstream's Alpine base has), then /agnhost,
//	                   /agnhost-2 linked to it, /uploads, porter's TLS pair
//	                   and the user and group upstream's image defines;
//	                   entrypoint /agnhost, command pause
//	glibc-dns-testing  the Debian tools tree alone (upstream: Debian with
//	                   dnsutils); command bash
//	busybox            the static busybox with its applets on PATH
//	nonewprivs         /usr/local/bin/nnp, set-user-ID root
//
// -copy SRC=DST copies REGISTRY/SRC to REGISTRY/DST (the release's pause
// image under the name the tests use).

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// testImageSources are the inputs the test images are made of.
type testImageSources struct {
	debian, agnhost, porter, busybox, nonewprivs string
}

// pathEnv is the PATH of the test images, as upstream's have it.
var pathEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

func testImages(args []string) error {
	fs := flag.NewFlagSet("testimages", flag.ExitOnError)
	var src testImageSources
	registry := fs.String("registry", "", "registry address (plain HTTP)")
	fs.StringVar(&src.debian, "debian", "", "tar of the Debian tools tree (agnhost, glibc-dns-testing)")
	fs.StringVar(&src.agnhost, "agnhost", "", "agnhost binary")
	fs.StringVar(&src.porter, "porter", "", "agnhost's porter directory (localhost.crt, localhost.key)")
	fs.StringVar(&src.busybox, "busybox", "", "static busybox binary")
	fs.StringVar(&src.nonewprivs, "nonewprivs", "", "nnp binary")
	images, copies := layerFlags{}, layerFlags{}
	fs.Var(images, "image", "REPO:TAG=KIND (repeatable)")
	fs.Var(copies, "copy", "SRC=DST: copy REGISTRY/SRC to REGISTRY/DST (repeatable)")
	_ = fs.Parse(args)
	return pushTestImages(*registry, src, images, copies)
}

// pushTestImages pushes images (REPO:TAG to KIND) and copies (SRC to DST)
// into registry.
func pushTestImages(registry string, src testImageSources, images, copies map[string]string) error {
	if registry == "" {
		return errors.New("testimages: -registry is required")
	}
	// Built once per kind: one image under two tags is one image.
	built := map[string]v1.Image{}
	for _, repo := range sortedKeys(images) {
		kind := images[repo]
		img, ok := built[kind]
		if !ok {
			var err error
			if img, err = testImage(kind, src); err != nil {
				return fmt.Errorf("%s: %w", kind, err)
			}
			built[kind] = img
		}
		if err := pushAs(registry, repo, img); err != nil {
			return err
		}
	}
	for _, from := range sortedKeys(copies) {
		ref, err := name.ParseReference(registry+"/"+from, name.Insecure)
		if err != nil {
			return err
		}
		img, err := remote.Image(ref)
		if err != nil {
			return fmt.Errorf("copy %s: %w", ref, err)
		}
		if err := pushAs(registry, copies[from], img); err != nil {
			return err
		}
	}
	return nil
}

// pushAs pushes img as registry/repo and prints its name and digest.
func pushAs(registry, repo string, img v1.Image) error {
	ref, err := name.ParseReference(registry+"/"+repo, name.Insecure)
	if err != nil {
		return err
	}
	if err := remote.Write(ref, img); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s\n", ref, d)
	return nil
}

func testImage(kind string, src testImageSources) (v1.Image, error) {
	switch kind {
	case "agnhost":
		return agnhostImage(src)
	case "glibc-dns-testing":
		if src.debian == "" {
			return nil, errors.New("-debian is required")
		}
		base, err := os.ReadFile(src.debian)
		if err != nil {
			return nil, err
		}
		return ociImage([][]byte{base}, v1.Config{Cmd: []string{"bash"}, Env: pathEnv})
	case "busybox":
		if src.busybox == "" {
			return nil, errors.New("-busybox is required")
		}
		return busyboxImage(src.busybox)
	case "nonewprivs":
		return nonewprivsImage(src.nonewprivs)
	}
	return nil, errors.New("unknown image kind (agnhost, glibc-dns-testing, busybox, nonewprivs)")
}

// agnhostImage is laid out as upstream's Dockerfile lays it out, on the
// Debian tools tree.
func agnhostImage(src testImageSources) (v1.Image, error) {
	if src.debian == "" || src.agnhost == "" || src.porter == "" {
		return nil, errors.New("-debian, -agnhost and -porter are required")
	}
	base, err := os.ReadFile(src.debian)
	if err != nil {
		return nil, err
	}
	passwd, group, err := accounts(base)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.debian, err)
	}
	// Upstream's image: adduser -u 1000 -D user-defined-in-image, addgroup
	// -g 50000 group-defined-in-image with that user in it.
	passwd += "user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh\n"
	group += "user-defined-in-image:x:1000:\ngroup-defined-in-image:x:50000:user-defined-in-image\n"

	var t tarWriter
	t.dir("uploads", 0o755)
	t.dir("home/user-defined-in-image", 0o755)
	t.fileFrom("agnhost", src.agnhost, 0o755)
	// Some tests override the entrypoint with /agnhost-2 and check it ran.
	t.symlink("agnhost-2", "agnhost")
	t.fileFrom("localhost.crt", filepath.Join(src.porter, "localhost.crt"), 0o644)
	t.fileFrom("localhost.key", filepath.Join(src.porter, "localhost.key"), 0o644)
	t.dir("etc", 0o755)
	t.file("etc/passwd", []byte(passwd), 0o644)
	t.file("etc/group", []byte(group), 0o644)
	top, err := t.bytes()
	if err != nil {
		return nil, err
	}
	return ociImage([][]byte{base, top}, v1.Config{Entrypoint: []string{"/agnhost"}, Cmd: []string{"pause"}, Env: pathEnv})
}

// nonewprivsImage is nnp, set-user-ID root: it prints the effective user
// ID, which shows whether the kernel let the bit work.
func nonewprivsImage(bin string) (v1.Image, error) {
	if bin == "" {
		return nil, errors.New("-nonewprivs is required")
	}
	var t tarWriter
	for _, d := range []string{"usr", "usr/local", "usr/local/bin"} {
		t.dir(d, 0o755)
	}
	t.dir("tmp", 0o1777)
	t.fileFrom("usr/local/bin/nnp", bin, 0o4755)
	l, err := t.bytes()
	if err != nil {
		return nil, err
	}
	return ociImage([][]byte{l}, v1.Config{Cmd: []string{"nnp"}, Env: pathEnv})
}

// accounts reads /etc/passwd and /etc/group from a tree's tar.
func accounts(tree []byte) (passwd, group string, err error) {
	found := map[string]*string{"etc/passwd": &passwd, "etc/group": &group}
	tr := tar.NewReader(bytes.NewReader(tree))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", "", err
		}
		if dst, ok := found[strings.TrimPrefix(h.Name, "./")]; ok {
			b, err := io.ReadAll(tr)
			if err != nil {
				return "", "", err
			}
			*dst = string(b)
		}
	}
	if passwd == "" || group == "" {
		return "", "", errors.New("no etc/passwd or etc/group")
	}
	return passwd, group, nil
}

// tarWriter builds a layer's tar in memory; the first error sticks and
// bytes returns it.
type tarWriter struct {
	buf bytes.Buffer
	tw  *tar.Writer
	err error
}

func (t *tarWriter) header(h *tar.Header) {
	if t.tw == nil {
		t.tw = tar.NewWriter(&t.buf)
	}
	if t.err == nil {
		h.ModTime = epoch
		t.err = t.tw.WriteHeader(h)
	}
}

func (t *tarWriter) dir(name string, mode int64) {
	t.header(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode})
}

func (t *tarWriter) symlink(name, target string) {
	t.header(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777})
}

func (t *tarWriter) file(name string, data []byte, mode int64) {
	t.header(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data))})
	if t.err == nil {
		_, t.err = t.tw.Write(data)
	}
}

func (t *tarWriter) fileFrom(name, path string, mode int64) {
	data, err := os.ReadFile(path)
	if err != nil && t.err == nil {
		t.err = err
	}
	t.file(name, data, mode)
}

// bytes closes the tar and returns it.
func (t *tarWriter) bytes() ([]byte, error) {
	if t.tw == nil {
		return nil, errors.New("empty layer")
	}
	if t.err == nil {
		t.err = t.tw.Close()
	}
	return t.buf.Bytes(), t.err
}
