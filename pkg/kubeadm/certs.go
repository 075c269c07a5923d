package kubeadm

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// CertsStep is the bootstrap step "certs": kubeadm's own preflight, certs
// and kubeconfig phases, run before kubeadm init. They need no image, so
// they go on while the images step still pulls, and kubeadm init then
// skips the checks and takes up the files ("Using existing ...") instead
// of spending two seconds on them (mostly RSA keys) after the pulls.
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
	// Two kubeadm runs at once write their lines to Out.
	out := plan.LockWriter(s.Out)
	run := func(phase ...string) *Run {
		return &Run{
			Argv:    append(append([]string{kubeadm, "init", "phase"}, phase...), "--config", ConfigFile),
			Out:     out,
			LogFile: logFile(strings.Join(phase, "-"), now),
		}
	}
	// The CA first: the other certificates and the kubeconfig files need
	// only it, so their RSA keys are made on two CPUs at once, beside
	// kubeadm's own checks of the node (they run kubelet --version and
	// need no image: imagePullPolicy Never). kubeadm keeps valid files it
	// finds, so a re-run after a crash in between finishes the set.
	p.Add(run("certs", "ca"))
	p.AddConcurrent(run("certs", "all"), run("kubeconfig", "all"), run("preflight"))
	return p, nil
}
