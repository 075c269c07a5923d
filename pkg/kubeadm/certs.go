package kubeadm

import (
	"context"
	"io"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// CertsStep is the bootstrap step "certs": kubeadm's own certs and
// kubeconfig phases, run before kubeadm init. They need no image, so they
// go on while the images step still pulls, and kubeadm init then takes up
// what they wrote ("Using existing ...") instead of spending a second and
// a half of CPU on RSA keys after the pulls.
type CertsStep struct {
	Config  *config.NodeConfig // resolved
	Release *eksd.Release
	// InstallDir is where kubeadm is installed (host path); default /usr/local/bin.
	InstallDir string
	// Out shows kubeadm's output (prefixed); nil: only the log files.
	Out io.Writer
	// Now names the log files; nil: time.Now.
	Now func() time.Time
}

func (s *CertsStep) Name() string { return "certs" }

// Plan writes the kubeadm config (as the kubeadm step does) and, while
// kubeadm init has not gone past these phases, runs them.
func (s *CertsStep) Plan(_ context.Context, h *host.Host) (*plan.Plan, error) {
	p := &plan.Plan{}
	if _, ok, err := planConfig(h, p, s.Config, s.Release); err != nil || !ok {
		return planOrErr(p, err)
	}
	kubeadm := lookKubeadm(h, p, s.InstallDir)
	if !h.IsLive() {
		p.Notef("certificates and kubeconfig files: skipped (--root): kubeadm init on the node makes them")
		return p, nil
	}
	cp, err := readControlPlane(h)
	if err != nil {
		return nil, err
	}
	if cp.started {
		// Done by an earlier init, or half-done: the kubeadm step says which.
		return p, nil
	}
	now := nowOr(s.Now)
	// kubeadm keeps valid files it finds, so a re-run after a crash in
	// between finishes the set.
	for _, phase := range []string{"certs", "kubeconfig"} {
		p.Add(&Run{
			Argv:    []string{kubeadm, "init", "phase", phase, "all", "--config", ConfigFile},
			Out:     s.Out,
			LogFile: logFile(phase, now),
		})
	}
	return p, nil
}
