package kubeadm

import (
	"encoding/json"
	"errors"
	"fmt"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/v1beta4"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Where the overlays come from, for errors.
const (
	clusterOverlayField = "spec.kubeadm.clusterConfiguration"
	kubeletOverlayField = "spec.kubeadm.kubeletConfiguration"
)

// overlayCluster merges the user's partial ClusterConfiguration over c (a
// JSON merge patch) and decodes the result strictly: an unknown field or a
// wrong type is an error naming the field.
func overlayCluster(c *v1beta4.ClusterConfiguration, overlay map[string]any) (*v1beta4.ClusterConfiguration, error) {
	if len(overlay) == 0 {
		return c, nil
	}
	merged, err := mergeJSON(c, overlay)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", clusterOverlayField, err)
	}
	out := &v1beta4.ClusterConfiguration{}
	if err := decodeStrict(merged, out); err != nil {
		return nil, fmt.Errorf("%s: %w (fields of kubeadm's v1beta4 ClusterConfiguration)", clusterOverlayField, err)
	}
	return out, nil
}

// overlayKubelet merges the user's partial KubeletConfiguration over base
// and returns the merged document; it must decode strictly as the
// kubelet's v1beta1 type. Only the fields set are written: the Go type
// would also write every unset duration as "0s".
func overlayKubelet(base any, overlay map[string]any) ([]byte, error) {
	merged, err := mergeJSON(base, overlay)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kubeletOverlayField, err)
	}
	if len(overlay) > 0 {
		if err := decodeStrict(merged, &kubeletv1beta1.KubeletConfiguration{}); err != nil {
			return nil, fmt.Errorf("%s: %w (fields of the kubelet's v1beta1 KubeletConfiguration)", kubeletOverlayField, err)
		}
	}
	return yaml.JSONToYAML(merged)
}

func mergeJSON(base any, overlay map[string]any) ([]byte, error) {
	b, err := json.Marshal(base)
	if err != nil {
		return nil, err
	}
	if len(overlay) == 0 {
		return b, nil
	}
	patch, err := json.Marshal(overlay)
	if err != nil {
		return nil, err
	}
	return jsonpatch.MergePatch(b, patch)
}

// decodeStrict decodes as the API machinery does: field names match
// exactly (encoding/json would take "certSans" for certSANs), and an
// unknown field is an error.
func decodeStrict(data []byte, into any) error {
	strictErrs, err := kjson.UnmarshalStrict(data, into)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}
