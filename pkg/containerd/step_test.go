package containerd

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/containerd/ctrtest"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// liveHost is this machine's file system and a real containerd, with
// systemd faked (there is no systemd as PID 1 here). The backups of what
// the step changes go to a temporary directory, not to this machine's
// /var/lib/eksd-kata.
func liveHost(t *testing.T) (*host.Host, *hosttest.FakeSystemd) {
	sd := hosttest.NewFakeSystemd()
	sd.Units[Unit] = host.UnitState{Load: "loaded", Active: "active", Sub: "running"}
	fsys := host.NewFS("/")
	fsys.SetStateDir(t.TempDir())
	return &host.Host{
		FS:      fsys,
		Exec:    host.ExecRunner{},
		Live:    &hosttest.FakeLive{},
		Systemd: sd,
		Net:     &hosttest.FakeNetwork{},
	}, sd
}

func stepConfig(cfgPath, socket string) *config.NodeConfig {
	cfg := config.Default()
	cfg.Spec.Containerd.ConfigPath = cfgPath
	cfg.Spec.Containerd.Socket = socket
	cfg.Spec.Node.CgroupDriver = config.CgroupDriverCgroupfs
	cfg.Spec.Kata.Hypervisors = []string{"qemu", "clh"}
	return cfg
}

// TestStepRestartsOnceAndWaitsForCRI: the version comes from the running
// daemon through the Go client, the config is merged into Docker's file,
// containerd is restarted once and the step waits for the real CRI plugin;
// the second plan is empty, so there is no second restart.
func TestStepRestartsOnceAndWaitsForCRI(t *testing.T) {
	ctrtest.RequireRoot(t)
	bin := ctrtest.Containerd2(t)
	ctrtest.RequireRunc(t)
	seed, err := Render(nil, "seed", testOptions("2.4.2"))
	if err != nil {
		t.Fatal(err)
	}
	d := ctrtest.Start(t, bin, seed.Data)

	cfgPath := filepath.Join(t.TempDir(), "config.toml")
	docker, err := os.ReadFile("testdata/docker.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, docker, 0o600); err != nil {
		t.Fatal(err)
	}
	h, sd := liveHost(t)
	s := &Step{Config: stepConfig(cfgPath, d.Socket), Release: eksd.Default(), RestartTimeout: 30 * time.Second}
	ctx := context.Background()

	p, err := s.Plan(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"update " + cfgPath, "systemd restart " + Unit, "wait until containerd's CRI plugin answers"}
	if got := p.Summaries(); !slices.Equal(got, want) {
		t.Fatalf("plan %v, want %v", got, want)
	}
	if !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, "(daemon): config version 3") }) {
		t.Errorf("version not taken from the daemon: %v", p.Notes)
	}
	for _, c := range p.Changes {
		if err := c.Apply(ctx, h); err != nil {
			t.Fatalf("%s: %v", c.Summary(), err)
		}
	}
	if !slices.Equal(sd.Restarted, []string{Unit}) {
		t.Fatalf("restarted %v", sd.Restarted)
	}
	written, _ := os.ReadFile(cfgPath)
	if fi, _ := os.Stat(cfgPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode of the user's config changed to %v", fi.Mode().Perm())
	}
	sum, err := Inspect(written)
	if err != nil {
		t.Fatal(err)
	}
	if sum.SandboxImage != "public.ecr.aws/eks-distro/kubernetes/pause:3.10.2" {
		t.Errorf("sandbox image %q", sum.SandboxImage)
	}

	p2, err := s.Plan(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if !p2.Empty() {
		t.Fatalf("second plan: %v", p2.Summaries())
	}
}

func TestStepWithoutSystemd(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "config.toml")
	h, sd := liveHost(t)
	sd.NotRunning = true
	s := &Step{Config: stepConfig(cfgPath, "/nonexistent.sock"), Release: eksd.Default(), Version: "2.4.2"}
	// Blocked, but a dry run still shows the config it would write.
	p, err := s.Plan(context.Background(), h)
	if _, blocked := plan.Problems(err); !blocked || !strings.Contains(err.Error(), "--no-restart") {
		t.Fatalf("err = %v, want a blocker advising to restart by hand with --no-restart", err)
	}
	if p == nil || !slices.Equal(p.Summaries(), []string{"create " + cfgPath}) {
		t.Fatalf("blocked plan %v, want the config write", p)
	}
	s.NoRestart = true
	p, err = s.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Summaries(); !slices.Equal(got, []string{"create " + cfgPath}) {
		t.Fatalf("plan %v", got)
	}
}

