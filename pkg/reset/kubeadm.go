package reset

import (
	"context"
	"io"
	"path"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/kubeadm"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// clusterFiles are what kubeadm init or join leave; any of them means
// kubeadm reset has something to do.
var clusterFiles = []string{kubeadm.AdminConf, kubeadm.KubeletConf, kubeadm.BootstrapKubelet, kubeadm.CACert}

// KubeadmStep runs kubeadm reset -f when a cluster was initialised or joined.
type KubeadmStep struct {
	InstallDir string
	Out        io.Writer
}

func (s *KubeadmStep) Name() string { return "kubeadm" }

func (s *KubeadmStep) Plan(_ context.Context, h *host.Host) (*plan.Plan, error) {
	p := &plan.Plan{}
	found, err := clusterState(h)
	if err != nil || found == "" {
		return p, err
	}
	if !h.IsLive() {
		p.Notef("kubeadm reset: skipped (--root); %s stays as it is", found)
		return p, nil
	}
	bin, err := findKubeadm(h, s.InstallDir)
	if err != nil {
		p.Notef("kubeadm reset: skipped, kubeadm is not installed (%v); %s stays as it is", err, found)
		return p, nil
	}
	p.Add(&kubeadm.Run{
		// --cleanup-tmp-dir: kubeadm upgrade's backups of the control
		// plane's manifests and etcd data, /etc/kubernetes/tmp, go too.
		Argv: []string{bin, "reset", "-f", "--cri-socket", kubeadm.CRISocket, "--cleanup-tmp-dir"},
		Why:  "found " + found,
		Out:  s.Out,
	})
	if joined, err := h.FS.Exists(kubeadm.JoinConfigFile); err == nil && joined {
		// kubeadm reset leaves the cluster's record of a joined node; it
		// would stay NotReady there, and a rejoin under the same name fails.
		p.Notef("this node joined a cluster: its Node object stays there; remove it from a control plane with `kubectl delete node <name>`")
	}
	return p, nil
}

// clusterState names one file kubeadm left, or "" when there is none.
func clusterState(h *host.Host) (string, error) {
	for _, p := range clusterFiles {
		ok, err := h.FS.Exists(p)
		if err != nil || ok {
			return p, err
		}
	}
	pods, err := h.FS.Glob(kubeadm.ManifestsDir + "/*.yaml")
	if err != nil || len(pods) == 0 {
		return "", err
	}
	return pods[0], nil
}

// findKubeadm prefers the one eksd-kata installed, then any on PATH.
func findKubeadm(h *host.Host, dir string) (string, error) {
	if dir == "" {
		dir = kubeadm.DefaultInstallDir
	}
	if bin, err := h.FS.LookPath(path.Join(dir, "kubeadm")); err == nil {
		return bin, nil
	}
	return h.FS.LookPath("kubeadm")
}
