package eksd

import (
	"errors"
	"fmt"
	"path"

	kubeadmapi "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm"
	kubeadmscheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme"
	kubeadmapiv1 "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/v1beta4"
	"k8s.io/kubernetes/cmd/kubeadm/app/constants"
	kubeadmimages "k8s.io/kubernetes/cmd/kubeadm/app/images"
)

// kubeadmPauseTags is the pause tag the kubeadm of each EKS-D channel
// expects, from aws/eks-distro projects/kubernetes/kubernetes/<ch>/PAUSE_TAG.
// kubeadm compiles its pause tag in (constants.PauseVersion), so the kubeadm
// we link only knows its own. It is the offline answer for the channels
// this program knows; the release's own kubeadm, once installed, is asked
// (SetKubeadmPauseTag), and a newer channel needs no row here.
var kubeadmPauseTags = map[string]string{
	"1-30": "3.9",
	"1-31": "3.10",
	"1-32": "3.10",
	"1-33": "3.10",
	"1-34": "3.10.1",
	"1-35": "3.10.1",
	"1-36": "3.10.2",
}

// ErrPauseTagUnknown is the answer of KubeadmPauseTag for a channel newer
// than this program whose kubeadm has not been asked yet.
var ErrPauseTagUnknown = errors.New("the pause tag is unknown")

// SetKubeadmPauseTag records the pause tag the release's own kubeadm
// expects (kubeadm config images list).
func (r *Release) SetKubeadmPauseTag(tag string) { r.kubeadmPauseTag = tag }

// KubeadmPauseTag returns the pause image tag the kubeadm of r expects
// (e.g. "3.10.2" for 1-36): what that kubeadm said, or else the table of
// known channels. For a newer channel whose kubeadm was not asked, the
// error wraps ErrPauseTagUnknown and says where the tag will come from.
func (r *Release) KubeadmPauseTag() (string, error) {
	if r.kubeadmPauseTag != "" {
		return r.kubeadmPauseTag, nil
	}
	if tag, ok := kubeadmPauseTags[r.Channel()]; ok {
		return tag, nil
	}
	return "", fmt.Errorf("%w for EKS-D %s-%d: it comes from its kubeadm %s (kubeadm config images list) once that is installed",
		ErrPauseTagUnknown, r.Channel(), r.Number(), r.KubernetesVersion())
}

// KubeadmSettings are the image settings of a kubeadm ClusterConfiguration
// that make kubeadm expect the EKS-D images of a release. The kubeadm config
// renderer and Images use the same values.
type KubeadmSettings struct {
	KubernetesVersion   string // v1.36.2-eks-1-36-7
	ImageRepository     string // public.ecr.aws/eks-distro/kubernetes
	DNSImageRepository  string // public.ecr.aws/eks-distro/coredns
	DNSImageTag         string // v1.14.3-eks-1-36-7
	EtcdImageRepository string // public.ecr.aws/eks-distro/etcd-io
	EtcdImageTag        string // v3.6.12-eks-1-36-7
}

// KubeadmImageSettings derives the kubeadm image settings for r, with the
// registry replaced by mirror (host[:port][/path]) when mirror is not empty.
// kubeadm appends the image name to each repository, so the repositories are
// the parents of the EKS-D ones.
func KubeadmImageSettings(r *Release, mirror string) (KubeadmSettings, error) {
	if err := CheckMirror(mirror); err != nil {
		return KubeadmSettings{}, err
	}
	refs := map[string]imageRef{}
	for _, name := range []string{KubeAPIServer, CoreDNS, Etcd} {
		ref, err := r.imageRef(name, mirror)
		if err != nil {
			return KubeadmSettings{}, err
		}
		refs[name] = ref
	}
	return KubeadmSettings{
		KubernetesVersion:   r.KubeadmVersion(),
		ImageRepository:     path.Dir(refs[KubeAPIServer].repository),
		DNSImageRepository:  path.Dir(refs[CoreDNS].repository),
		DNSImageTag:         refs[CoreDNS].tag,
		EtcdImageRepository: path.Dir(refs[Etcd].repository),
		EtcdImageTag:        refs[Etcd].tag,
	}, nil
}

// Apply writes the settings into a v1beta4 ClusterConfiguration. A config
// with external etcd keeps it; only a local etcd gets the image settings.
func (s KubeadmSettings) Apply(cfg *kubeadmapiv1.ClusterConfiguration) {
	cfg.KubernetesVersion = s.KubernetesVersion
	cfg.ImageRepository = s.ImageRepository
	cfg.DNS.ImageRepository = s.DNSImageRepository
	cfg.DNS.ImageTag = s.DNSImageTag
	if cfg.Etcd.External == nil {
		if cfg.Etcd.Local == nil {
			cfg.Etcd.Local = &kubeadmapiv1.LocalEtcd{}
		}
		cfg.Etcd.Local.ImageRepository = s.EtcdImageRepository
		cfg.Etcd.Local.ImageTag = s.EtcdImageTag
	}
}

