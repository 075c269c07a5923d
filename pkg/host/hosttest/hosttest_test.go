package hosttest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/host"
)

func TestFakeLiveUpdatesFixture(t *testing.T) {
	h := NewTestHost(t, "")
	if _, err := h.FS.WriteFile("/proc/swaps", []byte("Filename Type Size Used Priority\n/dev/sda2 partition 1024 0 -2\n/swapfile file 2048 0 -3\n"), 0); err != nil {
		t.Fatal(err)
	}
	if err := h.Live.SetSysctl("net.ipv4.ip_forward", "1"); err != nil {
		t.Fatal(err)
	}
	if v, err := h.Sysctl("net.ipv4.ip_forward"); err != nil || v != "1" {
		t.Fatalf("sysctl after SetSysctl: %q %v", v, err)
	}
	if err := h.Live.Swapoff("/dev/sda2"); err != nil {
		t.Fatal(err)
	}
	if s, err := h.Swaps(); err != nil || len(s) != 1 || s[0].Path != "/swapfile" {
		t.Fatalf("swaps after Swapoff: %+v %v", s, err)
	}
	if err := h.Live.SetEnforce(false); err != nil {
		t.Fatal(err)
	}
	if m, err := h.SELinux(); err != nil || m != host.SELinuxPermissive {
		t.Fatalf("selinux after SetEnforce(false): %v %v", m, err)
	}
	if st, _ := h.Module("br-netfilter"); st != host.ModuleMissing {
		t.Fatalf("module before load: %v", st)
	}
	if err := h.Live.LoadModule("br-netfilter"); err != nil {
		t.Fatal(err)
	}
	if st, err := h.Module("br_netfilter"); err != nil || st != host.ModuleLoaded {
		t.Fatalf("module after LoadModule: %v %v", st, err)
	}
	live := h.Live.(*FakeLive)
	want := []string{"SetSysctl net.ipv4.ip_forward=1", "Swapoff /dev/sda2", "SetEnforce 0", "LoadModule br-netfilter"}
	if got := live.CallList(); !slices.Equal(got, want) {
		t.Fatalf("calls = %q, want %q", got, want)
	}
	boom := errors.New("boom")
	live.Errors = map[string]error{"LoadModule": boom}
	if err := h.Live.LoadModule("kvm"); !errors.Is(err, boom) {
		t.Fatalf("configured error not returned: %v", err)
	}
	// Kernel state is not backed up for reset.
	// (the fake root had no /proc: the write created it, and it is recorded)
	if b, _ := h.FS.Backups(); len(b) != 2 || b[0].Path != "/proc/swaps" || b[1].Path != "/proc" || !b[1].Dir {
		t.Fatalf("backups = %+v", b)
	}
}

func TestFakeSystemd(t *testing.T) {
	ctx := context.Background()
	s := NewFakeSystemd()
	s.Units["containerd.service"] = host.UnitState{Load: "loaded", Active: "inactive", Sub: "dead", UnitFileState: "disabled"}

	links, err := s.Enable(ctx, "containerd.service", "kubelet.service")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/etc/systemd/system/multi-user.target.wants/containerd.service", "/etc/systemd/system/multi-user.target.wants/kubelet.service"}; !slices.Equal(links, want) {
		t.Fatalf("links %v, want %v", links, want)
	}
	if again, _ := s.Enable(ctx, "kubelet.service"); len(again) != 0 {
		t.Fatalf("enabling an enabled unit made links %v", again)
	}
	if err := s.Mask(ctx, "swap.target"); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(ctx, "containerd.service"); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(ctx, "swap.target"); err == nil {
		t.Fatal("restarting a masked unit succeeded")
	}
	if err := s.DaemonReload(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := s.UnitState(ctx, "containerd.service")
	if st != (host.UnitState{Load: "loaded", Active: "active", Sub: "running", UnitFileState: "enabled", InMemory: true}) {
		t.Fatalf("containerd state %+v", st)
	}
	if st, _ := s.UnitState(ctx, "kubelet.service"); st.InMemory {
		t.Fatalf("an enabled unit nothing started is held in memory: %+v", st)
	}
	if st, _ := s.UnitState(ctx, "nope.service"); st.Load != "not-found" || st.InMemory {
		t.Fatalf("unknown unit %+v", st)
	}
	if !slices.Equal(s.Enabled, []string{"containerd.service", "kubelet.service", "kubelet.service"}) || !slices.Equal(s.Masked, []string{"swap.target"}) ||
		!slices.Equal(s.Restarted, []string{"containerd.service"}) || s.Reloads != 2 {
		t.Fatalf("recorded enabled=%v masked=%v restarted=%v reloads=%d", s.Enabled, s.Masked, s.Restarted, s.Reloads)
	}

	s.NotRunning = true
	if s.Running() || !errors.Is(s.Restart(ctx, "containerd.service"), host.ErrNoSystemd) {
		t.Fatal("a stopped fake systemd still works")
	}
}

func TestFakeRunner(t *testing.T) {
	ctx := context.Background()
	r := &FakeRunner{}
	r.Script(FakeResult{Stdout: "containerd 1.6.20\n"}, "containerd", "--version")
	r.Script(FakeResult{Stderr: "FATAL: Module x not found\n", Err: errors.New("exit status 1")}, "modprobe", "x")

	out, err := host.Output(ctx, r, "containerd", "--version")
	if err != nil || string(out) != "containerd 1.6.20\n" {
		t.Fatalf("Output = %q %v", out, err)
	}
	if _, err := host.Output(ctx, r, "modprobe", "x"); err == nil || !strings.Contains(err.Error(), "Module x not found") {
		t.Fatalf("scripted failure: %v", err)
	}
	if err := r.Run(ctx, host.Cmd{Argv: []string{"unscripted"}}); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"containerd", "--version"}, {"modprobe", "x"}, {"unscripted"}}
	if got := r.Argvs(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("argvs = %q", got)
	}
	r.Strict = true
	if err := r.Run(ctx, host.Cmd{Argv: []string{"unscripted"}}); err == nil {
		t.Fatal("strict runner ran an unscripted command")
	}
}
