package eksd

import (
	"fmt"
	"strings"
	"testing"
)

func manifest136(t *testing.T) string {
	t.Helper()
	data, err := embeddedFS.ReadFile("releases/kubernetes-1-36-eks-7.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// edit replaces old by new exactly once, so a fixture change that no longer
// matches fails loudly instead of testing nothing.
func edit(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("fixture: %q occurs %d times, want 1", old, n)
	}
	return strings.Replace(s, old, new, 1)
}

func TestParseGood(t *testing.T) {
	r, err := Parse([]byte(manifest136(t)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Channel() != "1-36" || r.Number() != 7 {
		t.Errorf("channel/number = %s/%d, want 1-36/7", r.Channel(), r.Number())
	}
	if got := r.KubernetesVersion(); got != "v1.36.2" {
		t.Errorf("KubernetesVersion = %q", got)
	}
	if got := r.KubeadmVersion(); got != "v1.36.2-eks-1-36-7" {
		t.Errorf("KubeadmVersion = %q", got)
	}
	if got := r.String(); got != "kubernetes-1-36-eks-7" {
		t.Errorf("String = %q", got)
	}
	if got, want := r.ManifestURL(), "https://distro.eks.amazonaws.com/kubernetes-1-36/kubernetes-1-36-eks-7.yaml"; got != want {
		t.Errorf("ManifestURL = %q, want %q", got, want)
	}

	img, ok := r.Image(Pause)
	want := Image{Name: "pause", Ref: "public.ecr.aws/eks-distro/kubernetes/pause:v1.36.2-eks-1-36-7",
		Repository: "public.ecr.aws/eks-distro/kubernetes/pause", Tag: "v1.36.2-eks-1-36-7"}
	if !ok || img != want {
		t.Errorf("Image(pause) = %+v, %v; want %+v", img, ok, want)
	}
	if _, ok := r.Image("go-runner"); !ok {
		t.Error("Image(go-runner) not found; other image assets must be reachable too")
	}
	if _, ok := r.Image("nope"); ok {
		t.Error("Image(nope) found")
	}

	b, err := r.Binary("kubeadm", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	wantB := Binary{Name: "kubeadm", Arch: "amd64",
		URL: "https://distro.eks.amazonaws.com/kubernetes-1-36/releases/7/artifacts/kubernetes/v1.36.2/bin/linux/amd64/kubeadm"}
	if b != wantB {
		t.Errorf("Binary = %+v, want %+v", b, wantB)
	}
	if b.Verifiable() {
		t.Error("embedded binary without checksums reports Verifiable")
	}
	if _, err := r.Binary("kubelet", "riscv64"); err == nil ||
		!strings.Contains(err.Error(), `no binary "bin/linux/riscv64/kubelet"`) ||
		!strings.Contains(err.Error(), "bin/linux/arm64/kubelet") {
		t.Errorf("Binary(kubelet, riscv64) error = %v, want one naming the asset and what exists", err)
	}
}

func TestParseAcceptsUnknownFieldsAndDigests(t *testing.T) {
	m := manifest136(t)
	m = edit(t, m, "spec:\n", "spec:\n  buildRepoCommit: abc\n  somethingNew: true\n")
	m = edit(t, m, "        uri: public.ecr.aws/eks-distro/kubernetes/pause:v1.36.2-eks-1-36-7\n",
		"        uri: public.ecr.aws/eks-distro/kubernetes/pause:v1.36.2-eks-1-36-7\n        imageDigest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n")
	m = edit(t, m, "        sha512: \"\"\n        uri: https://distro.eks.amazonaws.com/kubernetes-1-36/releases/7/artifacts/kubernetes/v1.36.2/bin/linux/amd64/kubeadm\n",
		"        sha512: abcd\n        uri: https://distro.eks.amazonaws.com/kubernetes-1-36/releases/7/artifacts/kubernetes/v1.36.2/bin/linux/amd64/kubeadm\n")
	r, err := Parse([]byte(m))
	if err != nil {
		t.Fatal(err)
	}
	if img, _ := r.Image(Pause); img.Digest != "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" {
		t.Errorf("pause digest = %q", img.Digest)
	}
	if b, _ := r.Binary("kubeadm", "amd64"); b.SHA512 != "abcd" || !b.Verifiable() {
		t.Errorf("kubeadm binary = %+v, want sha512 abcd", b)
	}
}

func TestParseBad(t *testing.T) {
	good := manifest136(t)
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"empty", "  \n", []string{"release manifest: empty document"}},
		{"not YAML", "{{{ nope", []string{"release manifest: not a valid YAML Release document"}},
		{"YAML list", "- a\n- b\n", []string{"release manifest: not a valid YAML Release document"}},
		{"wrong kind", edit(t, good, "kind: Release", "kind: Foo"),
			[]string{`release manifest: kind is "Foo", want "Release"`}},
		{"wrong apiVersion", edit(t, good, "apiVersion: distro.eks.amazonaws.com/v1alpha1", "apiVersion: v1"),
			[]string{`apiVersion is "v1", want "distro.eks.amazonaws.com/v1alpha1"`}},
		{"bad channel", edit(t, good, "channel: 1-36", "channel: \"1.36\""),
			[]string{`spec.channel is "1.36", want a channel like "1-36"`}},
		{"zero number", edit(t, good, "number: 7", "number: 0"),
			[]string{"spec.number is 0, want the release number (1 or more)"}},
		{"missing kubeadm", edit(t, good, "name: bin/linux/amd64/kubeadm\n", "name: bin/linux/amd64/kubeadm-old\n"),
			[]string{`component "kubernetes" has no asset "bin/linux/amd64/kubeadm"`}},
		{"kubeadm over http", edit(t, good, "uri: https://distro.eks.amazonaws.com/kubernetes-1-36/releases/7/artifacts/kubernetes/v1.36.2/bin/linux/amd64/kubelet",
			"uri: http://example.com/kubelet"),
			[]string{`asset "bin/linux/amd64/kubelet": archive.uri is "http://example.com/kubelet", want an https:// URL`}},
		{"missing pause", edit(t, good, "name: pause-image", "name: pause-old"),
			[]string{`no Image asset "pause-image"`}},
		{"untagged etcd", edit(t, good, "uri: public.ecr.aws/eks-distro/etcd-io/etcd:v3.6.12-eks-1-36-7", "uri: public.ecr.aws/eks-distro/etcd-io/etcd"),
			[]string{`asset "etcd-image": image.uri: image reference "public.ecr.aws/eks-distro/etcd-io/etcd" has no tag`}},
		{"no registry", edit(t, good, "uri: public.ecr.aws/eks-distro/coredns/coredns:v1.14.3-eks-1-36-7", "uri: /coredns/coredns:v1.14.3-eks-1-36-7"),
			[]string{`asset "coredns-image": image.uri: image reference "/coredns/coredns:v1.14.3-eks-1-36-7" does not start with a registry host`}},
		{"gitTag of another channel", edit(t, good, "gitTag: v1.36.2", "gitTag: v1.35.6"),
			[]string{`component "kubernetes": gitTag v1.35.6 does not belong to channel 1-36`}},
		{"no kubernetes component", strings.ReplaceAll(good, "name: kubernetes\n", "name: kube\n"),
			[]string{`status.components has no "kubernetes" component`}},
		{"short image digest", edit(t, good, "        uri: public.ecr.aws/eks-distro/kubernetes/pause:v1.36.2-eks-1-36-7\n",
			"        uri: public.ecr.aws/eks-distro/kubernetes/pause:v1.36.2-eks-1-36-7\n        imageDigest: sha256:0123\n"),
			[]string{`asset "pause-image": image.imageDigest is "sha256:0123", want sha256: and 64 lowercase hex digits`}},
		{"image digest of another algorithm", edit(t, good, "        uri: public.ecr.aws/eks-distro/kubernetes/pause:v1.36.2-eks-1-36-7\n",
			"        uri: public.ecr.aws/eks-distro/kubernetes/pause:v1.36.2-eks-1-36-7\n        imageDigest: md5:"+strings.Repeat("a", 64)+"\n"),
			[]string{`image.imageDigest is "md5:`}},
		{"several problems at once", edit(t, edit(t, good, "kind: Release", "kind: Foo"), "number: 7", "number: -1"),
			[]string{`kind is "Foo"`, "; spec.number is -1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse succeeded (%v), want error containing %q", r, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseImageRef(t *testing.T) {
	ref, err := parseImageRef("127.0.0.1:5000/eks-distro/kubernetes/pause:3.10@sha256:abc")
	if err != nil {
		t.Fatal(err)
	}
	want := imageRef{registry: "127.0.0.1:5000", path: "eks-distro/kubernetes/pause",
		repository: "127.0.0.1:5000/eks-distro/kubernetes/pause", tag: "3.10", digest: "sha256:abc"}
	if ref != want {
		t.Errorf("got %+v, want %+v", ref, want)
	}
	if got := ref.String(); got != "127.0.0.1:5000/eks-distro/kubernetes/pause:3.10@sha256:abc" {
		t.Errorf("String = %q", got)
	}
	for _, bad := range []string{"", "pause:3.10", "docker.io/pause", "127.0.0.1:5000/pause", "https://x.io/a:b", "x.io/a:b@nodigest"} {
		if _, err := parseImageRef(bad); err == nil {
			t.Errorf("parseImageRef(%q) succeeded", bad)
		}
	}
}

func TestCheckMirror(t *testing.T) {
	for _, good := range []string{"", "127.0.0.1:5000", "registry.local/mirror", "localhost:5000/a/b"} {
		if err := CheckMirror(good); err != nil {
			t.Errorf("CheckMirror(%q) = %v", good, err)
		}
	}
	for bad, want := range map[string]string{
		"https://registry.local": "without a URL scheme",
		"registry.local/":        "trailing or doubled '/'",
		"mirror":                 `"mirror" is not a registry host`,
		"registry.local/a:b":     "must not contain ':'",
		"/x":                     "is not a registry host",
	} {
		if err := CheckMirror(bad); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckMirror(%q) = %v, want error containing %q", bad, err, want)
		}
	}
}

// TestParseQuotesLongValuesShortened: a value of 300 KB is quoted by its
// first characters and its size, not whole.
func TestParseQuotesLongValuesShortened(t *testing.T) {
	long := strings.Repeat("x", 300000)
	_, err := Parse([]byte(edit(t, manifest136(t), "gitTag: v1.36.2", "gitTag: "+long)))
	want := `gitTag is "` + strings.Repeat("x", 64) + `… (300000 bytes)"`
	if err == nil || !strings.Contains(err.Error(), want) || len(err.Error()) > 1000 {
		t.Fatalf("error (%d bytes) should quote %q", len(fmt.Sprint(err)), want)
	}
}

func TestArchiveOfAComponent(t *testing.T) {
	r := &Release{Status: ReleaseStatus{Components: []Component{{
		Name: CNIPluginsComponent, GitTag: "v1.6.2",
		Assets: []Asset{
			{Name: "cni-plugins-linux-arm64-v1.6.2.tar.gz", Type: AssetTypeArchive, OS: "linux", Arch: []string{"arm64"},
				Archive: &AssetArchive{URI: "https://x/arm64.tar.gz", SHA256: "a"}},
			{Name: "cni-plugins-linux-amd64-v1.6.2.tar.gz", Type: AssetTypeArchive, OS: "linux", Arch: []string{"amd64"},
				Archive: &AssetArchive{URI: "https://x/amd64.tar.gz", SHA256: "b", SHA512: "c"}},
		},
	}}}}
	a, ok := r.Archive(CNIPluginsComponent, "amd64")
	if !ok || a.URL != "https://x/amd64.tar.gz" || a.SHA256 != "b" || a.FileName != "cni-plugins-linux-amd64-v1.6.2.tar.gz" || a.Version != "v1.6.2" {
		t.Errorf("amd64: %+v %v", a, ok)
	}
	if _, ok := r.Archive(CNIPluginsComponent, "s390x"); ok {
		t.Error("an architecture the release lacks was found")
	}
	if _, ok := r.Archive(ContainerdComponent, "amd64"); ok {
		t.Error("a component the release lacks was found")
	}
}