// imageRef returns the reference of a release image, served from mirror.
func (r *Release) imageRef(name, mirror string) (imageRef, error) {
	a := r.imageAsset(name)
	if a == nil {
		return imageRef{}, fmt.Errorf("release %s has no %q image", r, name)
	}
	ref, err := parseImageRef(a.Image.URI)
	if err != nil {
		return imageRef{}, fmt.Errorf("release %s: image %q: %w", r, name, err)
	}
	return ref.withRegistry(mirror), nil
}

// Role selects the images a node needs.
type Role string

const (
	// ControlPlane nodes run every kubeadm image.
	ControlPlane Role = "control-plane"
	// Worker nodes run only pause (pod sandboxes) and kube-proxy.
	Worker Role = "worker"
)

// ImagePair is an image to pull (Source) and the reference kubeadm expects
// it under (Target). When they differ the image must be tagged as Target.
type ImagePair struct {
	Name   string // kube-apiserver, pause, ...
	Source string // EKS-D reference (on the mirror when one is used)
	Target string // reference kubeadm of the release looks for
	Digest string // digest of Source from the manifest; empty when unknown
	// TargetFrom says where an unknown Target will come from.
	TargetFrom string
}

// NeedsRetag reports whether the pulled image must also be tagged as Target.
func (p ImagePair) NeedsRetag() bool { return p.Target != "" && p.Source != p.Target }

// TargetUnknown reports that the reference kubeadm expects is not known
// yet: the pause image of a newer channel before its kubeadm is asked.
func (p ImagePair) TargetUnknown() bool { return p.Target == "" }

// Images plans the images of release r for a node of role, pulled from mirror
// (host[:port][/path]) instead of the release's registry when not empty.
// Target comes from kubeadm's own image functions fed with the same settings
// as the rendered kubeadm config, except the pause tag, which kubeadm
// compiles in and which therefore comes from r.KubeadmPauseTag: when that is
// not known yet, pause's Target is empty.
func Images(r *Release, role Role, mirror string) ([]ImagePair, error) {
	if role != ControlPlane && role != Worker {
		return nil, fmt.Errorf("image plan: role %q is not %q or %q", role, ControlPlane, Worker)
	}
	cfg, err := kubeadmClusterConfig(r, mirror)
	if err != nil {
		return nil, err
	}
	pauseTag, err := r.KubeadmPauseTag()
	if err != nil && !errors.Is(err, ErrPauseTagUnknown) {
		return nil, err
	}

	var targets []string
	if role == ControlPlane {
		targets = kubeadmimages.GetControlPlaneImages(cfg)
	} else {
		targets = []string{
			kubeadmimages.GetKubernetesImage(constants.KubeProxy, cfg),
			kubeadmimages.GetPauseImage(cfg),
		}
	}

	pairs := make([]ImagePair, 0, len(targets))
	for _, target := range targets {
		tref, err := parseImageRef(target)
		if err != nil {
			return nil, fmt.Errorf("image plan: kubeadm image %q: %w", target, err)
		}
		name := path.Base(tref.repository)
		if name == Pause {
			if tref.tag != constants.PauseVersion {
				return nil, fmt.Errorf("image plan: kubeadm's pause image %q does not carry its pause tag %q; package eksd needs updating for this kubeadm", target, constants.PauseVersion)
			}
			tref.tag = pauseTag
		}
		target, from := tref.String(), ""
		if pauseTag == "" && name == Pause {
			target, from = "", "the tag kubeadm "+r.KubernetesVersion()+" expects (kubeadm config images list), once it is installed"
		}
		src, err := r.imageRef(name, mirror)
		if err != nil {
			return nil, fmt.Errorf("image plan: kubeadm expects %s: %w", target, err)
		}
		img, _ := r.Image(name)
		pairs = append(pairs, ImagePair{Name: name, Source: src.String(), Target: target, Digest: img.Digest, TargetFrom: from})
	}
	return pairs, nil
}

// SandboxImage is the pause reference kubeadm of r expects; containerd's
// sandbox image must name exactly this so the kubelet and containerd agree.
func SandboxImage(r *Release, mirror string) (string, error) {
	pairs, err := Images(r, Worker, mirror)
	if err != nil {
		return "", err
	}
	for _, p := range pairs {
		if p.Name == Pause && p.TargetUnknown() {
			_, err := r.KubeadmPauseTag()
			return "", err
		}
		if p.Name == Pause {
			return p.Target, nil
		}
	}
	return "", fmt.Errorf("image plan for %s has no pause image", r)
}

// kubeadmClusterConfig builds the ClusterConfiguration kubeadm would load
// from our rendered v1beta4 config: defaulted and converted to kubeadm's
// internal type, which is what kubeadm's image functions read.
func kubeadmClusterConfig(r *Release, mirror string) (*kubeadmapi.ClusterConfiguration, error) {
	settings, err := KubeadmImageSettings(r, mirror)
	if err != nil {
		return nil, err
	}
	versioned := &kubeadmapiv1.ClusterConfiguration{}
	settings.Apply(versioned)
	kubeadmscheme.Scheme.Default(versioned)
	internal := &kubeadmapi.ClusterConfiguration{}
	if err := kubeadmscheme.Scheme.Convert(versioned, internal, nil); err != nil {
		return nil, fmt.Errorf("image plan: converting the kubeadm v1beta4 ClusterConfiguration: %w", err)
	}
	return internal, nil
}
