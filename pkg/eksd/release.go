// Package eksd models Amazon EKS Distro (EKS-D) releases: the release
// manifest, the releases embedded in the binary, and the image plan that
// maps EKS-D images to the references kubeadm expects.
package eksd

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/clip"
	"github.com/eksd-kata/eksd-kata/pkg/yamldoc"
	"sigs.k8s.io/yaml"
)

// Image names a release must provide: everything kubeadm pulls for a control
// plane node. Image and Images take these names.
const (
	KubeAPIServer         = "kube-apiserver"
	KubeControllerManager = "kube-controller-manager"
	KubeScheduler         = "kube-scheduler"
	KubeProxy             = "kube-proxy"
	Pause                 = "pause"
	CoreDNS               = "coredns"
	Etcd                  = "etcd"
)

// RequiredImages is the set of images Parse insists on, in kubeadm's order.
var RequiredImages = []string{KubeAPIServer, KubeControllerManager, KubeScheduler, KubeProxy, CoreDNS, Pause, Etcd}

// RequiredBinaries are the node binaries every release must ship for
// linux/amd64 (arm64 is used when present).
var RequiredBinaries = []string{"kubeadm", "kubelet", "kubectl"}

// KubernetesComponent is the component whose gitTag is the Kubernetes
// version and whose assets hold the node binaries.
const KubernetesComponent = "kubernetes"

