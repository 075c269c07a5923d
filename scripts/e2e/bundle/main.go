// Command bundle makes the offline EKS-D bundle of `make e2e` and serves its
// images.
//
//	bundle build -bin DIR -out DIR [-release 1-36-7 [-from 1-36-7 -kubernetes v1.36.3]] [-layer NAME=TAR ...] [-busybox REF=BIN ...]
//	bundle serve -dir DIR [-dir DIR ...] -addr 127.0.0.1:5000
//	bundle testimages -registry ADDR ... (see testimages.go)
//
// build wraps each binary of DIR (kube-apiserver, kube-controller-manager,
// kube-scheduler, kube-proxy, etcd, coredns, pause) as a one-layer OCI image
// under its EKS-D name, into an OCI layout at OUT/oci; copies kubeadm,
// kubelet and kubectl to OUT/artifacts/bin/linux/amd64; packs what a node
// needs besides EKS-D's own files as their projects publish them, into
// OUT/artifacts:
//
//	containerd-static-V-linux-amd64.tar.gz  bin/containerd, bin/containerd-shim-runc-v2, bin/ctr of DIR
//	runc.amd64                              DIR/runc
//	cni-plugins-linux-amd64-vV.tar.gz       ./bridge, ./host-local, ... of DIR/cni
//
// (each version is what the binary says it is; one whose binaries DIR lacks
// is left out); and writes OUT/release.yaml: the embedded release with those
// binaries' sha256/sha512, the images' digests and a component per packed
// file (containerd, runc, cni-plugins) with its sha256/sha512, which the node
// gets as spec.release.manifest. A NAME=TAR layer goes under the image NAME's
// binary (kube-proxy needs iptables). -from makes a release eksd-kata does
// not embed (1-36-8, for a patch upgrade) out of one it does: its numbers,
// tags and URLs renamed, its Kubernetes version -kubernetes. -busybox adds a test image that is not
// part of the release (eksd-kata verify runs busybox). Everything is made
// from the epoch (tar entries, image configs), so the same inputs give the
// same files; nothing is rebuilt when OUT/stamp matches the inputs.
//
// serve runs go-containerregistry's in-memory registry on addr, pushes every
// image of each bundle's layout into it under its EKS-D path (public.ecr.aws/X is
// served as addr/X, which is what spec.images.mirror=addr asks for), prints
// "ready" and serves until SIGTERM or SIGINT.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"sigs.k8s.io/yaml"
)

// refAnnotation names an image in the layout's index.
const refAnnotation = "org.opencontainers.image.ref.name"

// imageBinaries maps an EKS-D image name to where its binary lives in the
// image; the entrypoint is that path. kubeadm's static pods name the
// control-plane commands without a path, so those sit on PATH.
var imageBinaries = map[string]string{
	"kube-apiserver":          "/usr/local/bin/kube-apiserver",
	"kube-controller-manager": "/usr/local/bin/kube-controller-manager",
	"kube-scheduler":          "/usr/local/bin/kube-scheduler",
	"kube-proxy":              "/usr/local/bin/kube-proxy",
	"etcd":                    "/usr/local/bin/etcd",
	"coredns":                 "/coredns",
	"pause":                   "/pause",
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bundle build|serve|testimages [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = build(os.Args[2:])
	case "serve":
		err = serve(os.Args[2:])
	case "testimages":
		err = testImages(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (build, serve, testimages)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bundle:", err)
		os.Exit(1)
	}
}

type layerFlags map[string]string

func (l layerFlags) String() string { return fmt.Sprint(map[string]string(l)) }
func (l layerFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want NAME=TAR, got %q", s)
	}
	l[k] = v
	return nil
}

