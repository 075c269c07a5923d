package reset

import (
	"context"
	"errors"
	"fmt"

	"github.com/eksd-kata/eksd-kata/pkg/binaries"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// KubeletStep stops and disables the kubelet over systemd, so that it does
// not come back with no unit file after the restore.
type KubeletStep struct{}

func (s *KubeletStep) Name() string { return "kubelet" }

func (s *KubeletStep) Plan(ctx context.Context, h *host.Host) (*plan.Plan, error) {
	p := &plan.Plan{}
	switch {
	case !h.IsLive():
		p.Notef("stop %s: skipped (--root)", binaries.KubeletUnit)
		return p, nil
	case !h.Systemd.Running():
		p.Notef("stop %s: skipped, systemd is not running as PID 1", binaries.KubeletUnit)
		return p, nil
	}
	st, err := h.Systemd.UnitState(ctx, binaries.KubeletUnit)
	if err != nil {
		return nil, err
	}
	if st.Load == "not-found" {
		return p, nil
	}
	if _, ok := h.Systemd.(host.UnitStopper); !ok {
		return nil, errors.New("this systemd connection cannot stop units")
	}
	if st.Active == "active" || st.Active == "activating" || st.Active == "reloading" {
		p.Add(&unitChange{action: "stop", unit: binaries.KubeletUnit})
	}
	if st.UnitFileState == "enabled" {
		p.Add(&unitChange{action: "disable", unit: binaries.KubeletUnit})
	}
	return p, nil
}

// unitChange stops or disables a unit (plan.UnitAction has neither).
type unitChange struct{ action, unit string }

func (c *unitChange) Summary() string { return "systemd " + c.action + " " + c.unit }

func (c *unitChange) Apply(ctx context.Context, h *host.Host) error {
	st, ok := h.Systemd.(host.UnitStopper)
	if !ok {
		return fmt.Errorf("%s %s: systemd cannot stop units here", c.action, c.unit)
	}
	if c.action == "stop" {
		return st.Stop(ctx, c.unit)
	}
	return st.Disable(ctx, c.unit)
}
