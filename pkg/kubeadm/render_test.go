package kubeadm

import (
	"slices"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	corev1 "k8s.io/api/core/v1"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"k8s.io/kubernetes/cmd/kubeadm/app/images"
	"sigs.k8s.io/yaml"
)

func testConfig() *config.NodeConfig {
	cfg := config.Default()
	cfg.Spec.Node.Name = "node-1"
	cfg.Spec.Node.AdvertiseAddress = "192.0.2.10"
	cfg.Spec.Node.CgroupDriver = config.CgroupDriverSystemd
	return cfg
}

// TestRenderRoundTripsThroughKubeadm: for every embedded release, kubeadm's
// own loader (strict decoding, defaulting, validation) reads what we wrote
// and sees the EKS-D settings; its image list is the release's.
func TestRenderRoundTripsThroughKubeadm(t *testing.T) {
	for _, r := range eksd.Embedded() {
		t.Run(r.String(), func(t *testing.T) {
			cfg := testConfig()
			data, err := RenderInit(cfg, r)
			if err != nil {
				t.Fatal(err)
			}
			wantAPI := "apiVersion: kubeadm.k8s.io/v1beta4"
			if r.Channel() == "1-30" {
				wantAPI = "apiVersion: kubeadm.k8s.io/v1beta3"
			}
			if !strings.Contains(string(data), wantAPI) {
				t.Fatalf("want %s:\n%s", wantAPI, data)
			}
			ic, err := loadInit(data)
			if err != nil {
				t.Fatalf("kubeadm rejects the config: %v\n%s", err, data)
			}
			if ic.KubernetesVersion != r.KubeadmVersion() || ic.NodeRegistration.Name != "node-1" ||
				ic.LocalAPIEndpoint.AdvertiseAddress != "192.0.2.10" || ic.NodeRegistration.CRISocket != CRISocket ||
				ic.Networking.PodSubnet != config.DefaultPodCIDR || ic.Networking.ServiceSubnet != config.DefaultServiceCIDR {
				t.Errorf("kubeadm read back: %+v", ic)
			}
			if ic.NodeRegistration.ImagePullPolicy != corev1.PullNever {
				t.Errorf("imagePullPolicy %q", ic.NodeRegistration.ImagePullPolicy)
			}
			if ic.NodeRegistration.Taints == nil || len(ic.NodeRegistration.Taints) != 0 {
				t.Errorf("single node: taints %#v, want an empty list (nil lets kubeadm add its taint)", ic.NodeRegistration.Taints)
			}
			pairs, err := eksd.Images(r, eksd.ControlPlane, "")
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, p := range pairs {
				want = append(want, p.Target)
			}
			got := images.GetControlPlaneImages(&ic.ClusterConfiguration)
			// kubeadm's own pause constant is the linked kubeadm's (1.36); the
			// release's kubeadm expects its own, which eksd.Images knows.
			got = append(got, images.GetPauseImage(&ic.ClusterConfiguration))
			for _, g := range got {
				if strings.Contains(g, "/pause:") {
					continue
				}
				if !contains(want, g) {
					t.Errorf("kubeadm wants %s, not in our image plan %v", g, want)
				}
			}
		})
	}
}

func TestRenderKeepsTaintUnlessSingleNode(t *testing.T) {
	cfg := testConfig()
	cfg.Spec.Addons.UntaintControlPlane = false
	data, err := RenderInit(cfg, eksd.Default())
	if err != nil {
		t.Fatal(err)
	}
	ic, err := loadInit(data)
	if err != nil {
		t.Fatal(err)
	}
	// nil: kubeadm's dynamic defaulting adds node-role.kubernetes.io/control-plane:NoSchedule.
	if ic.NodeRegistration.Taints != nil {
		t.Fatalf("taints %#v, want them unset so that kubeadm adds its control-plane taint", ic.NodeRegistration.Taints)
	}
}

func TestRenderMirrorAndCgroupDriver(t *testing.T) {
	cfg := testConfig()
	cfg.Spec.Images.Mirror = "127.0.0.1:5000"
	cfg.Spec.Node.CgroupDriver = config.CgroupDriverCgroupfs
	data, err := RenderInit(cfg, eksd.Default())
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, want := range []string{"imageRepository: 127.0.0.1:5000/eks-distro/kubernetes", "cgroupDriver: cgroupfs", "kind: KubeletConfiguration"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q:\n%s", want, s)
		}
	}
}

