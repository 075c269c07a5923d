package kubeadm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/kata"
	"github.com/eksd-kata/eksd-kata/pkg/kube"
	"github.com/eksd-kata/eksd-kata/pkg/owned"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/v1beta4"
	kubeadmconstants "k8s.io/kubernetes/cmd/kubeadm/app/constants"
)

// JoinConfigFile holds the JoinConfiguration; 0600 as it holds the token.
const JoinConfigFile = owned.KubeadmJoinFile

// RenderJoin returns the JoinConfiguration (v1beta4; v1beta3 for 1-30) that
// joins this node as a worker, or as a control plane when j.ControlPlane
// (cfg's role must then be control-plane, with the advertise address
// resolved). The kubelet's settings come from the cluster's kubelet-config
// ConfigMap, so no KubeletConfiguration is written. kataLabel registers
// the node with the Kata label: say it only where Kata is installed.
func RenderJoin(cfg *config.NodeConfig, r *eksd.Release, j *config.Join, kataLabel bool) ([]byte, error) {
	if errs := config.ValidateJoin(j, field.NewPath("spec", "join")); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	if cfg.Spec.Node.Name == "" {
		return nil, fmt.Errorf("the node name is unknown: set spec.node.name or --node-name")
	}
	jc := &v1beta4.JoinConfiguration{
		NodeRegistration: nodeRegistration(cfg),
		Discovery: v1beta4.Discovery{
			BootstrapToken: &v1beta4.BootstrapTokenDiscovery{
				Token:             j.Token,
				APIServerEndpoint: j.ControlPlaneEndpoint,
				CACertHashes:      []string{j.DiscoveryTokenCACertHash},
			},
		},
		// Conversion reads the discovery timeout from here; empty keeps kubeadm's default.
		Timeouts: &v1beta4.Timeouts{},
	}
	if cfg.Spec.Kata.Enabled && kataLabel {
		// The Kata RuntimeClasses select nodes by this label. The first
		// control plane's add-ons label it; a joining node has no admin
		// credentials, so its kubelet registers with the label (kubelets
		// may set labels outside kubernetes.io).
		jc.NodeRegistration.KubeletExtraArgs = []v1beta4.Arg{{Name: "node-labels", Value: kube.KataNodeLabel + "=true"}}
	}
	if j.ControlPlane {
		if cfg.Spec.Node.Role != config.RoleControlPlane {
			return nil, fmt.Errorf("spec.join.controlPlane needs spec.node.role %s, not %s", config.RoleControlPlane, cfg.Spec.Node.Role)
		}
		addr, err := netip.ParseAddr(cfg.Spec.Node.AdvertiseAddress)
		if err != nil {
			return nil, errors.New("the advertise address of this control plane is unknown (no default route?): set spec.node.advertiseAddress or --advertise-address")
		}
		jc.ControlPlane = &v1beta4.JoinControlPlane{
			LocalAPIEndpoint: v1beta4.APIEndpoint{AdvertiseAddress: addr.String(), BindPort: kubeadmconstants.KubeAPIServerPort},
			CertificateKey:   j.CertificateKey,
		}
	}
	return encode(jc, APIVersion(r))
}

// JoinStep is the join verb's step "kubeadm": the JoinConfiguration, then
// kubeadm join unless this host is in a cluster already.
type JoinStep struct {
	Config  *config.NodeConfig // resolved
	Release *eksd.Release
	Join    config.Join
	// InstallDir, Out, Now: as for InitStep.
	InstallDir string
	Out        io.Writer
	Now        func() time.Time
}

func (s *JoinStep) Name() string { return "kubeadm" }

