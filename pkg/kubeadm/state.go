package kubeadm

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// Files kubeadm leaves on a node.
const (
	KubernetesDir    = "/etc/kubernetes"
	AdminConf        = "/etc/kubernetes/admin.conf"
	KubeletConf      = "/etc/kubernetes/kubelet.conf"
	CACert           = "/etc/kubernetes/pki/ca.crt"
	ManifestsDir     = "/etc/kubernetes/manifests"
	APIServerPod     = "/etc/kubernetes/manifests/kube-apiserver.yaml"
	EtcdPod          = "/etc/kubernetes/manifests/etcd.yaml"
	BootstrapKubelet = "/etc/kubernetes/bootstrap-kubelet.conf"
	// KubeletConfig is written by kubeadm's kubelet-start phase (init and
	// join), after the certificates, kubeconfig files and static pods.
	KubeletConfig = "/var/lib/kubelet/config.yaml"
)

// Probe checks that the API server of this host answers; h gives it the
// CA and admin.conf. The default asks /readyz over TLS.
type Probe func(ctx context.Context, h *host.Host) error

// controlPlane is what kubeadm init left on this host.
type controlPlane struct {
	present []string // which of the init files exist
	missing []string
	// started: init (or join) went past the certificates and kubeconfig
	// files: a static pod or the kubelet's config is written. Before
	// that, kubeadm init takes up what it finds (the certs step's work).
	started bool
}

func (c controlPlane) none() bool     { return len(c.present) == 0 }
func (c controlPlane) complete() bool { return len(c.missing) == 0 }

// readControlPlane looks for the files kubeadm init writes.
func readControlPlane(h *host.Host) (controlPlane, error) {
	var cp controlPlane
	for _, p := range []string{AdminConf, CACert, APIServerPod} {
		ok, err := h.FS.Exists(p)
		if err != nil {
			return cp, err
		}
		if ok {
			cp.present = append(cp.present, p)
		} else {
			cp.missing = append(cp.missing, p)
		}
	}
	// Other static pods without the API server's are a half-done init too.
	pods, err := h.FS.Glob(ManifestsDir + "/*.yaml")
	if err != nil {
		return cp, err
	}
	for _, p := range pods {
		if p != APIServerPod && !slices.Contains(cp.present, p) {
			cp.present = append(cp.present, p)
		}
	}
	kubelet, err := h.FS.Exists(KubeletConfig)
	if err != nil {
		return cp, err
	}
	if kubelet {
		cp.present = append(cp.present, KubeletConfig)
	}
	cp.started = len(pods) > 0 || kubelet
	return cp, nil
}

// errHalfDone explains a node that kubeadm init or join did not finish.
func errHalfDone(what string, detail string) error {
	return fmt.Errorf("%s on this host is half-done (%s): run `eksd-kata reset` to clean it up, then run this command again", what, detail)
}

var serverRE = regexp.MustCompile(`(?m)^\s*server:\s*(\S+)\s*$`)

// ProbeReadyz asks the API server named in admin.conf for /readyz,
// trusting only the cluster CA. /readyz is open to anonymous clients.
func ProbeReadyz(ctx context.Context, h *host.Host) error {
	conf, err := h.FS.ReadText(AdminConf)
	if err != nil {
		return err
	}
	m := serverRE.FindSubmatch(conf)
	if m == nil {
		return fmt.Errorf("%s names no server", AdminConf)
	}
	caPEM, err := h.FS.ReadText(CACert)
	if err != nil {
		return err
	}
	url := strings.TrimRight(string(m[1]), "/") + "/readyz"
	return host.GetHTTPS(ctx, url, caPEM)
}
