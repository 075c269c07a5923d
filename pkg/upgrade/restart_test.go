package upgrade

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/kube"
)

const kubelet = "/usr/local/bin/kubelet"

// TestRestartWhenTheKubeletRunsAnOlderProgram: the kubelet is restarted,
// and the node waited for, while it runs a program older than the one
// installed or a swap is still to come; not once it runs the new one.
func TestRestartWhenTheKubeletRunsAnOlderProgram(t *testing.T) {
	ctx := context.Background()
	h := hosttest.NewTestHost(t, "")
	sd := h.Systemd.(*hosttest.FakeSystemd)
	hosttest.WriteTree(t, h.Root(), map[string]string{kubelet: "new kubelet"})
	sd.Units["kubelet.service"] = host.UnitState{Load: "loaded", Active: "active", Sub: "running"}
	sd.Since = map[string]time.Time{"kubelet.service": time.Now().Add(-time.Hour)}
	connect := func(context.Context, *host.Host) (*kube.Clients, error) { return nil, nil }
	s := &RestartStep{Binary: kubelet, Node: "node-1", Connect: connect, Kubelet: "v1.36.2"}

	p, err := s.Plan(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	got := p.Summaries()
	if len(got) != 2 || !strings.HasPrefix(got[0], "systemd restart kubelet.service (it runs the program it started with at ") ||
		got[1] != "wait until node node-1 is Ready with kubelet v1.36.2 (at most 5m0s)" {
		t.Fatalf("plan %q", got)
	}
	// The restart alone: the wait needs a cluster.
	if err := p.Changes[0].Apply(ctx, h); err != nil {
		t.Fatal(err)
	}
	if p, err = s.Plan(ctx, h); err != nil || !p.Empty() {
		t.Fatalf("restarted: %v %q", err, p.Summaries())
	}

	pending := &RestartStep{Binary: kubelet, Pending: func(context.Context, *host.Host) (bool, error) { return true, nil }}
	if p, err = pending.Plan(ctx, h); err != nil || !slices.Equal(p.Summaries(), []string{"systemd restart kubelet.service (its program is replaced first)"}) {
		t.Fatalf("a swap to come: %v %q", err, p.Summaries())
	}
	offline := &host.Host{FS: h.FS, Offline: true}
	if p, err = pending.Plan(ctx, offline); err != nil || !p.Empty() || !strings.Contains(strings.Join(p.Notes, "\n"), "skipped (--root)") {
		t.Fatalf("--root: %v %q %q", err, p.Summaries(), p.Notes)
	}
	sd.NotRunning = true
	if _, err = pending.Plan(ctx, h); err == nil || !strings.Contains(err.Error(), "systemd is not running") {
		t.Fatalf("no systemd: %v", err)
	}
	sd.NotRunning = false

	// A kubelet that does not run is not the upgrade's to start.
	if err := os.Chtimes(filepath.Join(h.Root(), kubelet), time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	sd.Units["kubelet.service"] = host.UnitState{Load: "loaded", Active: "inactive"}
	if p, err = s.Plan(ctx, h); err != nil || !p.Empty() {
		t.Fatalf("stopped: %v %q", err, p.Summaries())
	}
}
