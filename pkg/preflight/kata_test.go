package preflight

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/kata"
	"github.com/eksd-kata/eksd-kata/pkg/preflight/preflighttest"
)

// machineEnv is the Env of a machine fixture whose root edit may change.
func machineEnv(t *testing.T, machine string, cfg *config.NodeConfig, edit func(root string)) *Env {
	t.Helper()
	root, m := preflighttest.Build(t, machine)
	if edit != nil {
		edit(root)
	}
	return fixtureEnv(t, root, m, cfg)
}

func check(t *testing.T, e *Env, id string) Result {
	t.Helper()
	return status(t, Run(context.Background(), e, All(), nil), id)
}

// Without Kata, the checks say how to install it by version, or, when the
// run installs it, that it will.
func TestMissingKataSaysWhatBootstrapDoes(t *testing.T) {
	noKata := func(root string) { os.RemoveAll(filepath.Join(root, "opt/kata")) }
	e := machineEnv(t, "intel-baremetal.txtar", config.Default(), noKata)
	for _, id := range []string{"kata.shim", "kata.config"} {
		if r := check(t, e, id); r.Status != Warn || !r.BootstrapFixes || !strings.Contains(r.Remedy, "bootstrap --install-kata "+kata.Newest()) {
			t.Errorf("%s: %+v", id, r)
		}
	}
	e = machineEnv(t, "intel-baremetal.txtar", config.Default(), noKata)
	e.KataInstall = "Kata 3.32.0 will be installed from its release"
	for id, says := range map[string]string{
		"kata.shim":   "containerd-shim-kata-v2 not found (/opt/kata/bin or PATH): Kata 3.32.0 will be installed from its release",
		"kata.config": "configuration-qemu.toml not found: Kata 3.32.0 will be installed from its release, which ships them",
	} {
		if r := check(t, e, id); r.Status != Warn || !r.BootstrapFixes || r.Message != says {
			t.Errorf("%s: %+v, want %q", id, r, says)
		}
	}
}

// kernelImage is an uncompressed kernel image of size bytes holding marks
// at offset; config, when not nil, is embedded as CONFIG_IKCONFIG does.
func kernelImage(t *testing.T, size, offset int, mark string, config []byte) []byte {
	t.Helper()
	img := bytes.Repeat([]byte{0x90}, size)
	body := []byte(mark)
	if config != nil {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(config)
		zw.Close()
		body = append(append([]byte("IKCFG_ST"), z.Bytes()...), "IKCFG_ED"...)
	}
	return append(append(img[:offset:offset], body...), img[offset:]...)
}

func TestInspectPVM(t *testing.T) {
	straddle := 1<<20 - 4 // the mark crosses the first read
	for name, c := range map[string]struct {
		img  []byte
		want pvmSupport
	}{
		"config with PVM guest": {kernelImage(t, 3<<20, straddle, "", []byte("CONFIG_KVM_GUEST=y\nCONFIG_PVM_GUEST=y\n")), pvmConfigYes},
		"config without":        {kernelImage(t, 3<<20, 100, "", []byte("CONFIG_KVM_GUEST=y\n# CONFIG_PVM_GUEST is not set\n")), pvmConfigNo},
		"PVM guest code":        {kernelImage(t, 3<<20, straddle, "\x010pvm-guest: PANIC: invalid or fatal PVM event", nil), pvmCode},
		"stray config mark":     {kernelImage(t, 1<<10, 10, "IKCFG_ST not gzip", nil), pvmUnknown},
		"nothing to tell":       {kernelImage(t, 2<<20, 0, "", nil), pvmUnknown},
	} {
		if got, err := inspectPVM(bytes.NewReader(c.img)); err != nil || got != c.want {
			t.Errorf("%s: %v, %v; want %v", name, got, err, c.want)
		}
	}
}

// On a kvm_pvm host the guest kernel must be a PVM guest kernel: its
// image says so, says not, or cannot tell (a warning, never a pass).
func TestGuestKernelUnderPVM(t *testing.T) {
	images := map[string][]byte{
		"/opt/pvm/vmlinux-pvm":   kernelImage(t, 4096, 64, "", []byte("CONFIG_PVM_GUEST=y\n")),
		"/opt/pvm/vmlinux-plain": kernelImage(t, 4096, 64, "", []byte("# CONFIG_PVM_GUEST is not set\n")),
		"/opt/pvm/bzImage":       kernelImage(t, 4096, 0, "", nil),
	}
	write := func(root string) {
		for p, b := range images {
			os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
			os.WriteFile(filepath.Join(root, p), b, 0o644)
		}
	}
	for kernel, want := range map[string]struct {
		status Status
		says   string
	}{
		"":                       {Warn, "/opt/kata/share/kata-containers/vmlinux.container (qemu): its image does not say whether it was built with PVM guest support"},
		"/opt/pvm/vmlinux-pvm":   {Pass, "KVM here comes from kvm_pvm, and guest kernel /opt/pvm/vmlinux-pvm (qemu) is built with CONFIG_PVM_GUEST=y"},
		"/opt/pvm/vmlinux-plain": {Fail, "/opt/pvm/vmlinux-plain (qemu) is built without PVM guest support"},
		"/opt/pvm/bzImage":       {Warn, "so Kata VMs need a PVM guest kernel (CONFIG_PVM_GUEST=y): /opt/pvm/bzImage (qemu): its image does not say"},
		"/opt/pvm/missing":       {Fail, "spec.kata.guestKernel /opt/pvm/missing does not exist"},
	} {
		cfg := config.Default()
		cfg.Spec.Kata.GuestKernel = kernel
		r := check(t, machineEnv(t, "pvm-host.txtar", cfg, write), "kata.guest_kernel")
		if r.Status != want.status || !strings.Contains(r.Message, want.says) || r.Status != Pass && r.Remedy == "" {
			t.Errorf("%q: %s %q (remedy %q), want %s ~%q", kernel, r.Status, r.Message, r.Remedy, want.status, want.says)
		}
	}
	// Not under kvm_pvm, a configured kernel is only named.
	cfg := config.Default()
	cfg.Spec.Kata.GuestKernel = "/opt/pvm/vmlinux-plain"
	if r := check(t, machineEnv(t, "intel-baremetal.txtar", cfg, write), "kata.guest_kernel"); r.Status != Pass || !strings.Contains(r.Message, "qemu: vmlinux-plain") {
		t.Errorf("hardware KVM: %+v", r)
	}
	// Kata not installed yet and no kernel given: the stock one will not boot.
	e := machineEnv(t, "pvm-host.txtar", config.Default(), func(root string) { os.RemoveAll(filepath.Join(root, "opt/kata")) })
	if r := check(t, e, "kata.guest_kernel"); r.Status != Warn || !strings.Contains(r.Message, "no guest kernel is configured") || !strings.Contains(r.Remedy, "--kata-guest-kernel") {
		t.Errorf("no Kata yet: %+v", r)
	}
}
