package config

import (
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kubeadm passes settings through to kubeadm's own configuration, for what
// eksd-kata has no field of its own (API server SANs and flags, etcd
// flags, the key algorithm, kubelet limits). Each is a partial document of
// kubeadm's v1beta4 ClusterConfiguration or the kubelet's v1beta1
// KubeletConfiguration, merged over what eksd-kata renders (a JSON merge
// patch: objects merge, lists and values replace) and checked by their
// strict decoders and kubeadm's validation before anything is written.
type Kubeadm struct {
	ClusterConfiguration map[string]any `json:"clusterConfiguration,omitempty"`
	KubeletConfiguration map[string]any `json:"kubeletConfiguration,omitempty"`
}

// ownedCluster are the ClusterConfiguration fields eksd-kata sets itself,
// with the setting to use instead. A nested key is "parent.child".
var ownedCluster = map[string]string{
	"apiVersion":                 "it is chosen for the release",
	"kind":                       "it is ClusterConfiguration",
	"kubernetesVersion":          "set spec.release",
	"imageRepository":            "set spec.images.mirror",
	"dns.imageRepository":        "the CoreDNS image comes from the release (spec.images.mirror)",
	"dns.imageTag":               "the CoreDNS image comes from the release",
	"etcd.local.imageRepository": "the etcd image comes from the release (spec.images.mirror)",
	"etcd.local.imageTag":        "the etcd image comes from the release",
	"etcd.external":              "eksd-kata runs etcd on the control planes (stacked)",
	"networking.podSubnet":       "set spec.network.podCIDR",
	"networking.serviceSubnet":   "set spec.network.serviceCIDR",
	"controlPlaneEndpoint":       "set spec.network.controlPlaneEndpoint",
	"certificatesDir":            "eksd-kata reads the certificates in /etc/kubernetes/pki",
}

// ownedKubelet are the KubeletConfiguration fields eksd-kata or kubeadm set.
var ownedKubelet = map[string]string{
	"apiVersion":               "it is kubelet.config.k8s.io/v1beta1",
	"kind":                     "it is KubeletConfiguration",
	"cgroupDriver":             "set spec.node.cgroupDriver",
	"failCgroupV1":             "set spec.node.allowCgroupV1",
	"staticPodPath":            "kubeadm writes the control plane's static pods in /etc/kubernetes/manifests",
	"containerRuntimeEndpoint": "set spec.containerd.socket",
}

func validateKubeadm(k *Kubeadm, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, forbidOwned(k.ClusterConfiguration, ownedCluster, p.Child("clusterConfiguration"), "")...)
	errs = append(errs, forbidOwned(k.KubeletConfiguration, ownedKubelet, p.Child("kubeletConfiguration"), "")...)
	return errs
}

// forbidOwned lists the keys of doc (below prefix) that owned names.
func forbidOwned(doc map[string]any, owned map[string]string, p *field.Path, prefix string) field.ErrorList {
	var errs field.ErrorList
	for _, k := range slices.Sorted(maps.Keys(doc)) {
		v, name := doc[k], prefix+k
		if why, ok := owned[name]; ok {
			errs = append(errs, field.Forbidden(p.Child(k), "eksd-kata sets it: "+why))
			continue
		}
		if v == nil {
			// In a merge patch null deletes: it would take away what
			// eksd-kata set below it.
			errs = append(errs, field.Invalid(p.Child(k), nil, "null would delete the field from what eksd-kata renders: leave it out instead"))
			continue
		}
		if sub, ok := v.(map[string]any); ok {
			errs = append(errs, forbidOwned(sub, owned, p.Child(k), name+".")...)
		}
	}
	return errs
}
