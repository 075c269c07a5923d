package kubeadm

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	bootstraptokenv1 "k8s.io/kubernetes/cmd/kubeadm/app/apis/bootstraptoken/v1"
	kubeadmapi "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm"
	kubeadmscheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme"
	"k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/validation"
	kubeadmutil "k8s.io/kubernetes/cmd/kubeadm/app/util"
	"k8s.io/kubernetes/cmd/kubeadm/app/util/config/strict"
)

// loadInit reads a rendered init config the way kubeadm's own loader does:
// strict decoding of every kubeadm document (unknown or duplicate fields
// fail), conversion to the internal type with kubeadm's defaults, then
// kubeadm's validation. (kubeadm's util/config package itself cannot be
// linked here: it pulls k8s.io/cri-client, which does not build against
// the cri-api containerd 2.4 needs.)
func loadInit(data []byte) (*kubeadmapi.InitConfiguration, error) {
	docs, err := kubeadmutil.SplitConfigDocuments(data)
	if err != nil {
		return nil, err
	}
	var init *kubeadmapi.InitConfiguration
	var cluster *kubeadmapi.ClusterConfiguration
	for gvk, b := range docs {
		if gvk.Group != kubeadmapi.GroupName {
			continue
		}
		if err := strict.VerifyUnmarshalStrict([]*runtime.Scheme{kubeadmscheme.Scheme}, gvk, b); err != nil {
			return nil, err
		}
		obj, err := runtime.Decode(kubeadmscheme.Codecs.UniversalDecoder(), b)
		if err != nil {
			return nil, err
		}
		switch o := obj.(type) {
		case *kubeadmapi.InitConfiguration:
			init = o
		case *kubeadmapi.ClusterConfiguration:
			cluster = o
		default:
			return nil, fmt.Errorf("unexpected kubeadm document %s", gvk)
		}
	}
	if init == nil || cluster == nil {
		return nil, fmt.Errorf("want an InitConfiguration and a ClusterConfiguration, got %d documents", len(docs))
	}
	init.ClusterConfiguration = *cluster
	// kubeadm init generates the bootstrap token itself (dynamic default).
	for i := range init.BootstrapTokens {
		if init.BootstrapTokens[i].Token == nil {
			init.BootstrapTokens[i].Token = &bootstraptokenv1.BootstrapTokenString{ID: "abcdef", Secret: "0123456789abcdef"}
		}
	}
	if errs := validation.ValidateInitConfiguration(init); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return init, nil
}
