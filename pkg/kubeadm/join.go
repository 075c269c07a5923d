package kubeadm

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/binaries"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/v1beta4"
)

// JoinConfigFile holds the JoinConfiguration; 0600 as it holds the token.
const JoinConfigFile = "/etc/eksd-kata/kubeadm-join.yaml"

// RenderJoin returns the JoinConfiguration (v1beta4; v1beta3 for 1-30) that
// joins this node as a worker. The kubelet's settings come from the
// cluster's kubelet-config ConfigMap, so no KubeletConfiguration is written.
func RenderJoin(cfg *config.NodeConfig, r *eksd.Release, j *config.Join) ([]byte, error) {
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

func (s *JoinStep) Name() string { return binaries.KubeadmStep }

func (s *JoinStep) Plan(_ context.Context, h *host.Host) (*plan.Plan, error) {
	data, err := RenderJoin(s.Config, s.Release, &s.Join)
	if err != nil {
		return nil, plan.BadInput(err)
	}
	p := &plan.Plan{}
	c, err := plan.PlanFile(h, JoinConfigFile, data, 0o600)
	if err != nil {
		return nil, err
	}
	if c != nil {
		p.Add(&SecretFile{Path: c.Path, Data: data, Mode: 0o600, Exists: c.Old != nil})
	}
	kubeadm := lookKubeadm(h, p, s.InstallDir)
	if !h.IsLive() {
		p.Notef("kubeadm join: skipped (--root): run `%s join --config %s` on the node", kubeadm, JoinConfigFile)
		return p, nil
	}
	joined, err := readJoined(h)
	if err != nil {
		return nil, err
	}
	switch {
	case joined.complete():
		p.Notef("this host is in a cluster already (%s): kubeadm join not needed", KubeletConf)
		return p, nil
	case !joined.none():
		return nil, errHalfDone("kubeadm join", "found "+strings.Join(joined.present, ", ")+" but no "+KubeletConf)
	}
	p.Add(&Run{
		Argv:    []string{kubeadm, "join", "--config", JoinConfigFile},
		Out:     s.Out,
		LogFile: logFile("join", nowOr(s.Now)),
	})
	return p, nil
}

// readJoined reads what kubeadm join (or init) leaves: complete means the
// kubelet has its cluster credentials.
func readJoined(h *host.Host) (controlPlane, error) {
	var st controlPlane
	for _, p := range []string{KubeletConf, CACert, BootstrapKubelet, AdminConf} {
		ok, err := h.FS.Exists(p)
		if err != nil {
			return st, err
		}
		if ok {
			st.present = append(st.present, p)
		} else if p == KubeletConf {
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
}

func (c *SecretFile) Summary() string {
	verb := "create"
	if c.Exists {
		verb = "update"
	}
	return fmt.Sprintf("%s %s (%#o; it holds the bootstrap token, not shown)", verb, c.Path, c.Mode)
}

func (c *SecretFile) Apply(_ context.Context, h *host.Host) error {
	_, err := h.FS.WriteFile(c.Path, c.Data, c.Mode)
	return err
}
