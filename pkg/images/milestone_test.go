package images

import (
	"context"
	"slices"
	"strings"
	"testing"

	cimages "github.com/containerd/containerd/v2/core/images"
	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/containerd/ctrtest"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// storeProbe is a phase that lists the images containerd holds as it
// applies.
type storeProbe struct {
	is   cimages.Store
	have map[string]bool
}

func (p *storeProbe) Name() string { return "probe" }

func (p *storeProbe) Plan(context.Context, *host.Host) (*plan.Plan, error) {
	return &plan.Plan{Changes: []plan.Change{&plan.Func{Text: "list the images", Do: func(ctx context.Context, _ *host.Host) error {
		imgs, err := p.is.List(ctx)
		p.have = map[string]bool{}
		for _, img := range imgs {
			p.have[img.Name] = true
		}
		return err
	}}}}, nil
}

// TestControlPlaneStoredMilestone: kube-proxy and CoreDNS are planned
// after the milestone, and a phase that needs it finds every other image
// stored and pause tagged, on each daemon's pull path.
func TestControlPlaneStoredMilestone(t *testing.T) {
	eachDaemon(t, func(t *testing.T, d *ctrtest.Daemon, _ bool) {
		c, ctx, s, pairs := controlPlaneStep(t, d)
		push(t, testImages(t, pairs))
		s.ControlPlaneStored = plan.NewMilestone("control-plane images stored")
		p, err := s.Plan(ctx, liveHost(t))
		if err != nil {
			t.Fatal(err)
		}
		got := p.Summaries()
		last := slices.IndexFunc(got, func(s string) bool { return strings.HasPrefix(s, "tag ") })
		for i, sum := range got {
			late := strings.Contains(sum, "/kube-proxy:") || strings.Contains(sum, "/coredns:")
			if late != (i > last) {
				t.Errorf("plan %q: kube-proxy and CoreDNS come after the pause tag, and only they", got)
				break
			}
		}
		if notes := strings.Join(p.Notes, "\n"); !strings.Contains(notes, "kube-proxy and coredns pulled after the others") {
			t.Errorf("notes %q", notes)
		}
		probe := &storeProbe{is: c.ImageService()}
		phases := []bootstrap.Phase{
			{Name: "images", Step: s, Background: true, Provides: []*plan.Milestone{s.ControlPlaneStored}},
			{Name: "probe", Step: probe, Needs: []bootstrap.Need{s.ControlPlaneStored}},
		}
		if _, err := bootstrap.RunPhases(ctx, liveHost(t), phases, bootstrap.Options{}); err != nil {
			t.Fatal(err)
		}
		first := 0
		for _, p := range pairs {
			if p.Name == eksd.KubeProxy || p.Name == eksd.CoreDNS {
				continue
			}
			first++
			if !probe.have[p.Source] || !probe.have[p.Target] {
				t.Errorf("%s (as %s) was not stored when the milestone was reached", p.Source, p.Target)
			}
		}
		if first != 5 {
			t.Fatalf("checked %d images, want the 5 kubeadm init runs", first)
		}
	})
}
