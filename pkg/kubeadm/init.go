package kubeadm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// DefaultInstallDir is where the binaries step puts kubeadm.
const DefaultInstallDir = "/usr/local/bin"

// InitStep is the bootstrap step "kubeadm": the rendered config, kubeadm
// init unless this host already runs a healthy control plane, then the
// admin kubeconfig for the invoking user and the worker join command.
type InitStep struct {
	Config  *config.NodeConfig // resolved
	Release *eksd.Release
	// InstallDir is where kubeadm is installed (host path); default /usr/local/bin.
	InstallDir string
	// Out shows kubeadm's output (redacted, prefixed); nil: only the log file.
	Out io.Writer
	// Probe checks an existing API server; nil: ProbeReadyz.
	Probe Probe
	// SudoUser gets the kubeconfig; empty: $SUDO_USER, else root.
	SudoUser string
	// Now names the log file; nil: time.Now.
	Now func() time.Time
	// AfterCertsStep: the certs step of this run ran kubeadm's preflight
	// and wrote the kubeconfig files from the same config, so init skips
	// both phases. Its kubeconfig phase would make five RSA keys only to
	// compare and drop them.
	AfterCertsStep bool
}

func (s *InitStep) Name() string { return "kubeadm" }

// Plan writes the config, then plans init (fresh host), nothing (healthy
// control plane) or fails (half-initialised host: reset first).
func (s *InitStep) Plan(ctx context.Context, h *host.Host) (*plan.Plan, error) {
	p := &plan.Plan{}
	c, ok, err := planConfig(h, p, s.Config, s.Release)
	if err != nil || !ok {
		return planOrErr(p, err)
	}

	cp, err := readControlPlane(h)
	if err != nil {
		return nil, err
	}
	kubeadm := s.kubeadmPath(h, p)
	switch {
	case !h.IsLive():
		p.Notef("kubeadm init: skipped (--root): run `%s init --config %s` on the node", kubeadm, ConfigFile)
		return p, nil
	case !cp.started:
		if len(cp.present) > 0 {
			p.Notef("kubeadm init uses the certificates and kubeconfig files found (%s)", strings.Join(cp.present, ", "))
		}
		return s.planInit(h, p, kubeadm)
	case !cp.complete():
		return nil, errHalfDone("kubeadm init", fmt.Sprintf("found %s but not %s", strings.Join(cp.present, ", "), strings.Join(cp.missing, ", ")))
	}
	probe := s.Probe
	if probe == nil {
		probe = ProbeReadyz
	}
	if err := probe(ctx, h); err != nil {
		return nil, errHalfDone("the control plane", "the API server does not answer /readyz: "+err.Error())
	}
	p.Notef("a healthy control plane runs on this host already: kubeadm init not needed")
	if c != nil {
		p.Notef("%s changes, but the running cluster keeps its settings: `eksd-kata reset` and bootstrap again to apply them", ConfigFile)
	}
	return s.planKubeconfig(h, p, kubeadm)
}

// planConfig adds the rendered kubeadm config to p and returns its change
// (nil when the file is right). ok is false when there is nothing more to
// plan: an offline image that cannot render it yet (noted), or an error.
func planConfig(h *host.Host, p *plan.Plan, cfg *config.NodeConfig, rel *eksd.Release) (c *plan.WriteFile, ok bool, err error) {
	data, err := RenderInit(cfg, rel)
	if err != nil {
		if undetected := undetectedError(""); !h.IsLive() && errors.As(err, &undetected) {
			// An offline image may not know its address yet: kubeadm runs on the node.
			p.Notef("%s not written: %v", ConfigFile, err)
			return nil, false, nil
		}
		return nil, false, badinput.Wrap(err)
	}
	if c, err = plan.PlanFile(h, ConfigFile, data, 0o600); err != nil {
		return nil, false, err
	}
	p.Add(c)
	return c, true, nil
}

// planOrErr returns err alone when there is one, else p.
func planOrErr(p *plan.Plan, err error) (*plan.Plan, error) {
	if err != nil {
		return nil, err
	}
	return p, nil
}

// planInit runs kubeadm init and, after it, the kubeconfig copy and the
// join command, which read what init wrote.
func (s *InitStep) planInit(h *host.Host, p *plan.Plan, kubeadm string) (*plan.Plan, error) {
	u, err := invokingUser(h, s.sudoUser())
	if err != nil {
		return nil, badinput.Wrap(err)
	}
	parser := &joinParser{}
	// No --skip-token-print: the join command is read from the output
	// (redacted everywhere it is shown) rather than minting a second token.
	argv := []string{kubeadm, "init", "--config", ConfigFile}
	if s.AfterCertsStep {
		argv = append(argv, "--skip-phases=preflight,kubeconfig")
	}
	ha := s.Config.Spec.Network.ControlPlaneEndpoint != ""
	if ha {
		// Encrypted in the kubeadm-certs Secret for two hours, under a key
		// kubeadm prints once: more control planes can join with it.
		argv = append(argv, "--upload-certs")
	}
	p.Add(&Run{
		Argv:    argv,
		Out:     s.Out,
		LogFile: logFile("init", nowOr(s.Now)),
		Raw:     parser.Line,
	})
	// Both only read what init wrote: written together.
	p.AddConcurrent(&CopyKubeconfig{User: u}, &WriteJoinCommand{Kubeadm: kubeadm, Out: s.Out, ControlPlane: ha, parser: parser})
	return p, nil
}

// planKubeconfig keeps the user's kubeconfig in step with admin.conf on a
// running control plane, and writes the join command files a run that
// stopped after kubeadm init did not.
func (s *InitStep) planKubeconfig(h *host.Host, p *plan.Plan, kubeadm string) (*plan.Plan, error) {
	if err := planUserKubeconfig(h, p, s.sudoUser(), false); err != nil {
		return nil, err
	}
	ha := s.Config.Spec.Network.ControlPlaneEndpoint != ""
	missing := false
	for _, f := range []string{JoinCommandFile, JoinControlPlaneCommandFile} {
		if f == JoinControlPlaneCommandFile && !ha {
			continue
		}
		ok, err := h.FS.Exists(f)
		if err != nil {
			return nil, err
		}
		missing = missing || !ok
	}
	if missing {
		p.Add(&WriteJoinCommand{Kubeadm: kubeadm, Out: s.Out, ControlPlane: ha})
	}
	if ha {
		p.Notef("to join more control planes: `kubeadm init phase upload-certs --upload-certs --config %s` prints a new certificate key (valid two hours) for `kubeadm token create --print-join-command --certificate-key KEY`", ConfigFile)
	}
	return p, nil
}

// kubeadmPath finds kubeadm in the install dir. Before the binaries step
// ran (first planning pass, dry run) it is missing: plan with the path it
// will have.
func (s *InitStep) kubeadmPath(h *host.Host, p *plan.Plan) string {
	return lookKubeadm(h, p, s.InstallDir)
}

func lookKubeadm(h *host.Host, p *plan.Plan, dir string) string {
	if dir == "" {
		dir = DefaultInstallDir
	}
	want := path.Join(dir, "kubeadm")
	if found, err := h.FS.LookPath(want); err == nil {
		return found
	}
	p.Notef("%s is not installed yet: the binaries step installs it", want)
	return want
}

func (s *InitStep) sudoUser() string {
	if s.SudoUser != "" {
		return s.SudoUser
	}
	return KubeconfigUser()
}

// nowOr is now(), or the time when now is nil (Now fields name log files).
func nowOr(now func() time.Time) time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
