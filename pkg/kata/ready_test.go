package kata

import (
	"slices"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
)

func TestReadyPerHypervisor(t *testing.T) {
	h := hosttest.NewTestHost(t, "")
	hosttest.WriteTree(t, h.Root(), map[string]string{
		"/opt/kata/bin/containerd-shim-kata-fc-v2":                         "shim",
		"/opt/kata/bin/qemu-system-x86_64":                                 "qemu",
		"/opt/kata/share/defaults/kata-containers/configuration-qemu.toml": qemuConf,
		"/opt/kata/share/defaults/kata-containers/configuration-fc.toml":   "[hypervisor.firecracker]\npath = \"/opt/kata/bin/firecracker\"\n",
	})
	k := config.Kata{Enabled: true, Hypervisors: []string{"qemu", "clh", "fc"}}
	r, err := Ready(h, k)
	if err != nil {
		t.Fatal(err)
	}
	// Only fc has a shim, its own: qemu and clh need the generic one.
	if len(r.Ready) != 0 || r.Why() != "qemu, clh: no /opt/kata/bin/containerd-shim-kata-v2; fc: hypervisor /opt/kata/bin/firecracker is missing" {
		t.Fatalf("ready %v, why %q", r.Ready, r.Why())
	}
	hosttest.WriteTree(t, h.Root(), map[string]string{"/opt/kata/bin/containerd-shim-kata-v2": "shim"})
	if r, err = Ready(h, k); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Ready, []string{"qemu"}) || !r.IsReady("qemu") || r.IsReady("clh") ||
		r.Why() != "clh: no /opt/kata/share/defaults/kata-containers/configuration-clh.toml; fc: hypervisor /opt/kata/bin/firecracker is missing" {
		t.Fatalf("ready %v, why %q", r.Ready, r.Why())
	}
	k.Enabled = false
	if r, err = Ready(h, k); err != nil || len(r.Ready)+len(r.Missing) != 0 {
		t.Fatalf("disabled: %+v %v", r, err)
	}
}