// A disabled containerd is enabled, so that the node comes back from a
// reboot with its runtime; once enabled, nothing more is planned.
func TestStepEnablesADisabledContainerd(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "config.toml")
	h, sd := liveHost(t)
	sd.Units[Unit] = host.UnitState{Load: "loaded", Active: "active", Sub: "running", UnitFileState: "disabled", InMemory: true}
	s := &Step{Config: stepConfig(cfgPath, "/nonexistent.sock"), Release: eksd.Default(), Version: "2.4.2", NoRestart: true}
	ctx := context.Background()
	p, err := s.Plan(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"create " + cfgPath, "systemd enable " + Unit}
	if got := p.Summaries(); !slices.Equal(got, want) {
		t.Fatalf("plan %v, want %v", got, want)
	}
	if err := p.Apply(ctx, h); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sd.Enabled, []string{Unit}) {
		t.Fatalf("enabled %v", sd.Enabled)
	}
	// The link systemd made is recorded as created, so reset removes it.
	backups, err := h.FS.Backups()
	if err != nil {
		t.Fatal(err)
	}
	link := host.Backup{Path: "/etc/systemd/system/multi-user.target.wants/" + Unit, Created: true}
	if !slices.Contains(backups, link) {
		t.Fatalf("backups %+v lack %+v", backups, link)
	}
	if p2, err := s.Plan(ctx, h); err != nil || !p2.Empty() {
		t.Fatalf("second plan: %v %v", p2.Summaries(), err)
	}
}

// A stopped containerd whose config is already right is started (the
// images step pulls through it, and check says bootstrap starts it); a
// running one, or one left to the operator (--no-restart), is not.
func TestStepStartsAStoppedContainerd(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "config.toml")
	h, sd := liveHost(t)
	s := &Step{Config: stepConfig(cfgPath, "/nonexistent.sock"), Release: eksd.Default(), Version: "2.4.2", NoRestart: true}
	ctx := context.Background()
	p, err := s.Plan(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(ctx, h); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		state     host.UnitState
		noRestart bool
		want      []string
	}{
		{host.UnitState{Load: "loaded", Active: "inactive", Sub: "dead", UnitFileState: "disabled"}, false, []string{
			"systemd enable " + Unit,
			"systemd restart " + Unit + " (it is inactive: the images step pulls through it)",
			"wait until containerd's CRI plugin answers",
		}},
		{host.UnitState{Load: "loaded", Active: "failed", Sub: "failed", UnitFileState: "enabled"}, false, []string{
			"systemd restart " + Unit + " (it is failed: the images step pulls through it)",
			"wait until containerd's CRI plugin answers",
		}},
		{host.UnitState{Load: "loaded", Active: "inactive", Sub: "dead", UnitFileState: "enabled"}, true, nil},
		{host.UnitState{Load: "loaded", Active: "active", Sub: "running", UnitFileState: "enabled"}, false, nil},
	} {
		sd.Units[Unit] = tc.state
		s.NoRestart = tc.noRestart
		p, err := s.Plan(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Summaries(); !slices.Equal(got, tc.want) {
			t.Errorf("%s, --no-restart %v: plan %q, want %q", tc.state.Active, tc.noRestart, got, tc.want)
		}
	}
}