func build(args []string) error {
	fs := flag.NewFlagSet("build", flag.ExitOnError)
	binDir := fs.String("bin", "", "directory with the built binaries")
	out := fs.String("out", "", "bundle directory")
	rel := fs.String("release", "1-36-7", "EKS-D release CHANNEL-NUMBER the bundle stands in for")
	from := fs.String("from", "", "embedded release CHANNEL-NUMBER to make -release of, when eksd-kata does not embed it")
	kubeVersion := fs.String("kubernetes", "", "with -from: the Kubernetes version of -release (v1.36.3)")
	layers := layerFlags{}
	fs.Var(layers, "layer", "NAME=TAR: extra layer under image NAME (repeatable)")
	extras := layerFlags{}
	fs.Var(extras, "busybox", "REF=BIN: also an image REF (public.ecr.aws/...) of the static busybox BIN with its applets on PATH (repeatable)")
	_ = fs.Parse(args)
	if *binDir == "" || *out == "" {
		return errors.New("build: -bin and -out are required")
	}
	channel, number, err := splitRelease(*rel)
	if err != nil {
		return err
	}
	r, err := lookupRelease(channel, number, *from, *kubeVersion)
	if err != nil {
		return err
	}

	// The stamp: release, every input file's size and mtime.
	inputs := []string{}
	for _, b := range append(append([]string{}, eksd.RequiredBinaries...), sortedKeys(imageBinaries)...) {
		inputs = append(inputs, filepath.Join(*binDir, b))
	}
	for _, k := range sortedKeys(layers) {
		inputs = append(inputs, layers[k])
	}
	for _, k := range sortedKeys(extras) {
		inputs = append(inputs, extras[k])
	}
	files, err := releaseFileInputs(*binDir)
	if err != nil {
		return err
	}
	inputs = append(inputs, files...)
	stamp, err := stampOf(*rel+" "+*from+" "+*kubeVersion+" "+strings.Join(sortedKeys(extras), " "), inputs)
	if err != nil {
		return err
	}
	if old, _ := os.ReadFile(filepath.Join(*out, "stamp")); string(old) == stamp {
		fmt.Fprintln(os.Stderr, "bundle: up to date:", *out)
		return nil
	}
	if err := os.RemoveAll(*out); err != nil {
		return err
	}

	// Node binaries: copied beside their checksums in the manifest.
	sums := map[string][2]string{}
	artDir := filepath.Join(*out, "artifacts", "bin", "linux", "amd64")
	if err := os.MkdirAll(artDir, 0o755); err != nil {
		return err
	}
	for _, b := range eksd.RequiredBinaries {
		data, err := os.ReadFile(filepath.Join(*binDir, b))
		if err != nil {
			return err
		}
		s256, s512 := sha256.Sum256(data), sha512.Sum512(data)
		sums["bin/linux/amd64/"+b] = [2]string{hex.EncodeToString(s256[:]), hex.EncodeToString(s512[:])}
		if err := os.WriteFile(filepath.Join(artDir, b), data, 0o755); err != nil {
			return err
		}
	}

	// The runtime's and the pod network's files, as their projects publish
	// them, beside the node binaries.
	carried, err := releaseFiles(*binDir, r)
	if err != nil {
		return err
	}
	for _, f := range carried {
		if err := os.WriteFile(filepath.Join(*out, "artifacts", f.fileName), f.data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bundle: %s %s %s (%d bytes)\n", f.name, f.version, f.fileName, len(f.data))
	}

	// Images into an OCI layout.
	lp, err := layout.Write(filepath.Join(*out, "oci"), empty.Index)
	if err != nil {
		return err
	}
	digests := map[string]string{}
	for _, imgName := range sortedKeys(imageBinaries) {
		info, ok := r.Image(imgName)
		if !ok {
			return fmt.Errorf("release %s has no image %s", *rel, imgName)
		}
		img, err := image(filepath.Join(*binDir, imgName), imageBinaries[imgName], layers[imgName])
		if err != nil {
			return fmt.Errorf("image %s: %w", imgName, err)
		}
		d, err := img.Digest()
		if err != nil {
			return err
		}
		digests[info.Ref] = d.String()
		if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{refAnnotation: info.Ref})); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bundle: %s %s\n", info.Ref, d)
	}

	for _, ref := range sortedKeys(extras) {
		img, err := busyboxImage(extras[ref])
		if err != nil {
			return fmt.Errorf("image %s: %w", ref, err)
		}
		if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{refAnnotation: ref})); err != nil {
			return err
		}
		d, _ := img.Digest()
		fmt.Fprintf(os.Stderr, "bundle: %s %s (not in the release)\n", ref, d)
	}

	// The release manifest: the embedded one with our checksums and digests.
	for i := range r.Status.Components {
		c := &r.Status.Components[i]
		for j := range c.Assets {
			a := &c.Assets[j]
			if s, ok := sums[a.Name]; ok && a.Archive != nil {
				a.Archive.SHA256, a.Archive.SHA512 = s[0], s[1]
			}
			if a.Image != nil {
				if d, ok := digests[a.Image.URI]; ok {
					a.Image.ImageDigest = d
				}
			}
		}
	}
	for _, f := range carried {
		setComponent(r, f.asComponent())
	}
	manifest, err := yaml.Marshal(r)
	if err != nil {
		return err
	}
	if err := checkManifest(manifest, carried); err != nil {
		return err
	}
	header := fmt.Sprintf("# e2e bundle standing in for EKS-D %s: binaries built from source by scripts/e2e/build.sh\n", *rel)
	if err := os.WriteFile(filepath.Join(*out, "release.yaml"), append([]byte(header), manifest...), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(*out, "stamp"), []byte(stamp), 0o644)
}