func (s *JoinStep) Plan(_ context.Context, h *host.Host) (*plan.Plan, error) {
	ready, err := kata.Ready(h, s.Config.Spec.Kata)
	if err != nil {
		return nil, err
	}
	label := len(ready.Ready) > 0
	data, err := RenderJoin(s.Config, s.Release, &s.Join, label)
	if err != nil {
		return nil, badinput.Wrap(err)
	}
	p := &plan.Plan{}
	if s.Config.Spec.Kata.Enabled && !label {
		// The label is set at registration: once joined, only kubectl adds it.
		p.Notef("Kata is not installed here (%s): the node joins without the label %s=true, so that Kata pods are not scheduled to it; install Kata with `eksd-kata join --only kata,containerd --install-kata %s`, then from a control plane: kubectl label node %s %s=true",
			ready.Why(), kube.KataNodeLabel, kata.Newest(), s.Config.Spec.Node.Name, kube.KataNodeLabel)
	}
	c, err := plan.PlanFile(h, JoinConfigFile, data, 0o600)
	if err != nil {
		return nil, err
	}
	if c != nil {
		p.Add(&SecretFile{Path: c.Path, Data: data, Mode: 0o600, Exists: c.Old != nil, CertificateKey: s.Join.CertificateKey != ""})
	}
	if k := s.Config.Spec.Kubeadm; len(k.ClusterConfiguration)+len(k.KubeletConfiguration) > 0 {
		p.Notef("spec.kubeadm is for kubeadm init: a joining node takes the cluster's configuration and kubelet-config")
	}
	kubeadm := lookKubeadm(h, p, s.InstallDir)
	if !h.IsLive() {
		p.Notef("kubeadm join: skipped (--root): run `%s join --config %s` on the node", kubeadm, JoinConfigFile)
		return p, nil
	}
	joined, err := readJoined(h, s.Join.ControlPlane)
	if err != nil {
		return nil, err
	}
	var u User
	if s.Join.ControlPlane {
		// A control plane gets admin.conf from kubeadm join: the invoking
		// user's kubeconfig, as after init.
		if u, err = invokingUser(h, KubeconfigUser()); err != nil {
			return nil, badinput.Wrap(err)
		}
	}
	switch {
	case joined.complete():
		p.Notef("this host is in a cluster already (%s): kubeadm join not needed", strings.Join(joined.present, ", "))
		if !s.Join.ControlPlane {
			return p, nil
		}
		if ok, err := kubeconfigCurrent(h, u); err != nil || ok {
			return planOrErr(p, err)
		}
		p.Add(&CopyKubeconfig{User: u})
		return p, nil
	case !joined.none():
		return nil, errHalfDone("kubeadm join", "found "+strings.Join(joined.present, ", ")+" but not "+strings.Join(joined.missing, ", "))
	}
	p.Add(&Run{
		Argv:    []string{kubeadm, "join", "--config", JoinConfigFile},
		Out:     s.Out,
		LogFile: logFile("join", nowOr(s.Now)),
	})
	if s.Join.ControlPlane {
		p.Add(&CopyKubeconfig{User: u})
	}
	return p, nil
}

// readJoined reads what kubeadm join (or init) leaves. Complete means the
// kubelet has its cluster credentials and, for a control plane, that the
// last files kubeadm join writes are there too: admin.conf and the local
// etcd member's static pod (its control-plane-join phase).
func readJoined(h *host.Host, asControlPlane bool) (controlPlane, error) {
	var st controlPlane
	want := []string{KubeletConf}
	if asControlPlane {
		want = append(want, AdminConf, APIServerPod, EtcdPod)
	}
	for _, p := range append(want, CACert, BootstrapKubelet) {
		ok, err := h.FS.Exists(p)
		switch {
		case err != nil:
			return st, err
		case ok && !slices.Contains(st.present, p):
			st.present = append(st.present, p)
		case !ok && slices.Contains(want, p):
			st.missing = append(st.missing, p)
		}
	}
	return st, nil
}

// SecretFile writes a file whose content must not be shown: no diff, and
// the summary names the file only.
type SecretFile struct {
	Path   string
	Data   []byte
	Mode   fs.FileMode
	Exists bool
	// CertificateKey: the file holds a certificate key too (summary only).
	CertificateKey bool
}

func (c *SecretFile) Summary() string {
	verb := "create"
	if c.Exists {
		verb = "update"
	}
	return fmt.Sprintf("%s %s (%#o; it holds the bootstrap token%s, not shown)", verb, c.Path, c.Mode, c.also())
}

func (c *SecretFile) also() string {
	if c.CertificateKey {
		return " and the certificate key"
	}
	return ""
}

func (c *SecretFile) Apply(_ context.Context, h *host.Host) error {
	_, err := h.FS.WriteFile(c.Path, c.Data, c.Mode)
	return err
}
