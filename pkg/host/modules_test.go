package host

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func writeGzip(t *testing.T, root, p, data string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	mkfile(t, root, p, buf.String(), 0o444)
}

func mkdir(t *testing.T, root, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestModuleDetection(t *testing.T) {
	const rel = "6.1.0-test"
	root := t.TempDir()
	mkfile(t, root, "/proc/sys/kernel/osrelease", rel+"\n", 0o444)
	mkfile(t, root, "/proc/modules", "kvm_intel 409600 0 - Live 0x0000000000000000\nvhost_net 32768 0 - Live 0x0000000000000000\n", 0o444)
	mkdir(t, root, "/sys/module/bridge/parameters")                // built in, has parameters
	mkfile(t, root, "/sys/module/veth/initstate", "live\n", 0o444) // loaded
	mkfile(t, root, "/lib/modules/"+rel+"/modules.builtin", "kernel/fs/overlayfs/overlay.ko\nkernel/net/bridge/br_netfilter.ko\n", 0o644)
	writeGzip(t, root, "/proc/config.gz", "# comment\nCONFIG_KVM=y\nCONFIG_VHOST_NET=m\nCONFIG_VHOST_VSOCK=m\n# CONFIG_KVM_AMD is not set\nCONFIG_VXLAN=y\n")
	mkfile(t, root, "/lib/modules/"+rel+"/modules.dep",
		"kernel/drivers/vhost/vhost.ko.zst:\n"+
			"kernel/drivers/net/vxlan/vxlan.ko.xz: kernel/net/ipv4/udp_tunnel.ko.xz\n"+
			"kernel/net/netfilter/nf_conntrack.ko.gz:\n"+
			"extra/my-mod.ko:\n", 0o644)
	h := &Host{FS: NewFS(root)}

	for name, want := range map[string]ModuleState{
		"kvm_intel":    ModuleLoaded,   // /proc/modules
		"vhost-net":    ModuleLoaded,   // /proc/modules wins over config =m; '-' == '_'
		"veth":         ModuleLoaded,   // /sys/module with initstate
		"bridge":       ModuleBuiltin,  // /sys/module without initstate
		"br_netfilter": ModuleBuiltin,  // modules.builtin
		"overlay":      ModuleBuiltin,  // modules.builtin
		"kvm":          ModuleBuiltin,  // config.gz =y
		"vxlan":        ModuleBuiltin,  // config =y wins over modules.dep
		"vhost_vsock":  ModuleLoadable, // config.gz =m
		"vhost":        ModuleLoadable, // modules.dep, .ko.zst
		"nf_conntrack": ModuleLoadable, // modules.dep, .ko.gz
		"my_mod":       ModuleLoadable, // modules.dep, name with '-'
		"kvm_amd":      ModuleMissing,  // "is not set", nowhere else
		"ip_tables":    ModuleMissing,
		"udp_tunnel_x": ModuleMissing,
	} {
		got, err := h.Module(name)
		if err != nil || got != want {
			t.Errorf("Module(%s) = %v, %v; want %v", name, got, err, want)
		}
	}
	if _, err := h.Module("../etc"); err == nil {
		t.Error("a name with a slash was accepted")
	}
}

func TestModuleBootConfig(t *testing.T) {
	// No /proc/config.gz: the config of the release in /boot is used.
	root := t.TempDir()
	mkfile(t, root, "/proc/sys/kernel/osrelease", "6.9.0\n", 0o444)
	mkfile(t, root, "/boot/config-6.9.0", "CONFIG_OVERLAY_FS=m\nCONFIG_BRIDGE_NETFILTER=y\n", 0o644)
	mkfile(t, root, "/boot/config-5.0.0", "CONFIG_KVM=y\n", 0o644)
	h := &Host{FS: NewFS(root)}
	for name, want := range map[string]ModuleState{"overlay": ModuleLoadable, "br_netfilter": ModuleBuiltin, "kvm": ModuleMissing} {
		if got, err := h.Module(name); err != nil || got != want {
			t.Errorf("Module(%s) = %v, %v; want %v", name, got, err, want)
		}
	}
}

func TestModuleCorruptConfig(t *testing.T) {
	root := t.TempDir()
	mkfile(t, root, "/proc/config.gz", "not gzip", 0o444)
	h := &Host{FS: NewFS(root)}
	if _, err := h.Module("overlay"); err == nil {
		t.Fatal("corrupt /proc/config.gz not reported")
	}
	// A module not in the table never needs the config.
	if got, err := h.Module("dummy"); err != nil || got != ModuleMissing {
		t.Fatalf("Module(dummy) = %v, %v", got, err)
	}
}

func TestModuleStateString(t *testing.T) {
	for s, want := range map[ModuleState]string{ModuleMissing: "missing", ModuleLoadable: "loadable", ModuleLoaded: "loaded", ModuleBuiltin: "built-in"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), want)
		}
	}
}

// TestModuleLiveMachine runs against the running kernel: what kubeadm and
// containerd need must be found however this kernel provides it (here: built
// in, CONFIG_MODULES off, no /sys/module/br_netfilter).
func TestModuleLiveMachine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs a Linux kernel")
	}
	h, err := New("/")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"br_netfilter", "overlay"} {
		got, err := h.Module(name)
		if err != nil {
			t.Fatalf("Module(%s): %v", name, err)
		}
		if got == ModuleMissing {
			t.Errorf("Module(%s) = missing on the running kernel", name)
		}
		t.Logf("%s: %v", name, got)
	}
}