// TestStepRefusesAUnitItCannotRestart: a masked containerd.service, or
// none at all when the new config needs a restart, stops the plan with
// what to do, before anything is written.
func TestStepRefusesAUnitItCannotRestart(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "config.toml")
	h, sd := liveHost(t)
	s := &Step{Config: stepConfig(cfgPath, "/nonexistent.sock"), Release: eksd.Default(), Version: "2.4.2"}
	for _, tc := range []struct {
		state host.UnitState
		want  string
	}{
		{host.UnitState{Load: "masked", Active: "inactive", UnitFileState: "masked"}, "containerd.service is masked (systemd will not start containerd, at boot or for this bootstrap): run `systemctl unmask containerd.service`"},
		{host.UnitState{Load: "not-found", Active: "inactive"}, "containerd must be restarted (to load " + cfgPath + "), but systemd has no containerd.service"},
	} {
		sd.Units[Unit] = tc.state
		_, err := s.Plan(context.Background(), h)
		if _, blocked := plan.Problems(err); !blocked || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: plan error %v, want a blocker %q", tc.state.Load, err, tc.want)
		}
		if _, err := os.Stat(cfgPath); !os.IsNotExist(err) {
			t.Fatalf("%s: %s written (%v)", tc.state.Load, cfgPath, err)
		}
	}
	// Not found, but the phase before installs containerd, with its unit:
	// the restart is planned (it starts the new daemon).
	s.Installer = installs("2.3.4")
	sd.Units[Unit] = host.UnitState{Load: "not-found", Active: "inactive"}
	p, err := s.Plan(context.Background(), h)
	if err != nil || !slices.Contains(p.Summaries(), "systemd restart containerd.service") {
		t.Fatalf("containerd installed by the runtime phase: plan %q, %v; want a restart", p.Summaries(), err)
	}
	s.Installer = nil

	// Not found, but nothing to restart for (--no-restart): containerd is
	// run by other means, and the plan goes on.
	s.NoRestart = true
	if _, err := s.Plan(context.Background(), h); err != nil {
		t.Fatalf("--no-restart without a unit: %v", err)
	}
}

