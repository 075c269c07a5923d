package preflight

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/preflight/preflighttest"
)

// fakeKVM answers as the fixture says.
type fakeKVM struct{ err error }

func (f fakeKVM) Probe(string) (host.KVMInfo, error) {
	if f.err != nil {
		return host.KVMInfo{APIVersion: host.KVMAPIVersion}, f.err
	}
	return host.KVMInfo{APIVersion: host.KVMAPIVersion, CreateVM: true}, nil
}

type fakeContainerd struct {
	info host.ContainerdInfo
	err  error
}

func (f fakeContainerd) Probe(context.Context, string) (host.ContainerdInfo, error) { return f.info, f.err }

var probeErrors = map[string]error{
	"eacces": &os.PathError{Op: "open", Path: "/dev/kvm", Err: syscall.EACCES},
	"ebusy":  fmt.Errorf("KVM_CREATE_VM: %w", syscall.EBUSY),
	"enoent": &os.PathError{Op: "dial", Path: "/run/containerd/containerd.sock", Err: syscall.ENOENT},
}

// fixtureEnv is an Env over the fixture root with its scripted probes.
func fixtureEnv(t *testing.T, root string, f preflighttest.Machine, cfg *config.NodeConfig) *Env {
	t.Helper()
	h, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	if cfg == nil {
		cfg = config.Default()
	}
	e := NewEnv(h, cfg)
	e.Root = true
	for _, line := range f.Probe {
		fs := strings.Fields(line)
		switch {
		case len(fs) == 2 && fs[0] == "kvm" && fs[1] == "ok":
			e.KVM = fakeKVM{}
		case len(fs) == 2 && fs[0] == "kvm":
			e.KVM = fakeKVM{err: probeErrors[fs[1]]}
		case len(fs) == 3 && fs[0] == "containerd" && fs[1] == "ok":
			e.Containerd = fakeContainerd{info: host.ContainerdInfo{Version: fs[2], CRI: true}}
		case len(fs) == 2 && fs[0] == "containerd":
			e.Containerd = fakeContainerd{err: probeErrors[fs[1]]}
		case len(fs) == 5 && fs[0] == "unit":
			// unit NAME LOAD UNIT-FILE-STATE ACTIVE: systemd runs and holds it.
			sd, ok := h.Systemd.(*hosttest.FakeSystemd)
			if !ok {
				sd = hosttest.NewFakeSystemd()
				h.Systemd = sd
			}
			sd.Units[fs[1]] = host.UnitState{Load: fs[2], UnitFileState: strings.Trim(fs[3], "-"), Active: fs[4]}
		default:
			t.Fatalf("bad probe line %q", line)
		}
	}
	return e
}

func TestMachines(t *testing.T) {
	machines, err := filepath.Glob(filepath.Join(preflighttest.Dir(), "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(machines)
	for _, m := range machines {
		name := filepath.Base(m)
		if name == "base.txtar" {
			continue
		}
		t.Run(strings.TrimSuffix(name, ".txtar"), func(t *testing.T) {
			root, f := preflighttest.Build(t, name)
			if len(f.Expect) == 0 {
				t.Fatal("fixture has no expectations")
			}
			rep := Run(context.Background(), fixtureEnv(t, root, f, nil), All(), nil)
			for _, line := range f.Expect {
				assertExpect(t, rep, line)
			}
		})
	}
}

// assertExpect checks one "id status [+fix] [~substring]" line.
func assertExpect(t *testing.T, rep *Report, line string) {
	t.Helper()
	if line == "ok" {
		if !rep.Summary.OK {
			t.Errorf("want no failures, got %v", rep.Failed())
		}
		return
	}
	spec, sub, _ := strings.Cut(line, "~")
	fs := strings.Fields(spec)
	if len(fs) < 2 {
		t.Fatalf("bad expect line %q", line)
	}
	r, ok := rep.Get(fs[0])
	if !ok {
		t.Errorf("no check %s", fs[0])
		return
	}
	if string(r.Status) != fs[1] {
		t.Errorf("%s: status %s, want %s: %s (remedy: %s)", r.ID, r.Status, fs[1], r.Message, r.Remedy)
	}
	if len(fs) > 2 && fs[2] == "+fix" && !r.BootstrapFixes {
		t.Errorf("%s: want bootstrapFixes: %s", r.ID, r.Message)
	}
	if sub = strings.TrimSpace(sub); sub != "" && !strings.Contains(r.Message+" "+r.Remedy, sub) {
		t.Errorf("%s: %q does not say %q (remedy: %s)", r.ID, r.Message, sub, r.Remedy)
	}
	if (r.Status == Warn || r.Status == Fail) && r.Remedy == "" && r.ID != "containerd.version" {
		t.Errorf("%s: %s without a remedy", r.ID, r.Status)
	}
}
