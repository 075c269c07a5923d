package upgrade

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/binaries"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/kube"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// DefaultReadyTimeout bounds the wait for the node after the kubelet's restart.
const DefaultReadyTimeout = 5 * time.Minute

// RestartStep restarts the kubelet (over D-Bus) when it runs a program
// older than the one installed, or a swap of it is still to come, then
// waits until the node is Ready again, with its new kubelet.
type RestartStep struct {
	// Binary is the kubelet's program (a host path).
	Binary string
	// Pending reports whether the kubelet is still to be replaced in this
	// run: a dry run plans its restart before the swap; nil: never.
	Pending func(ctx context.Context, h *host.Host) (bool, error)
	// Node is waited for with Connect; no Connect: no wait.
	Node    string
	Connect kube.Connector
	// Kubelet is the version the restarted kubelet reports (v1.36.2;
	// "": any): until it does, the node's Ready is the old kubelet's.
	Kubelet string
	// ReadyTimeout bounds the wait; 0: DefaultReadyTimeout.
	ReadyTimeout time.Duration
}

func (s *RestartStep) Name() string { return "restart" }

func (s *RestartStep) Plan(ctx context.Context, h *host.Host) (*plan.Plan, error) {
	p := &plan.Plan{}
	why, err := s.why(ctx, h)
	if err != nil || why == "" {
		return p, err
	}
	switch {
	case !h.IsLive():
		p.Notef("restart %s: skipped (--root)", binaries.KubeletUnit)
		return p, nil
	case !h.Systemd.Running():
		return p, plan.Block("the kubelet must be restarted to run "+s.Binary+", but systemd is not running as PID 1", "restart the kubelet yourself, then run again")
	}
	p.Add(&plan.UnitAction{Action: "restart", Unit: binaries.KubeletUnit, Why: why})
	if s.Connect != nil {
		timeout := s.ReadyTimeout
		if timeout == 0 {
			timeout = DefaultReadyTimeout
		}
		p.Add(&plan.Func{
			Text: fmt.Sprintf("wait until node %s is Ready%s (at most %s)", s.Node, withKubelet(s.Kubelet), timeout),
			Do: func(ctx context.Context, h *host.Host) error {
				return kube.WaitReady(ctx, h, s.Connect, s.Node, s.Kubelet, timeout)
			},
		})
	}
	return p, nil
}

func withKubelet(v string) string {
	if v == "" {
		return ""
	}
	return " with kubelet " + v
}

// why says why the kubelet must restart; empty: it need not.
func (s *RestartStep) why(ctx context.Context, h *host.Host) (string, error) {
	if s.Pending != nil {
		pending, err := s.Pending(ctx, h)
		if err != nil || pending {
			return "its program is replaced first", err
		}
	}
	fi, err := h.FS.Stat(s.Binary)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if !h.IsLive() || !h.Systemd.Running() {
		// Nothing to ask when it started: only a swap still to come says so.
		return "", nil
	}
	started, err := h.Systemd.Started(ctx, binaries.KubeletUnit)
	switch {
	case err != nil:
		return "", err
	case !started.IsZero() && started.Before(fi.ModTime()):
		// A kubelet that does not run is not the upgrade's to start.
		return fmt.Sprintf("it runs the program it started with at %s; %s changed since", started.Format(time.RFC3339), s.Binary), nil
	}
	return "", nil
}
