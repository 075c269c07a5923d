package kata

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
)

// withKernel is the default configuration with a guest kernel for hv.
func withKernel(hv, kernel string) *config.NodeConfig {
	cfg := config.Default()
	cfg.Spec.Kata.Hypervisors = []string{hv}
	cfg.Spec.Kata.GuestKernel = kernel
	return cfg
}

func TestGuestKernelDropIn(t *testing.T) {
	h := hosttest.NewTestHost(t, "")
	hosttest.WriteTree(t, h.Root(), map[string]string{
		"/opt/kata/bin/containerd-shim-kata-v2":                            "shim",
		"/opt/kata/bin/qemu-system-x86_64":                                 "qemu",
		"/opt/kata/share/defaults/kata-containers/configuration-qemu.toml": qemuConf,
	})
	for hv, table := range map[string]string{"qemu": "qemu", "fc": "firecracker"} {
		p, err := (&Step{Config: withKernel(hv, "/opt/pvm/vmlinux")}).Plan(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		want := "create " + KernelDropIn + " (Kata boots /opt/pvm/vmlinux)"
		i := slices.Index(p.Summaries(), want)
		if i < 0 {
			t.Fatalf("%s: plan %v, want %q", hv, p.Summaries(), want)
		}
		if d := p.Changes[i].(interface{ Diff() string }).Diff(); !contains(d, "[hypervisor."+table+"]", "kernel = '/opt/pvm/vmlinux'") {
			t.Fatalf("%s: drop-in\n%s", hv, d)
		}
	}
	s := &Step{Config: withKernel("qemu", "/opt/pvm/vmlinux")}
	p, err := s.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Plan(context.Background(), h); err != nil || !p.Empty() {
		t.Fatalf("re-plan %v, %v", p.Summaries(), err)
	}
	// Without the setting it goes.
	p, err = (&Step{Config: config.Default()}).Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Summaries(); !slices.Equal(got, []string{"remove " + KernelDropIn + " (spec.kata.guestKernel is not set: Kata boots the release's kernel)"}) {
		t.Fatalf("plan %v", got)
	}
	if err := p.Apply(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if ok, _ := h.FS.Exists(KernelDropIn); ok {
		t.Fatal("the drop-in is still there")
	}
}

// A tree being installed replaces config.d: the drop-in is written after
// it, whatever the old tree had; no Kata and none coming: no drop-in.
func TestGuestKernelDropInFollowsTheInstall(t *testing.T) {
	tarball := kataStatic(t, "zst")
	file := filepath.Join(t.TempDir(), "kata-static-3.21.0-amd64.tar.zst")
	os.WriteFile(file, tarball, 0o644)
	h := hosttest.NewTestHost(t, "")
	cfg := withKernel("qemu", "/opt/pvm/vmlinux")
	if p, err := (&Step{Config: cfg}).Plan(context.Background(), h); err != nil || len(p.Changes) != 0 {
		t.Fatalf("no Kata: plan %v, %v", p.Summaries(), err)
	}
	hosttest.WriteTree(t, h.Root(), map[string]string{KernelDropIn: "old"})
	s := &Step{Config: cfg, Install: file, SHA256: sum(tarball)}
	p, err := s.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"install Kata from " + file + " (sha256 " + sum(tarball)[:12] + "…) into /opt/kata",
		"link /usr/local/bin/containerd-shim-kata-v2 -> /opt/kata/bin/containerd-shim-kata-v2",
		"create " + KernelDropIn + " (Kata boots /opt/pvm/vmlinux)",
	}
	if got := p.Summaries(); !slices.Equal(got, want) {
		t.Fatalf("plan %v, want %v", got, want)
	}
	applyInstall(t, s, h, tarball)
	if b, _ := h.FS.ReadText(KernelDropIn); !contains(string(b), "kernel = '/opt/pvm/vmlinux'") {
		t.Fatalf("drop-in %q", b)
	}
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
