package eksd

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/kubernetes/cmd/kubeadm/app/constants"
)

// The linked kubeadm's compiled-in pause tag must be the table's value for
// its own channel; when go.mod moves kubeadm, this says the table needs a row.
func TestPauseTagTableMatchesLinkedKubeadm(t *testing.T) {
	if got := kubeadmPauseTags["1-36"]; got != constants.PauseVersion {
		t.Errorf("pause tag for 1-36 is %q, linked kubeadm (1.36) says %q", got, constants.PauseVersion)
	}
}

// TestPauseTagOfANewerChannel: a channel the table does not know plans its
// images with the pause target left to its kubeadm, says so, and takes the
// tag that kubeadm gives.
func TestPauseTagOfANewerChannel(t *testing.T) {
	r := Default()
	r.Spec.Channel = "1-37"
	_, err := r.KubeadmPauseTag()
	if !errors.Is(err, ErrPauseTagUnknown) || !strings.Contains(err.Error(), "kubeadm config images list") {
		t.Fatalf("KubeadmPauseTag of 1-37: %v", err)
	}
	pairs, err := Images(r, Worker, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pairs {
		if unknown := p.Name == Pause; p.TargetUnknown() != unknown || (unknown && (p.NeedsRetag() || !strings.Contains(p.TargetFrom, "kubeadm"))) {
			t.Errorf("pair %+v", p)
		}
	}
	if _, err := SandboxImage(r, ""); !errors.Is(err, ErrPauseTagUnknown) {
		t.Errorf("sandbox image before kubeadm is asked: %v", err)
	}
	r.SetKubeadmPauseTag("3.11")
	if img, err := SandboxImage(r, "mirror.local"); err != nil || img != "mirror.local/eks-distro/kubernetes/pause:3.11" {
		t.Errorf("sandbox image after: %q, %v", img, err)
	}
}

func TestImagesEveryEmbeddedRelease(t *testing.T) {
	facts := map[string]string{}
	for _, f := range factsTable {
		facts[f.channel] = f.pause
	}
	for _, r := range Embedded() {
		pairs, err := Images(r, ControlPlane, "")
		if err != nil {
			t.Errorf("%s: %v", r, err)
			continue
		}
		var names []string
		for _, p := range pairs {
			names = append(names, p.Name)
			if p.Name == Pause {
				want := "public.ecr.aws/eks-distro/kubernetes/pause:" + facts[r.Channel()]
				src := "public.ecr.aws/eks-distro/kubernetes/pause:" + r.KubeadmVersion()
				if p.Target != want || p.Source != src || !p.NeedsRetag() {
					t.Errorf("%s: pause %s -> %s, want %s -> %s", r, p.Source, p.Target, src, want)
				}
				continue
			}
			img, _ := r.Image(p.Name)
			if p.Source != img.Ref || p.Target != p.Source || p.NeedsRetag() {
				t.Errorf("%s: %s: %s -> %s, want both %s", r, p.Name, p.Source, p.Target, img.Ref)
			}
		}
		if got, want := strings.Join(names, ","), strings.Join(RequiredImages, ","); got != want {
			t.Errorf("%s: control plane images %s, want %s", r, got, want)
		}
	}
}

func TestImagesDefault136(t *testing.T) {
	pairs, err := Images(Default(), ControlPlane, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []ImagePair{
		{KubeAPIServer, "public.ecr.aws/eks-distro/kubernetes/kube-apiserver:v1.36.2-eks-1-36-7", "public.ecr.aws/eks-distro/kubernetes/kube-apiserver:v1.36.2-eks-1-36-7", "", ""},
		{KubeControllerManager, "public.ecr.aws/eks-distro/kubernetes/kube-controller-manager:v1.36.2-eks-1-36-7", "public.ecr.aws/eks-distro/kubernetes/kube-controller-manager:v1.36.2-eks-1-36-7", "", ""},
		{KubeScheduler, "public.ecr.aws/eks-distro/kubernetes/kube-scheduler:v1.36.2-eks-1-36-7", "public.ecr.aws/eks-distro/kubernetes/kube-scheduler:v1.36.2-eks-1-36-7", "", ""},
		{KubeProxy, "public.ecr.aws/eks-distro/kubernetes/kube-proxy:v1.36.2-eks-1-36-7", "public.ecr.aws/eks-distro/kubernetes/kube-proxy:v1.36.2-eks-1-36-7", "", ""},
		{CoreDNS, "public.ecr.aws/eks-distro/coredns/coredns:v1.14.3-eks-1-36-7", "public.ecr.aws/eks-distro/coredns/coredns:v1.14.3-eks-1-36-7", "", ""},
		{Pause, "public.ecr.aws/eks-distro/kubernetes/pause:v1.36.2-eks-1-36-7", "public.ecr.aws/eks-distro/kubernetes/pause:3.10.2", "", ""},
		{Etcd, "public.ecr.aws/eks-distro/etcd-io/etcd:v3.6.12-eks-1-36-7", "public.ecr.aws/eks-distro/etcd-io/etcd:v3.6.12-eks-1-36-7", "", ""},
	}
	if len(pairs) != len(want) {
		t.Fatalf("got %d pairs %+v, want %d", len(pairs), pairs, len(want))
	}
	for i := range want {
		if pairs[i] != want[i] {
			t.Errorf("pair %d = %+v, want %+v", i, pairs[i], want[i])
		}
	}

	s, err := KubeadmImageSettings(Default(), "")
	if err != nil {
		t.Fatal(err)
	}
	wantS := KubeadmSettings{
		KubernetesVersion:   "v1.36.2-eks-1-36-7",
		ImageRepository:     "public.ecr.aws/eks-distro/kubernetes",
		DNSImageRepository:  "public.ecr.aws/eks-distro/coredns",
		DNSImageTag:         "v1.14.3-eks-1-36-7",
		EtcdImageRepository: "public.ecr.aws/eks-distro/etcd-io",
		EtcdImageTag:        "v3.6.12-eks-1-36-7",
	}
	if s != wantS {
		t.Errorf("KubeadmImageSettings = %+v, want %+v", s, wantS)
	}
	sb, err := SandboxImage(Default(), "")
	if err != nil || sb != "public.ecr.aws/eks-distro/kubernetes/pause:3.10.2" {
		t.Errorf("SandboxImage = %q, %v", sb, err)
	}
}

func TestImagesMirror(t *testing.T) {
	for _, mirror := range []string{"127.0.0.1:5000", "registry.local/mirror"} {
		for _, r := range []*Release{Default(), Embedded()[0]} {
			pairs, err := Images(r, ControlPlane, mirror)
			if err != nil {
				t.Fatalf("%s via %s: %v", r, mirror, err)
			}
			for _, p := range pairs {
				img, _ := r.Image(p.Name)
				wantSrc := mirror + strings.TrimPrefix(img.Ref, "public.ecr.aws")
				if p.Source != wantSrc {
					t.Errorf("%s via %s: %s source %s, want %s", r, mirror, p.Name, p.Source, wantSrc)
				}
				if !strings.HasPrefix(p.Target, mirror+"/eks-distro/") {
					t.Errorf("%s via %s: %s target %s not on the mirror", r, mirror, p.Name, p.Target)
				}
				if (p.Name == Pause) != p.NeedsRetag() {
					t.Errorf("%s via %s: %s %s -> %s: only pause may need a retag", r, mirror, p.Name, p.Source, p.Target)
				}
			}
			s, err := KubeadmImageSettings(r, mirror)
			if err != nil {
				t.Fatal(err)
			}
			if s.ImageRepository != mirror+"/eks-distro/kubernetes" || s.DNSImageRepository != mirror+"/eks-distro/coredns" ||
				s.EtcdImageRepository != mirror+"/eks-distro/etcd-io" {
				t.Errorf("%s via %s: settings %+v", r, mirror, s)
			}
		}
	}
	if _, err := Images(Default(), ControlPlane, "https://registry.local"); err == nil || !strings.Contains(err.Error(), "without a URL scheme") {
		t.Errorf("bad mirror error = %v", err)
	}
}

func TestImagesWorker(t *testing.T) {
	for _, r := range Embedded() {
		pairs, err := Images(r, Worker, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(pairs) != 2 || pairs[0].Name != KubeProxy || pairs[1].Name != Pause {
			t.Errorf("%s: worker images %+v, want kube-proxy and pause", r, pairs)
		}
	}
	if _, err := Images(Default(), Role("etcd"), ""); err == nil || !strings.Contains(err.Error(), `role "etcd"`) {
		t.Errorf("bad role error = %v", err)
	}
}

// A manifest whose images are not where kubeadm would look for them (here a
// differently named coredns repository) still plans, with a retag.
func TestImagesRetagWhenKubeadmCannotAddressImage(t *testing.T) {
	m := edit(t, manifest136(t), "uri: public.ecr.aws/eks-distro/coredns/coredns:v1.14.3-eks-1-36-7",
		"uri: public.ecr.aws/eks-distro/coredns/core-dns:v1.14.3-eks-1-36-7")
	r, err := Parse([]byte(m))
	if err != nil {
		t.Fatal(err)
	}
	pairs, err := Images(r, ControlPlane, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pairs {
		if p.Name == CoreDNS && (p.Source != "public.ecr.aws/eks-distro/coredns/core-dns:v1.14.3-eks-1-36-7" ||
			p.Target != "public.ecr.aws/eks-distro/coredns/coredns:v1.14.3-eks-1-36-7") {
			t.Errorf("coredns %s -> %s", p.Source, p.Target)
		}
	}
}
