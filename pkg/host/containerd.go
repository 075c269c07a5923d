package host

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
)

// Containerd connects the containerd Go client to the daemon's socket on the
// running system. Under --root there is no daemon to ask: ErrNotLive.
func (h *Host) Containerd(ctx context.Context, socket string) (*client.Client, error) {
	if !h.IsLive() {
		return nil, ErrNotLive
	}
	real, err := h.FS.Resolve(socket)
	if err != nil {
		return nil, err
	}
	// Fail fast when nothing listens, instead of waiting out a dial timeout.
	if fi, err := os.Stat(real); err != nil || fi.Mode()&os.ModeSocket == 0 {
		return nil, fmt.Errorf("containerd socket %s: not a listening socket (is containerd running?)", socket)
	}
	c, err := client.New(real, client.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("containerd at %s: %w", socket, err)
	}
	return c, nil
}

// RefusesNegativeOOMScoreAdj probes whether this kernel refuses a negative
// oom_score_adj even to root (some sandboxed VMs do); runc then fails to
// start containers unless containerd sets restrict_oom_score_adj. The probe
// lowers our own score by one and puts it back.
func (h *Host) RefusesNegativeOOMScoreAdj() (bool, error) {
	if !h.IsLive() {
		return false, ErrNotLive
	}
	const p = "/proc/self/oom_score_adj"
	old, err := h.FS.ReadFile(p)
	if err != nil {
		return false, err
	}
	cur, err := strconv.Atoi(strings.TrimSpace(string(old)))
	if err != nil {
		return false, fmt.Errorf("%s: %w", p, err)
	}
	if cur <= -1000 {
		return false, nil
	}
	real, err := h.FS.Resolve(p)
	if err != nil {
		return false, err
	}
	if err := os.WriteFile(real, []byte(strconv.Itoa(cur-1)), 0); err != nil {
		return true, nil
	}
	return false, os.WriteFile(real, old, 0)
}
