package kata_test

import (
	"context"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/kata"
	"github.com/eksd-kata/eksd-kata/pkg/kata/katatest"
	"github.com/eksd-kata/eksd-kata/pkg/reset"
)

// reset removes the guest kernel drop-in eksd-kata wrote, and only it:
// the release's configuration stays.
func TestResetRemovesTheKernelDropIn(t *testing.T) {
	h := hosttest.NewTestHost(t, "")
	conf := kata.ConfigDir + "/configuration-qemu.toml"
	hosttest.WriteTree(t, h.Root(), map[string]string{conf: katatest.QemuConf})
	cfg := config.Default()
	cfg.Spec.Kata.GuestKernel = "/opt/pvm/vmlinux"
	p, err := (&kata.Step{Config: cfg}).Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if ok, _ := h.FS.Exists(kata.KernelDropIn); !ok {
		t.Fatal("no drop-in written")
	}
	rp, err := (&reset.RestoreStep{}).Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if err := rp.Apply(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if ok, _ := h.FS.Exists(kata.KernelDropIn); ok {
		t.Fatal("reset left the drop-in")
	}
	if b, _ := h.FS.ReadText(conf); string(b) != katatest.QemuConf {
		t.Fatalf("reset changed the release's configuration: %q", b)
	}
}
