package binaries

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	"github.com/eksd-kata/eksd-kata/pkg/release"
	"github.com/eksd-kata/eksd-kata/pkg/release/fetch"
	"github.com/eksd-kata/eksd-kata/pkg/release/releasetest"
)

// fastRetry keeps retries real but quick.
var fastRetry = fetch.Policy{Attempts: 3, Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Timeout: 10 * time.Second, Stall: 5 * time.Second}

type fixture struct {
	srv  *releasetest.Server
	bins map[string][]byte
	rel  *eksd.Release
	h    *host.Host
	sd   *hosttest.FakeSystemd
}

// newFixture serves a manifest generated from the embedded 1-36-7 release
// with the checksums of fake binaries, and the binaries; the release is
// loaded back through release.Load from the server, as a run would.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	bins := releasetest.Binaries()
	files := map[string][]byte{}
	for name, data := range bins {
		files[releasetest.Path(name, "amd64")] = data
	}
	srv := releasetest.NewServer(t, files)
	want := releasetest.Release(t, "1-36", 7, srv.URL, bins)
	srv.Set("/manifest.yaml", releasetest.Manifest(t, want))
	rel, err := release.Load(context.Background(), srv.URL+"/manifest.yaml", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	h := hosttest.NewTestHost(t, "")
	return &fixture{srv: srv, bins: bins, rel: rel, h: h, sd: h.Systemd.(*hosttest.FakeSystemd)}
}

func (f *fixture) step() *Step {
	return &Step{Release: f.rel, Arch: "amd64", Client: f.srv.Client(), Policy: fastRetry}
}

// binHits counts the requests for the binaries (not the manifest).
func (f *fixture) binHits() int {
	n := 0
	for _, name := range eksd.RequiredBinaries {
		n += f.srv.Hits(releasetest.Path(name, "amd64"))
	}
	return n
}

func mustPlan(t *testing.T, s *Step, h *host.Host) *plan.Plan {
	t.Helper()
	p, err := s.Plan(context.Background(), h)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p
}

// installOf returns the planned install of name.
func installOf(t *testing.T, p *plan.Plan, name string) *Install {
	t.Helper()
	for _, c := range p.Changes {
		if in, ok := c.(*Install); ok && in.Binary.Name == name {
			return in
		}
	}
	t.Fatalf("no install of %s planned: %q", name, p.Summaries())
	return nil
}

// dirEntries lists the names in host dir under h's root (temp files included).
func dirEntries(t *testing.T, h *host.Host, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(h.Root(), dir))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}
