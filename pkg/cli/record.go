package cli

import (
	"fmt"
	"slices"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/binaries"
	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/kubeadm"
	"github.com/eksd-kata/eksd-kata/pkg/noderecord"
	"github.com/eksd-kata/eksd-kata/pkg/version"
)

// recordNode writes the node record once a real run has installed the
// binaries or run kubeadm (report lists the steps done, even of a run that
// failed later): status, and an upgrade, read what the node was made from.
func recordNode(h *host.Host, verb string, cfg *config.NodeConfig, rel *eksd.Release, f *bootstrapFlags, report *bootstrap.Report) error {
	if f.dryRun || report == nil || !slices.ContainsFunc(report.Steps, func(s bootstrap.StepResult) bool {
		return s.Name == binaries.StepName || s.Name == kubeadmPhase
	}) {
		return nil
	}
	rec := noderecord.New(verb, cfg, rel, version.Version, time.Now())
	rec.ContainerdVersion = f.containerdVersion
	if cfg.Spec.Node.Role == config.RoleControlPlane {
		rec.KubeconfigUser = kubeadm.KubeconfigUser()
	}
	if err := noderecord.Write(h, rec, rel); err != nil {
		return fmt.Errorf("recording the node in %s: %w", noderecord.Path, err)
	}
	return nil
}