var (
	channelRE = regexp.MustCompile(`^([0-9]+)-([0-9]+)$`)
	gitTagRE  = regexp.MustCompile(`^v([0-9]+)\.([0-9]+)\.([0-9]+)$`)
	digestRE  = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// Parse decodes and validates a release manifest (YAML or JSON). Unknown
// fields are accepted because real manifests gain fields over time; what we
// rely on is checked and every problem is reported at once.
func Parse(data []byte) (*Release, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("release manifest: empty document")
	}
	var r Release
	if err := yaml.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("release manifest: not a valid YAML Release document: %w", err)
	}
	if err := yamldoc.Single(data); err != nil {
		return nil, fmt.Errorf("release manifest: the file %w", err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Validate checks that r is a Release this program can install from.
func (r *Release) Validate() error {
	var problems []string
	add := func(format string, a ...any) {
		// A manifest's values are quoted shortened: one can be huge.
		for i, x := range a {
			if s, ok := x.(string); ok {
				a[i] = clip.String(s)
			}
		}
		problems = append(problems, fmt.Sprintf(format, a...))
	}

	if r.APIVersion != APIVersion {
		add("apiVersion is %q, want %q", r.APIVersion, APIVersion)
	}
	if r.Kind != Kind {
		add("kind is %q, want %q", r.Kind, Kind)
	}
	chMajor, chMinor, chOK := splitChannel(r.Spec.Channel)
	if !chOK {
		add("spec.channel is %q, want a channel like \"1-36\"", r.Spec.Channel)
	}
	if r.Spec.Number <= 0 {
		add("spec.number is %d, want the release number (1 or more)", r.Spec.Number)
	}

	k := r.component(KubernetesComponent)
	if k == nil {
		add("status.components has no %q component (it carries the Kubernetes version and binaries)", KubernetesComponent)
	} else {
		m := gitTagRE.FindStringSubmatch(k.GitTag)
		switch {
		case m == nil:
			add("component %q: gitTag is %q, want a Kubernetes version like \"v1.36.2\"", KubernetesComponent, k.GitTag)
		case chOK && (m[1] != strconv.Itoa(chMajor) || m[2] != strconv.Itoa(chMinor)):
			add("component %q: gitTag %s does not belong to channel %s", KubernetesComponent, k.GitTag, r.Spec.Channel)
		}
		for _, bin := range RequiredBinaries {
			name := binaryAssetName(bin, "amd64")
			a := k.asset(name)
			switch {
			case a == nil:
				add("component %q has no asset %q (kubeadm, kubelet and kubectl for linux/amd64 are required)", KubernetesComponent, name)
			case a.Type != AssetTypeArchive || a.Archive == nil:
				add("component %q: asset %q is type %q without archive, want type %q with archive.uri", KubernetesComponent, name, a.Type, AssetTypeArchive)
			case !strings.HasPrefix(a.Archive.URI, "https://"):
				add("component %q: asset %q: archive.uri is %q, want an https:// URL", KubernetesComponent, name, a.Archive.URI)
			}
		}
	}

	for _, name := range RequiredImages {
		a := r.imageAsset(name)
		if a == nil {
			add("no Image asset %q (the %s image is required)", name+"-image", name)
			continue
		}
		if _, err := parseImageRef(a.Image.URI); err != nil {
			add("asset %q: image.uri: %v", a.Name, err)
		}
	}

	// A digest is what pulls are checked against: one that cannot be
	// compared (sha256:0123) would fail only after the download.
	for _, c := range r.Status.Components {
		for _, a := range c.Assets {
			if a.Image != nil && a.Image.ImageDigest != "" && !digestRE.MatchString(a.Image.ImageDigest) {
				add("asset %q: image.imageDigest is %q, want sha256: and 64 lowercase hex digits", a.Name, a.Image.ImageDigest)
			}
		}
	}

	if len(problems) > 0 {
		return fmt.Errorf("release manifest: %s", strings.Join(problems, "; "))
	}
	return nil
}

// IsChannel reports whether ch names a channel: "1-36".
func IsChannel(ch string) bool {
	_, _, ok := splitChannel(ch)
	return ok
}

func splitChannel(ch string) (major, minor int, ok bool) {
	m := channelRE.FindStringSubmatch(ch)
	if m == nil {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(m[1])
	minor, err2 := strconv.Atoi(m[2])
	return major, minor, err1 == nil && err2 == nil && major > 0
}

// ChannelMinor is the Kubernetes minor of a channel: 36 for "1-36", 0 for
// a string that is not a channel.
func ChannelMinor(channel string) int {
	_, minor, _ := splitChannel(channel)
	return minor
}

// channelLess orders channels numerically so that 1-9 sorts before 1-10.
func channelLess(a, b string) bool {
	amaj, amin, aok := splitChannel(a)
	bmaj, bmin, bok := splitChannel(b)
	if !aok || !bok {
		return a < b
	}
	if amaj != bmaj {
		return amaj < bmaj
	}
	return amin < bmin
}

// compareReleases orders releases by channel, numerically, then number.
func compareReleases(aChannel string, aNumber int, bChannel string, bNumber int) int {
	switch {
	case aChannel == bChannel:
		return aNumber - bNumber
	case channelLess(aChannel, bChannel):
		return -1
	}
	return 1
}

func (r *Release) component(name string) *Component {
	for i := range r.Status.Components {
		if r.Status.Components[i].Name == name {
			return &r.Status.Components[i]
		}
	}
	return nil
}

func (c *Component) asset(name string) *Asset {
	for i := range c.Assets {
		if c.Assets[i].Name == name {
			return &c.Assets[i]
		}
	}
	return nil
}

// imageAsset finds the Image asset for an image name. EKS-D names image
// assets "<image>-image"; the component they live in varies (pause is in
// "kubernetes", coredns in "coredns"), so every component is searched.
func (r *Release) imageAsset(name string) *Asset {
	for i := range r.Status.Components {
		for j := range r.Status.Components[i].Assets {
			a := &r.Status.Components[i].Assets[j]
			if a.Type == AssetTypeImage && a.Image != nil && a.Name == name+"-image" {
				return a
			}
		}
	}
	return nil
}

func binaryAssetName(name, arch string) string {
	return "bin/linux/" + arch + "/" + name
}

// Channel is the release channel, e.g. "1-36".
func (r *Release) Channel() string { return r.Spec.Channel }

// Number is the release number within its channel, e.g. 7.
func (r *Release) Number() int { return r.Spec.Number }

// String names the release as EKS-D does: "kubernetes-1-36-eks-7".
func (r *Release) String() string {
	return fmt.Sprintf("kubernetes-%s-eks-%d", r.Spec.Channel, r.Spec.Number)
}

// ManifestURL is where EKS-D publishes the manifest of this release, which
// (unlike the embedded copy) carries the binary checksums.
func (r *Release) ManifestURL() string { return ManifestURL(r.Spec.Channel, r.Spec.Number) }

// ManifestURL is where EKS-D publishes the manifest of a release.
func ManifestURL(channel string, number int) string {
	return fmt.Sprintf("https://distro.eks.amazonaws.com/kubernetes-%s/kubernetes-%s-eks-%d.yaml", channel, channel, number)
}

// KubernetesVersion is the upstream Kubernetes version, e.g. "v1.36.2".
func (r *Release) KubernetesVersion() string {
	if c := r.component(KubernetesComponent); c != nil {
		return c.GitTag
	}
	return ""
}

// KubeadmVersion is the kubernetesVersion to give kubeadm for this release,
// e.g. "v1.36.2-eks-1-36-7": kubeadm turns it into the image tag of the
// control plane images, which EKS-D tags that way.
func (r *Release) KubeadmVersion() string {
	return fmt.Sprintf("%s-eks-%s-%d", r.KubernetesVersion(), r.Spec.Channel, r.Spec.Number)
}

// Image is a container image of a release.
type Image struct {
	Name       string // kube-apiserver, pause, coredns, ...
	Ref        string // full reference as in the manifest, e.g. public.ecr.aws/eks-distro/kubernetes/pause:v1.36.2-eks-1-36-7
	Repository string // Ref without tag and digest
	Tag        string
	Digest     string // image.imageDigest or the @digest of Ref; empty when unknown
}

// Image returns the image called name (kube-apiserver, kube-controller-manager,
// kube-scheduler, kube-proxy, pause, coredns, etcd, or any other image asset
// of the release such as go-runner).
func (r *Release) Image(name string) (Image, bool) {
	a := r.imageAsset(name)
	if a == nil {
		return Image{}, false
	}
	ref, err := parseImageRef(a.Image.URI)
	if err != nil {
		return Image{}, false
	}
	img := Image{Name: name, Ref: a.Image.URI, Repository: ref.repository, Tag: ref.tag, Digest: ref.digest}
	if a.Image.ImageDigest != "" {
		img.Digest = a.Image.ImageDigest
	}
	return img, true
}

// Binary is a downloadable node binary. Empty checksums mean unknown (the
// embedded manifests have none): callers must not install such a file
// without verifying it against the published manifest.
type Binary struct {
	Name   string // kubeadm, kubelet, kubectl, ...
	Arch   string // amd64, arm64
	URL    string
	SHA256 string
	SHA512 string
}

// Verifiable reports whether the binary has a checksum to verify against.
func (b Binary) Verifiable() bool { return b.SHA256 != "" || b.SHA512 != "" }

// Binary returns the linux binary name (kubeadm, kubelet, kubectl, ...) for
// arch (amd64, arm64) from the kubernetes component.
func (r *Release) Binary(name, arch string) (Binary, error) {
	c := r.component(KubernetesComponent)
	if c == nil {
		return Binary{}, fmt.Errorf("release %s has no %q component", r, KubernetesComponent)
	}
	asset := binaryAssetName(name, arch)
	a := c.asset(asset)
	if a == nil || a.Type != AssetTypeArchive || a.Archive == nil {
		return Binary{}, fmt.Errorf("release %s has no binary %q; it has %s", r, asset, r.binaryList(c))
	}
	return Binary{Name: name, Arch: arch, URL: a.Archive.URI, SHA256: a.Archive.SHA256, SHA512: a.Archive.SHA512}, nil
}

func (r *Release) binaryList(c *Component) string {
	var names []string
	for _, a := range c.Assets {
		if a.Type == AssetTypeArchive && strings.HasPrefix(a.Name, "bin/linux/") {
			names = append(names, a.Name)
		}
	}
	if len(names) == 0 {
		return "no linux binaries"
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Component names of release files outside the kubernetes component. EKS-D
// publishes cni-plugins; containerd and runc are read when a manifest lists
// them (a private mirror's, or a test bundle's), before eksd-kata's own
// table of their upstream releases.
const (
	CNIPluginsComponent = "cni-plugins"
	ContainerdComponent = "containerd"
	RuncComponent       = "runc"
)

// Archive is a file of a component other than kubernetes, for one
// architecture: the CNI plugins' tarball, say.
type Archive struct {
	Binary
	FileName string // the asset's name, e.g. cni-plugins-linux-amd64-v1.6.2.tar.gz
	Version  string // the component's gitTag, e.g. v1.6.2
}

// Archive returns the Archive asset of component for arch, and whether the
// release lists one.
func (r *Release) Archive(component, arch string) (Archive, bool) {
	c := r.component(component)
	if c == nil {
		return Archive{}, false
	}
	for _, a := range c.Assets {
		if a.Type != AssetTypeArchive || a.Archive == nil || !slices.Contains(a.Arch, arch) || a.OS != "" && a.OS != "linux" {
			continue
		}
		return Archive{
			Binary:   Binary{Name: component, Arch: arch, URL: a.Archive.URI, SHA256: a.Archive.SHA256, SHA512: a.Archive.SHA512},
			FileName: path.Base(a.Name),
			Version:  c.GitTag,
		}, true
	}
	return Archive{}, false
}
