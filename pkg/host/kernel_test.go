package host

import (
	"errors"
	"os"
	"slices"
	"testing"
)

func TestSysctlAndRelease(t *testing.T) {
	root := t.TempDir()
	mkfile(t, root, "/proc/sys/net/ipv4/ip_forward", "1\n", 0o644)
	mkfile(t, root, "/proc/sys/kernel/osrelease", "6.1.0-18-amd64\n", 0o444)
	h := &Host{FS: NewFS(root)}

	if v, err := h.Sysctl("net.ipv4.ip_forward"); err != nil || v != "1" {
		t.Fatalf("Sysctl = %q, %v", v, err)
	}
	if v, err := h.Sysctl("net/ipv4/ip_forward"); err != nil || v != "1" {
		t.Fatalf("Sysctl (slash form) = %q, %v", v, err)
	}
	if _, err := h.Sysctl("net.bridge.bridge-nf-call-iptables"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing sysctl: want ErrNotExist, got %v", err)
	}
	for _, bad := range []string{"", "../../etc/passwd", "net..x"} {
		if _, err := h.Sysctl(bad); err == nil {
			t.Errorf("Sysctl(%q) accepted", bad)
		}
	}
	if r, err := h.KernelRelease(); err != nil || r != "6.1.0-18-amd64" {
		t.Fatalf("KernelRelease = %q, %v", r, err)
	}
}

func TestSwaps(t *testing.T) {
	root := t.TempDir()
	h := &Host{FS: NewFS(root)}
	mkfile(t, root, "/proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"+
		"/dev/sda2                               partition\t8388604\t\t0\t\t-2\n"+
		"/swap\\040file                           file\t\t1048572\t\t512\t\t-3\n", 0o444)
	want := []Swap{{Path: "/dev/sda2", Type: "partition", SizeKiB: 8388604}, {Path: "/swap file", Type: "file", SizeKiB: 1048572}}
	if got, err := h.Swaps(); err != nil || !slices.Equal(got, want) {
		t.Fatalf("Swaps = %+v, %v; want %+v", got, err, want)
	}
	mkfile(t, root, "/proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n", 0o444)
	if got, err := h.Swaps(); err != nil || len(got) != 0 {
		t.Fatalf("no swap: %v, %v", got, err)
	}
	mkfile(t, root, "/proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n/x file big 0 -2\n", 0o444)
	if _, err := h.Swaps(); err == nil {
		t.Fatal("bad size accepted")
	}
}

func TestSELinux(t *testing.T) {
	root := t.TempDir()
	h := &Host{FS: NewFS(root)}
	if m, err := h.SELinux(); err != nil || m != SELinuxDisabled || m.String() != "disabled" {
		t.Fatalf("no selinuxfs: %v, %v", m, err)
	}
	for content, want := range map[string]SELinuxMode{"1": SELinuxEnforcing, "0\n": SELinuxPermissive} {
		mkfile(t, root, "/sys/fs/selinux/enforce", content, 0o644)
		if m, err := h.SELinux(); err != nil || m != want {
			t.Fatalf("enforce %q: %v, %v; want %v", content, m, err, want)
		}
	}
	mkfile(t, root, "/sys/fs/selinux/enforce", "maybe", 0o644)
	if _, err := h.SELinux(); err == nil {
		t.Fatal("garbage in enforce accepted")
	}
	if SELinuxEnforcing.String() != "enforcing" || SELinuxPermissive.String() != "permissive" {
		t.Fatal("mode names")
	}
}

func TestLiveKernelValidates(t *testing.T) {
	// Only inputs that fail before touching the kernel.
	var k liveKernel
	if err := k.SetSysctl("../x", "1"); err == nil {
		t.Error("SetSysctl accepted a key leaving /proc/sys")
	}
	if err := k.LoadModule("-r"); err == nil {
		t.Error("LoadModule accepted an option as a name")
	}
	if err := k.Swapoff("bad\x00path"); err == nil {
		t.Error("Swapoff accepted a NUL")
	}
}
