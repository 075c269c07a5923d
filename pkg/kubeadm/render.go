// Package kubeadm renders kubeadm's configuration from kubeadm's own API
// types and runs kubeadm init, join and reset.
package kubeadm

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/owned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	kubeadmapi "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm"
	kubeadmscheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme"
	"k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/v1beta3"
	"k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/v1beta4"
	kubeadmconstants "k8s.io/kubernetes/cmd/kubeadm/app/constants"
	kubeadmutil "k8s.io/kubernetes/cmd/kubeadm/app/util"
	"sigs.k8s.io/yaml"
)

// ConfigFile is where the rendered configuration is kept, so the operator
// can read exactly what kubeadm ran with.
const ConfigFile = owned.KubeadmConfigFile

// CRISocket is containerd's CRI endpoint as kubeadm and the kubelet name it.
const CRISocket = "unix:///var/run/containerd/containerd.sock"

// undetectedError: a host-dependent setting (node name, advertise
// address) is neither configured nor detected; an offline image learns it
// on the node.
type undetectedError string

func (e undetectedError) Error() string { return string(e) }

// APIVersion is the kubeadm config API the release's kubeadm reads:
// v1beta4 since Kubernetes 1.31, v1beta3 before.
func APIVersion(r *eksd.Release) schema.GroupVersion {
	if kubeMinor(r) < 31 {
		return v1beta3.SchemeGroupVersion
	}
	return v1beta4.SchemeGroupVersion
}

// RenderInit returns the InitConfiguration, ClusterConfiguration and
// KubeletConfiguration documents for kubeadm init on this node. cfg must be
// resolved (node name, advertise address, cgroup driver filled in).
func RenderInit(cfg *config.NodeConfig, r *eksd.Release) ([]byte, error) {
	n := cfg.Spec.Node
	if n.Name == "" {
		return nil, undetectedError("the node name is unknown: set spec.node.name or --node-name")
	}
	if n.AdvertiseAddress == "" {
		return nil, undetectedError("the advertise address is unknown (no default route, or --root): set spec.node.advertiseAddress or --advertise-address")
	}
	addr, err := netip.ParseAddr(n.AdvertiseAddress)
	if err != nil {
		return nil, fmt.Errorf("advertise address %q: %w", n.AdvertiseAddress, err)
	}

	init := &v1beta4.InitConfiguration{
		NodeRegistration: nodeRegistration(cfg),
		LocalAPIEndpoint: v1beta4.APIEndpoint{AdvertiseAddress: addr.String(), BindPort: kubeadmconstants.KubeAPIServerPort},
	}
	cluster := &v1beta4.ClusterConfiguration{
		ControlPlaneEndpoint: cfg.Spec.Network.ControlPlaneEndpoint,
		Networking: v1beta4.Networking{
			PodSubnet:     cfg.Spec.Network.PodCIDR,
			ServiceSubnet: cfg.Spec.Network.ServiceCIDR,
		},
	}
	settings, err := eksd.KubeadmImageSettings(r, cfg.Spec.Images.Mirror)
	if err != nil {
		return nil, err
	}
	settings.Apply(cluster)
	gv := APIVersion(r)
	if len(cfg.Spec.Kubeadm.ClusterConfiguration) > 0 && gv != v1beta4.SchemeGroupVersion {
		return nil, fmt.Errorf("%s needs kubeadm's v1beta4 configuration: EKS-D 1-31 or newer, not %s", clusterOverlayField, r.Channel())
	}
	if cluster, err = overlayCluster(cluster, cfg.Spec.Kubeadm.ClusterConfiguration); err != nil {
		return nil, err
	}

	initDoc, err := encode(init, gv)
	if err != nil {
		return nil, err
	}
	clusterDoc, err := encode(cluster, gv)
	if err != nil {
		return nil, err
	}
	kubeletDoc, err := kubeletConfig(cfg)
	if err != nil {
		return nil, err
	}
	docs := [][]byte{initDoc, clusterDoc, kubeletDoc}
	if c := cfg.Spec.Network.ConntrackMaxPerCore; c != nil {
		proxyDoc, err := yaml.Marshal(map[string]any{
			"apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
			"kind":       "KubeProxyConfiguration",
			"conntrack":  map[string]any{"maxPerCore": *c},
		})
		if err != nil {
			return nil, err
		}
		docs = append(docs, proxyDoc)
	}
	out := joinDocuments(docs...)
	if len(cfg.Spec.Kubeadm.ClusterConfiguration) > 0 {
		// What the user merged in must pass kubeadm's own validation now,
		// before anything on the host changes.
		if _, err := loadInit(out); err != nil {
			return nil, fmt.Errorf("%s: kubeadm refuses the result: %w", clusterOverlayField, err)
		}
	}
	return out, nil
}

