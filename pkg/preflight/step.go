package preflight

import (
	"context"
	"fmt"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	"github.com/eksd-kata/eksd-kata/pkg/runtimeinstall"
)

// Step is the first bootstrap step: the same checks as `eksd-kata check`.
// It changes nothing; a failed check stops the run before any step has
// changed the host, which is why the runner plans every step first.
type Step struct {
	Config  *config.NodeConfig
	Release *eksd.Release   // the configured release; nil: the embedded one, if any
	Ignore  map[string]bool // check ids whose failure is only a warning
	// InstallCNIPlugins: the run installs the release's CNI plugins (its
	// cni step).
	InstallCNIPlugins bool
	// KataInstall: see Env.KataInstall.
	KataInstall string
	// Runtime is the run's runtime step, which installs containerd and
	// runc where the host needs them; nil: the run installs none.
	Runtime *runtimeinstall.Step
}

func (s *Step) Name() string { return "preflight" }

// Plan runs the checks: failures block the run, warnings become notes.
func (s *Step) Plan(ctx context.Context, h *host.Host) (*plan.Plan, error) {
	env := NewEnv(h, s.Config)
	env.Release = s.Release
	env.InstallCNIPlugins = s.InstallCNIPlugins
	env.KataInstall = s.KataInstall
	env.Runtime = s.Runtime
	rep := Run(ctx, env, All(), s.Ignore)
	p := &plan.Plan{}
	for _, c := range rep.Checks {
		if c.Status == Warn && !c.BootstrapFixes {
			p.Notef("%s: %s", c.ID, c.Message)
		}
	}
	failed := rep.Failed()
	if len(failed) == 0 {
		return p, nil
	}
	const hint = "eksd-kata check shows every check; --ignore ID turns a failure into a warning"
	blocked := &plan.Blocked{}
	var b strings.Builder
	fmt.Fprintf(&b, "%d preflight check(s) failed:", len(failed))
	for _, f := range failed {
		blocked.Problems = append(blocked.Problems, plan.Problem{What: f.ID + ": " + f.Message, Remedy: f.Remedy})
		fmt.Fprintf(&b, "\n  ✗ %s: %s", f.ID, f.Message)
		if f.Remedy != "" {
			fmt.Fprintf(&b, "\n    → %s", f.Remedy)
		}
	}
	fmt.Fprintf(&b, "\n(%s)", hint)
	blocked.Text = b.String()
	p.Notef("%s", hint)
	return p, blocked
}
