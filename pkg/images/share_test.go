package images

import (
	"context"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	cimages "github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/platforms"
	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/containerd/ctrtest"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
)

// storeProbe is a step applied while the pulls run in the background: it
// yields as a binary install does, then records the blobs containerd has.
type storeProbe struct {
	cs   content.Store
	have map[digest.Digest]bool
}

func (p *storeProbe) Name() string { return "probe" }

func (p *storeProbe) Plan(context.Context, *host.Host) (*plan.Plan, error) {
	return &plan.Plan{Changes: []plan.Change{&plan.Func{Text: "yield, then list the content store", Do: func(ctx context.Context, _ *host.Host) error {
		plan.Yield(ctx, time.Minute)
		p.have = map[digest.Digest]bool{}
		return p.cs.Walk(namespaces.WithNamespace(ctx, Namespace), func(i content.Info) error {
			p.have[i.Digest] = true
			return nil
		})
	}}}}, nil
}

// TestLargeWritesWaitForControlPlaneDownloads: a step applied beside the
// background pulls that yields (as the binary installs do) goes on only
// once every blob of the images kubeadm waits for is in containerd's
// content store, on each daemon's pull path.
func TestLargeWritesWaitForControlPlaneDownloads(t *testing.T) {
	eachDaemon(t, func(t *testing.T, d *ctrtest.Daemon, _ bool) {
		c, ctx, s, pairs := controlPlaneStep(t, d)
		imgs := map[string]v1.Image{}
		for _, p := range pairs {
			imgs[p.Source] = randomImage(t, 2<<20, 3)
		}
		push(t, imgs)
		s.Before = []string{"kubeadm"}
		probe := &storeProbe{cs: c.ContentStore()}
		if _, err := bootstrap.Run(ctx, liveHost(t), []bootstrap.Step{s, probe}, bootstrap.Options{}); err != nil {
			t.Fatal(err)
		}
		first := 0
		for _, p := range pairs {
			if p.Name == eksd.KubeProxy || p.Name == eksd.CoreDNS {
				continue // pulled after the others, beside kubeadm
			}
			first++
			img, err := c.ImageService().Get(ctx, p.Source)
			if err != nil {
				t.Fatal(err)
			}
			m, err := cimages.Manifest(ctx, c.ContentStore(), img.Target, platforms.Default())
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range m.Layers {
				if !probe.have[l.Digest] {
					t.Errorf("%s: layer %s was not in the content store when the yielding step went on", p.Source, l.Digest)
				}
			}
		}
		if first != 5 {
			t.Fatalf("checked %d images, want the 5 kubeadm waits for", first)
		}
	})
}