// nodeRegistration is what kubeadm registers the node with.
func nodeRegistration(cfg *config.NodeConfig) v1beta4.NodeRegistrationOptions {
	nr := v1beta4.NodeRegistrationOptions{
		Name:      cfg.Spec.Node.Name,
		CRISocket: CRISocket,
		// Our images step pulled and retagged everything: kubeadm must use
		// them as they are, and fail loudly if one is missing.
		ImagePullPolicy: corev1.PullNever,
	}
	if cfg.Spec.Node.AllowCgroupV1 {
		// kubeadm's SystemVerification fails on cgroup v1 for a kubelet that
		// refuses it; the operator allowed cgroup v1 (failCgroupV1: false).
		nr.IgnorePreflightErrors = []string{"SystemVerification"}
	}
	if cfg.Spec.UntaintsThisNode() {
		// An empty list, not nil: kubeadm then registers the node without
		// the control-plane NoSchedule taint (single-node cluster).
		nr.Taints = []corev1.Taint{}
	}
	return nr
}

// encode converts a v1beta4 object to the internal type and writes it in gv,
// through kubeadm's own scheme, as kubeadm itself would print it.
func encode(obj runtime.Object, gv schema.GroupVersion) ([]byte, error) {
	var internal runtime.Object
	switch obj.(type) {
	case *v1beta4.InitConfiguration:
		internal = &kubeadmapi.InitConfiguration{}
	case *v1beta4.ClusterConfiguration:
		internal = &kubeadmapi.ClusterConfiguration{}
	case *v1beta4.JoinConfiguration:
		internal = &kubeadmapi.JoinConfiguration{}
	case *v1beta4.UpgradeConfiguration:
		internal = &kubeadmapi.UpgradeConfiguration{}
	default:
		return nil, fmt.Errorf("kubeadm: cannot encode %T", obj)
	}
	if err := kubeadmscheme.Scheme.Convert(obj, internal, nil); err != nil {
		return nil, err
	}
	return kubeadmutil.MarshalToYamlForCodecs(internal, gv, kubeadmscheme.Codecs)
}

// kubeletConfig sets the kubelet settings eksd-kata owns: the cgroup
// driver containerd must agree with, and failCgroupV1 when the operator
// allows cgroup v1. Only these fields are written: the kubelet's Go type would also write every
// unset duration as "0s", which overrides the kubelet's defaults.
func kubeletConfig(cfg *config.NodeConfig) ([]byte, error) {
	kc := &struct {
		metav1.TypeMeta `json:",inline"`
		CgroupDriver    string `json:"cgroupDriver"`
		FailCgroupV1    *bool  `json:"failCgroupV1,omitempty"`
	}{
		TypeMeta:     metav1.TypeMeta{APIVersion: kubeletv1beta1.SchemeGroupVersion.String(), Kind: "KubeletConfiguration"},
		CgroupDriver: cfg.Spec.Node.CgroupDriver,
	}
	if cfg.Spec.Node.AllowCgroupV1 {
		no := false
		kc.FailCgroupV1 = &no
	}
	return overlayKubelet(kc, cfg.Spec.Kubeadm.KubeletConfiguration)
}

func joinDocuments(docs ...[]byte) []byte {
	var b bytes.Buffer
	for i, d := range docs {
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(bytes.TrimRight(d, "\n"))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func kubeMinor(r *eksd.Release) int {
	ch := r.Channel()
	for i := 0; i < len(ch); i++ {
		if ch[i] == '-' {
			n, _ := strconv.Atoi(ch[i+1:])
			return n
		}
	}
	return 0
}