// image is a one-architecture image: an optional base layer, then the
// binary at path (mode 0755) with /tmp, as the entrypoint.
func image(bin, path, extra string) (v1.Image, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	var addDirs func(string)
	addDirs = func(d string) {
		if d == "/" || d == "." || dirs[d] {
			return
		}
		addDirs(filepath.Dir(d))
		dirs[d] = true
		_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755, ModTime: epoch})
	}
	addDirs(filepath.Dir(path))
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777, ModTime: epoch}); err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(path, "/"), Mode: 0o755, Size: int64(len(data)), ModTime: epoch}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}

	layers := [][]byte{buf.Bytes()}
	if extra != "" {
		b, err := os.ReadFile(extra)
		if err != nil {
			return nil, err
		}
		layers = [][]byte{b, buf.Bytes()}
	}
	return ociImage(layers, v1.Config{
		Entrypoint: []string{path},
		Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	})
}

// epoch stamps every file and config of the bundle's images: the same
// inputs give the same digests.
var epoch = time.Unix(0, 0)

// ociImage is a linux/amd64 OCI image of the layer tars, gzipped, from
// the epoch, run as cfg says.
func ociImage(layers [][]byte, cfg v1.Config) (v1.Image, error) {
	var adds []mutate.Addendum
	for _, b := range layers {
		l, err := gzipLayer(b)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{Layer: l})
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.Append(img, adds...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Entrypoint, cf.Config.Cmd, cf.Config.Env = cfg.Entrypoint, cfg.Cmd, cfg.Env
	return mutate.ConfigFile(img, cf)
}

// busyboxImage is /bin/busybox with a symlink per applet in /bin, the
// entrypoint sh: enough for test pods that run uname, sleep or a shell.
func busyboxImage(bin string) (v1.Image, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(bin, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", bin, err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"bin/", "tmp/", "etc/"} {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: mode, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(data)), ModTime: epoch}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + applet, Linkname: "busybox", Mode: 0o777, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return ociImage([][]byte{buf.Bytes()}, v1.Config{Cmd: []string{"sh"}, Env: []string{"PATH=/bin"}})
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	var dirs stringsFlag
	fs.Var(&dirs, "dir", "bundle directory whose oci/ layout is served (repeatable)")
	addr := fs.String("addr", "127.0.0.1:5000", "listen address")
	_ = fs.Parse(args)
	if len(dirs) == 0 {
		return errors.New("serve: -dir is required")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0))), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()

	start := time.Now()
	n := 0
	for _, dir := range dirs {
		pushed, err := pushLayout(filepath.Join(dir, "oci"), ln.Addr().String())
		if err != nil {
			return err
		}
		n += pushed
	}
	fmt.Printf("ready: %d images on %s in %s\n", n, ln.Addr(), time.Since(start).Round(time.Millisecond))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// pushLayout pushes every image of the OCI layout at path to the registry
// at addr, under its EKS-D path (public.ecr.aws/X as addr/X).
func pushLayout(path, addr string) (int, error) {
	lp, err := layout.FromPath(path)
	if err != nil {
		return 0, err
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		return 0, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return 0, err
	}
	for _, desc := range im.Manifests {
		ref := desc.Annotations[refAnnotation]
		repoPath, ok := strings.CutPrefix(ref, "public.ecr.aws/")
		if !ok {
			return 0, fmt.Errorf("layout image %q is not a public.ecr.aws reference", ref)
		}
		tag, err := name.ParseReference(addr+"/"+repoPath, name.Insecure)
		if err != nil {
			return 0, err
		}
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return 0, err
		}
		if err := remote.Write(tag, img); err != nil {
			return 0, fmt.Errorf("push %s: %w", tag, err)
		}
	}
	return len(im.Manifests), nil
}

