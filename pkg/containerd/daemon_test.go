package containerd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/containerd/ctrtest"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// daemons are the real containerd binaries the tests run.
var daemons = []struct {
	name string
	bin  func(testing.TB) string
}{
	{"1.6", ctrtest.Containerd16},
	{"2.x", ctrtest.Containerd2},
}

// TestRealDaemons renders every fixture for each real containerd, lets
// containerd's own parser dump it, starts the daemon on it and asks the
// CRI plugin what it really runs with; then a runc host-network sandbox
// must become READY and a Kata sandbox must fail for want of the shim.
func TestRealDaemons(t *testing.T) {
	ctrtest.RequireRoot(t)
	for _, dm := range daemons {
		t.Run(dm.name, func(t *testing.T) {
			bin := dm.bin(t)
			ctrtest.RequireRunc(t)
			version := daemonVersion(t, bin)
			major, _, err := ParseVersion(version)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range fixtures() {
				t.Run(f.name, func(t *testing.T) {
					existing := f.data(t)
					o := testOptions(version)
					r, err := Render(existing, f.name, o)
					if f.name == "default-2.x" && major == 1 {
						if err == nil {
							t.Fatal("a version 4 file rendered for containerd 1.x")
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					checkDump(t, bin, r.Data, o)
					checkDaemon(t, bin, r.Data, o)
				})
			}
		})
	}
}

// checkDump proves containerd parses the file and keeps what we wrote.
func checkDump(t *testing.T, bin string, data []byte, o Options) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dump, err := ctrtest.ConfigDump(ctx, bin, path)
	if err != nil {
		t.Fatal(err)
	}
	s := checkOwned(t, dump, o)
	if s.Runtimes["kata-qemu"].Type != kataType || s.Runtimes["kata-clh"].Type != kataType {
		t.Errorf("config dump runtimes: %+v", s.Runtimes)
	}
}

func checkDaemon(t *testing.T, bin string, data []byte, o Options) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	d := ctrtest.Start(t, bin, data)
	cri := ctrtest.DialCRI(t, d)
	cfg, err := cri.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"runc", "kata", "kata-qemu", "kata-clh"} {
		if _, ok := cfg.Containerd.Runtimes[name]; !ok {
			t.Errorf("CRI plugin has no runtime %s; has %v", name, keys(cfg.Containerd.Runtimes))
		}
	}
	// containerd 1.x turns an untrusted_workload_runtime into this one.
	if rt, ok := cfg.Containerd.Runtimes["untrusted"]; ok {
		t.Errorf("CRI plugin has the untrusted runtime %+v", rt)
	}
	if rt := cfg.Containerd.Runtimes["kata-qemu"]; rt.Type != kataType || rt.Options["ConfigPath"] != o.KataConfigPath("qemu") {
		t.Errorf("CRI kata-qemu = %+v", rt)
	}
	if testing.Verbose() {
		t.Logf("CRI kata runtime: %+v", cfg.Containerd.Runtimes["kata"])
	}
	if rt := cfg.Containerd.Runtimes["runc"]; rt.Type != runcV2 || rt.Options["SystemdCgroup"] != false {
		t.Errorf("CRI runc = %+v", rt)
	}
	if !cfg.RestrictOOMScoreAdj {
		t.Error("CRI plugin runs without restrict_oom_score_adj")
	}
	if cfg.SandboxImage != "" && cfg.SandboxImage != o.SandboxImage {
		t.Errorf("CRI sandbox image = %q", cfg.SandboxImage)
	}

	ctrtest.ImportPause(ctx, t, d, o.SandboxImage)
	if err := cri.WaitImage(ctx, o.SandboxImage); err != nil {
		t.Fatal(err)
	}
	id, err := cri.RunSandbox(ctx, t, "runc-pod", "runc")
	if err != nil {
		t.Fatalf("runc sandbox: %v", err)
	}
	if st, err := cri.SandboxState(ctx, id); err != nil || st != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Errorf("runc sandbox state = %v, %v; want READY", st, err)
	}
	for _, h := range []string{"kata", "kata-qemu"} {
		_, err = cri.RunSandbox(ctx, t, h+"-pod", h)
		if err == nil || !strings.Contains(err.Error(), "containerd-shim-kata-v2") || strings.Contains(err.Error(), "no runtime for") {
			t.Errorf("%s sandbox: err = %v, want the missing shim /opt/kata/bin/containerd-shim-kata-v2", h, err)
		} else if testing.Verbose() {
			t.Logf("%s sandbox fails as it should: %v", h, err)
		}
	}
	if _, err = cri.RunSandbox(ctx, t, "nope-pod", "nope"); err == nil || !strings.Contains(err.Error(), "no runtime for") {
		t.Errorf("unknown handler: err = %v", err)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
