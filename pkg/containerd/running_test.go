package containerd

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/containerd/ctrtest"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
)

// TestRunningAsksTheDaemon: each real containerd tells its version and
// the runtimes its CRI plugin loaded from the config we render.
func TestRunningAsksTheDaemon(t *testing.T) {
	ctrtest.RequireRoot(t)
	for _, dm := range daemons {
		t.Run(dm.name, func(t *testing.T) {
			bin := dm.bin(t)
			version := daemonVersion(t, bin)
			r, err := Render(nil, "config.toml", testOptions(version))
			if err != nil {
				t.Fatal(err)
			}
			d := ctrtest.Start(t, bin, r.Data)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			got, err := Running(ctx, hosttest.NewTestHost(t, "/"), d.Socket)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(version, strings.TrimPrefix(got.Version, "v")) {
				t.Errorf("version %q, the binary says %q", got.Version, version)
			}
			if names := got.RuntimeNames(); !slices.Equal(names, []string{"kata", "kata-clh", "kata-qemu", "runc"}) {
				t.Errorf("runtimes %v", names)
			}
			if got.Runtimes["kata-qemu"] != kataType || got.Runtimes["runc"] != runcV2 {
				t.Errorf("runtimes %v", got.Runtimes)
			}
		})
	}
}

func TestRunningUnderRoot(t *testing.T) {
	h, err := host.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Running(context.Background(), h, "/run/containerd/containerd.sock"); !errors.Is(err, host.ErrNotLive) {
		t.Errorf("under --root: %v", err)
	}
}