// stringsFlag is a repeatable string flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// lookupRelease is the embedded release channel-number, or with from one
// made of the embedded release from: its name, every "eks-CH-N" tag,
// release URL and number renamed, and its Kubernetes version (its component's tag,
// the binaries' URLs, the images' tags) kube.
func lookupRelease(channel string, number int, from, kube string) (*eksd.Release, error) {
	if from == "" {
		return eksd.Lookup(channel, number)
	}
	fch, fnum, err := splitRelease(from)
	if err != nil {
		return nil, err
	}
	if fch != channel || kube == "" {
		return nil, fmt.Errorf("-from %s: want a release of channel %s and -kubernetes", from, channel)
	}
	base, err := eksd.Lookup(fch, fnum)
	if err != nil {
		return nil, err
	}
	doc, err := yaml.Marshal(base)
	if err != nil {
		return nil, err
	}
	text := strings.NewReplacer(
		fmt.Sprintf("kubernetes-%s-eks-%d", fch, fnum), fmt.Sprintf("kubernetes-%s-eks-%d", channel, number),
		fmt.Sprintf("eks-%s-%d", fch, fnum), fmt.Sprintf("eks-%s-%d", channel, number),
		fmt.Sprintf("/releases/%d/", fnum), fmt.Sprintf("/releases/%d/", number),
		base.KubernetesVersion(), kube,
	).Replace(string(doc))
	r, err := eksd.Parse([]byte(text))
	if err != nil {
		return nil, err
	}
	r.Spec.Number = number
	if r.String() != fmt.Sprintf("kubernetes-%s-eks-%d", channel, number) || r.KubernetesVersion() != kube {
		return nil, fmt.Errorf("-from %s: made %s of Kubernetes %s", from, r, r.KubernetesVersion())
	}
	return r, nil
}

func splitRelease(s string) (string, int, error) {
	i := strings.LastIndexByte(s, '-')
	var n int
	if i < 0 {
		return "", 0, fmt.Errorf("release %q: want CHANNEL-NUMBER, e.g. 1-36-7", s)
	}
	if _, err := fmt.Sscanf(s[i+1:], "%d", &n); err != nil {
		return "", 0, fmt.Errorf("release %q: %w", s, err)
	}
	return s[:i], n, nil
}

// gzipLayer is the tar in b as a gzip layer at gzip's default level, as
// the published EKS-D images are: containerd then stores the compressed
// blob and gunzips it to unpack, the same work as on a real node.
func gzipLayer(b []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithCompressionLevel(gzip.DefaultCompression), tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
}

// layerFormat is part of the stamp: a bundle of another layer format is
// rebuilt.
const layerFormat = "layers oci+gzip (default level)"

func stampOf(rel string, files []string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "release %s\n%s\n", rel, layerFormat)
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s %d %d\n", f, st.Size(), st.ModTime().UnixNano())
	}
	return b.String(), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