func TestRenderNeedsAddress(t *testing.T) {
	cfg := testConfig()
	cfg.Spec.Node.AdvertiseAddress = ""
	if _, err := RenderInit(cfg, eksd.Default()); err == nil || !strings.Contains(err.Error(), "advertiseAddress") {
		t.Fatalf("err = %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestKubeletConfigDecodesWithKubeletDefaults: the kubelet document holds
// only the cgroup driver, so no zero value overrides a kubelet default.
func TestKubeletConfigDecodesWithKubeletDefaults(t *testing.T) {
	data, err := kubeletConfig(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	var kc kubeletv1beta1.KubeletConfiguration
	if err := yaml.UnmarshalStrict(data, &kc); err != nil {
		t.Fatal(err)
	}
	if kc.CgroupDriver != "systemd" || kc.Kind != "KubeletConfiguration" || kc.APIVersion != "kubelet.config.k8s.io/v1beta1" {
		t.Fatalf("%+v", kc)
	}
	if strings.Contains(string(data), "0s") {
		t.Fatalf("zero durations written:\n%s", data)
	}
}

func TestAllowCgroupV1(t *testing.T) {
	cfg := testConfig()
	cfg.Spec.Node.AllowCgroupV1 = true
	data, err := kubeletConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var kc kubeletv1beta1.KubeletConfiguration
	if err := yaml.UnmarshalStrict(data, &kc); err != nil {
		t.Fatal(err)
	}
	if kc.FailCgroupV1 == nil || *kc.FailCgroupV1 {
		t.Fatalf("failCgroupV1 = %v, want false:\n%s", kc.FailCgroupV1, data)
	}
	all, err := RenderInit(cfg, eksd.Default())
	if err != nil {
		t.Fatal(err)
	}
	ic, err := loadInit(all)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ic.NodeRegistration.IgnorePreflightErrors, "SystemVerification") {
		t.Fatalf("kubeadm's SystemVerification is not skipped: %v", ic.NodeRegistration.IgnorePreflightErrors)
	}
	cfg.Spec.Node.AllowCgroupV1 = false
	if data, _ := kubeletConfig(cfg); strings.Contains(string(data), "failCgroupV1") {
		t.Fatalf("failCgroupV1 written without the setting:\n%s", data)
	}
}

func TestConntrackMaxPerCore(t *testing.T) {
	cfg := testConfig()
	zero := int32(0)
	cfg.Spec.Network.ConntrackMaxPerCore = &zero
	data, err := RenderInit(cfg, eksd.Default())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "---\napiVersion: kubeproxy.config.k8s.io/v1alpha1\nconntrack:\n  maxPerCore: 0\nkind: KubeProxyConfiguration\n") {
		t.Fatalf("no KubeProxyConfiguration with maxPerCore 0:\n%s", data)
	}
	if _, err := loadInit(data); err != nil {
		t.Fatal(err)
	}
	cfg.Spec.Network.ConntrackMaxPerCore = nil
	if data, _ := RenderInit(cfg, eksd.Default()); strings.Contains(string(data), "KubeProxyConfiguration") {
		t.Fatal("KubeProxyConfiguration written without the setting")
	}
}

// overlayConfig is testConfig with spec.kubeadm set as a user would write
// it in YAML.
func overlayConfig(t *testing.T, doc string) *config.NodeConfig {
	t.Helper()
	cfg := testConfig()
	if err := yaml.UnmarshalStrict([]byte(doc), &cfg.Spec.Kubeadm); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestRenderKubeadmOverlays: spec.kubeadm's fields are merged over what
// eksd-kata renders and kubeadm's loader reads them back beside ours; the
// kubelet's too. What kubeadm or the kubelet would refuse is refused here,
// naming the field, before anything is written.
func TestRenderKubeadmOverlays(t *testing.T) {
	cfg := overlayConfig(t, `
clusterConfiguration:
  encryptionAlgorithm: ECDSA-P256
  apiServer:
    certSANs: [api.example.com]
    extraArgs:
    - {name: audit-log-maxage, value: "7"}
  etcd:
    local:
      extraArgs:
      - {name: quota-backend-bytes, value: "4294967296"}
kubeletConfiguration:
  maxPods: 60
  systemReserved: {cpu: 100m}
`)
	data, err := RenderInit(cfg, eksd.Default())
	if err != nil {
		t.Fatal(err)
	}
	ic, err := loadInit(data)
	if err != nil {
		t.Fatalf("kubeadm rejects it: %v\n%s", err, data)
	}
	if ic.EncryptionAlgorithm != "ECDSA-P256" || !slices.Contains(ic.APIServer.CertSANs, "api.example.com") ||
		len(ic.APIServer.ExtraArgs) != 1 || ic.APIServer.ExtraArgs[0].Value != "7" ||
		ic.Etcd.Local == nil || len(ic.Etcd.Local.ExtraArgs) != 1 || ic.Etcd.Local.ImageTag == "" {
		t.Fatalf("kubeadm read back %+v\n%s", ic.ClusterConfiguration, data)
	}
	// Ours are still there beside them.
	if ic.ImageRepository == "" || ic.Networking.PodSubnet != config.DefaultPodCIDR {
		t.Fatalf("eksd-kata's settings lost:\n%s", data)
	}
	var kc kubeletv1beta1.KubeletConfiguration
	if err := yaml.UnmarshalStrict(kubeletDoc(t, data), &kc); err != nil {
		t.Fatal(err)
	}
	if kc.MaxPods != 60 || kc.SystemReserved["cpu"] != "100m" || kc.CgroupDriver != config.CgroupDriverSystemd {
		t.Fatalf("kubelet config %+v", kc)
	}

	for _, tc := range []struct {
		name, doc, want string
	}{
		{"unknown field", "clusterConfiguration: {apiServer: {certSans: [x]}}", `spec.kubeadm.clusterConfiguration: unknown field "apiServer.certSans"`},
		{"wrong type", "clusterConfiguration: {apiServer: {certSANs: x}}", "spec.kubeadm.clusterConfiguration"},
		{"kubeadm refuses the value", "clusterConfiguration: {encryptionAlgorithm: DSA}", "spec.kubeadm.clusterConfiguration: kubeadm refuses the result"},
		{"kubelet unknown field", "kubeletConfiguration: {maxPod: 60}", `spec.kubeadm.kubeletConfiguration: unknown field "maxPod"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RenderInit(overlayConfig(t, tc.doc), eksd.Default())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	old, err := eksd.Lookup("1-30", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RenderInit(cfg, old); err == nil || !strings.Contains(err.Error(), "EKS-D 1-31 or newer") {
		t.Fatalf("1-30 (v1beta3): err = %v", err)
	}
}

// kubeletDoc is the KubeletConfiguration document of a rendered config.
func kubeletDoc(t *testing.T, data []byte) []byte {
	t.Helper()
	for _, d := range strings.Split(string(data), "\n---\n") {
		if strings.Contains(d, "kind: KubeletConfiguration") {
			return []byte(d)
		}
	}
	t.Fatalf("no KubeletConfiguration in:\n%s", data)
	return nil
}