// TestStepWritesHostsFilesForInsecureRegistries: a hosts.toml for each
// non-loopback insecure registry in the directory the CRI plugin reads
// (here the operator's config_path), none for loopback, an operator's own
// file kept with a note, and nothing more on the second plan.
func TestStepWritesHostsFilesForInsecureRegistries(t *testing.T) {
	root := t.TempDir()
	at := func(p string) string { return filepath.Join(root, p) }
	const cfgPath, hostsDir = "/etc/containerd/config.toml", "/srv/certs.d"
	own := fmt.Sprintf("version = 3\n[plugins.\"io.containerd.cri.v1.images\".registry]\n  config_path = %q\n", hostsDir)
	theirs := path.Join(hostsDir, "10.0.0.6:5000", "hosts.toml")
	for p, data := range map[string]string{cfgPath: own, theirs: "server = \"https://10.0.0.6:5000\"\n"} {
		if err := os.MkdirAll(filepath.Dir(at(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(at(p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h, _ := liveHost(t)
	h.FS, h.Offline = host.NewFS(root), true // as under --root
	cfg := stepConfig(cfgPath, "/nonexistent.sock")
	cfg.Spec.Images.InsecureRegistries = []string{"10.0.0.5:5000", "10.0.0.6:5000", "127.0.0.1:5000"}
	s := &Step{Config: cfg, Release: eksd.Default(), Version: "2.4.2", NoRestart: true}
	p, err := s.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	ours := path.Join(hostsDir, "10.0.0.5:5000", "hosts.toml")
	want := []string{"create " + ours + " (the kubelet may pull from 10.0.0.5:5000 over plain HTTP (spec.images.insecureRegistries))", "update " + cfgPath}
	if got := p.Summaries(); !slices.Equal(got, want) {
		t.Fatalf("plan %q, want %q", got, want)
	}
	if !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, theirs+" is not eksd-kata's") }) {
		t.Errorf("no note about the operator's %s: %v", theirs, p.Notes)
	}
	for _, c := range p.Changes {
		if err := c.Apply(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := os.ReadFile(at(ours)); string(got) != string(HostsTOML("10.0.0.5:5000")) {
		t.Errorf("%s:\n%s", ours, got)
	}
	if p, err := s.Plan(context.Background(), h); err != nil || !p.Empty() {
		t.Fatalf("second plan %v, %v", p.Summaries(), err)
	}
}

// TestStepDropsUntrustedWorkloadRuntime: the untrusted_workload_runtime of
// a version 1 file is not carried into the version 2 (containerd 1.6) or
// 3 (2.x) file; the plan says why and what replaces it, and the next plan
// is empty.
func TestStepDropsUntrustedWorkloadRuntime(t *testing.T) {
	const cfgPath = "/etc/containerd/config.toml"
	tutorial, err := os.ReadFile("testdata/v1-untrusted.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		version, channel string // 1-34: the newest Kubernetes 1.6 may run
		configVersion    int
	}{{"1.6.20", "1-34", 2}, {"2.4.2", "1-36", 3}} {
		t.Run(tc.version, func(t *testing.T) {
			release, err := eksd.Lookup(tc.channel, 0)
			if err != nil {
				t.Fatal(err)
			}
			root := t.TempDir()
			at := filepath.Join(root, cfgPath)
			if err := os.MkdirAll(filepath.Dir(at), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(at, tutorial, 0o644); err != nil {
				t.Fatal(err)
			}
			h, _ := liveHost(t)
			h.FS, h.Offline = host.NewFS(root), true // as under --root
			s := &Step{Config: stepConfig(cfgPath, "/nonexistent.sock"), Release: release, Version: tc.version, NoRestart: true}
			ctx := context.Background()
			p, err := s.Plan(ctx, h)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Summaries(); !slices.Equal(got, []string{"update " + cfgPath}) {
				t.Fatalf("plan %q", got)
			}
			const note = "removed the CRI plugin's containerd.untrusted_workload_runtime: deprecated since containerd 1.2 and removed in 2.0, which ignores it; pods that used it (annotation io.kubernetes.cri.untrusted-workload) set runtimeClassName: kata instead"
			if !hasNote(p.Notes, note) {
				t.Errorf("no note %q in %q", note, p.Notes)
			}
			if err := p.Apply(ctx, h); err != nil {
				t.Fatal(err)
			}
			written, err := os.ReadFile(at)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(written), "untrusted_workload_runtime") {
				t.Errorf("stanza still in the file:\n%s", written)
			}
			sum, err := Inspect(written)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Version != tc.configVersion || sum.Runtimes["kata"].Type != kataType {
				t.Errorf("config version %d, kata runtime %+v; want version %d with kata", sum.Version, sum.Runtimes["kata"], tc.configVersion)
			}
			p2, err := s.Plan(ctx, h)
			if err != nil || !p2.Empty() || hasNote(p2.Notes, "untrusted_workload_runtime") {
				t.Fatalf("second plan %q, notes %q, %v", p2.Summaries(), p2.Notes, err)
			}
		})
	}
}

// installer stands in for the runtime step: the containerd it leaves.
type installer string

func (i installer) ContainerdVersion(context.Context, *host.Host) (string, error) {
	return string(i), nil
}

// TestStepPlansForTheContainerdToBeInstalled: the version the phase
// before installs comes first, over --containerd-version (the host's old
// one) and where nothing can be asked (--root); a phase that leaves the
// host's own lets detection decide.
func TestStepPlansForTheContainerdToBeInstalled(t *testing.T) {
	h, err := host.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := stepConfig("/etc/containerd/config.toml", "/run/containerd/containerd.sock")
	for _, s := range []*Step{
		{Config: cfg, Release: eksd.Default(), Installer: installer("2.3.4")},
		{Config: cfg, Release: eksd.Default(), Installer: installer("2.3.4"), Version: "1.6.20"},
	} {
		p, err := s.Plan(context.Background(), h)
		if err != nil {
			t.Fatalf("--containerd-version %q: %v", s.Version, err)
		}
		if !hasNote(p.Notes, "containerd 2.3.4 (installed by eksd-kata): config version 3") {
			t.Errorf("notes %q", p.Notes)
		}
	}
	_, err = (&Step{Config: cfg, Release: eksd.Default(), Installer: installer("")}).Plan(context.Background(), h)
	if _, blocked := plan.Problems(err); !blocked || !strings.Contains(err.Error(), "--containerd-version") {
		t.Errorf("the host's own containerd under --root: %v, want the flag asked for", err)
	}
}

// installs is an Installer that leaves containerd version on the host.
type installs string

func (v installs) ContainerdVersion(context.Context, *host.Host) (string, error) {
	return string(v), nil
}
