package tuning

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

const fstab = `# /etc/fstab: static file system information.
UUID=1234 /     ext4 errors=remount-ro 0 1
/dev/sda2  none  swap sw                0 0
#/dev/sdb1 none  swap sw                0 0
/swap.img  none  swap sw                0 0
tmpfs      /tmp  tmpfs defaults         0 0
`

const selinuxConfig = `# This file controls the state of SELinux on the system.
SELINUX=enforcing
SELINUXTYPE=targeted
`

// enforcingSwapHost is a RHEL-like host: SELinux enforcing, two swap areas
// on, modules loadable but not loaded, forwarding off.
func enforcingSwapHost(t *testing.T) (*host.Host, string) {
	root := t.TempDir()
	hosttest.WriteTree(t, root, map[string]string{
		"/etc/fstab":                 "" + fstab,
		"/etc/selinux/config":        selinuxConfig,
		"/sys/fs/selinux/enforce":    "1",
		"/proc/swaps":                "Filename\tType\tSize\tUsed\tPriority\n/dev/sda2\tpartition\t1048572\t0\t-2\n/swap.img\tfile\t2097148\t0\t-3\n",
		"/proc/sys/kernel/osrelease": "5.14.0-362.el9.x86_64\n",
		"/lib/modules/5.14.0-362.el9.x86_64/modules.dep": "kernel/fs/overlayfs/overlay.ko.xz:\nkernel/net/bridge/br_netfilter.ko.xz: kernel/net/bridge/bridge.ko.xz\n",
		"/proc/sys/net/ipv4/ip_forward":                  "0\n",
	})
	// /etc/sysconfig/selinux is a link to ../selinux/config on RHEL: left alone.
	if err := os.MkdirAll(filepath.Join(root, "etc/sysconfig"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../selinux/config", filepath.Join(root, "etc/sysconfig/selinux")); err != nil {
		t.Fatal(err)
	}
	return hosttest.NewTestHost(t, root), root
}

func step() *Step { return &Step{Config: config.Default()} }

func TestPlanOnEnforcingHostWithSwap(t *testing.T) {
	h, root := enforcingSwapHost(t)
	ctx := context.Background()
	p, err := step().Plan(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	got := p.Summaries()
	want := []string{
		"setenforce 0 (permissive)",
		"update /etc/selinux/config",
		"swapoff /dev/sda2",
		"swapoff /swap.img",
		"update /etc/fstab",
		"systemd mask dev-sda2.swap",
		"systemd mask swap.img.swap",
		"create " + ModulesFile,
		"load kernel module overlay",
		"load kernel module br_netfilter",
		"create " + SysctlFile,
		"sysctl net.ipv4.ip_forward=1 (now 0)",
		"sysctl net.bridge.bridge-nf-call-iptables=1 (now unset)",
		"sysctl net.bridge.bridge-nf-call-ip6tables=1 (now unset)",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// An administrator's own unit where the mask goes: backed up first.
	hosttest.WriteTree(t, root, map[string]string{"/etc/systemd/system/swap.img.swap": "[Swap]\nWhat=/swap.img\n"})
	if err := p.Apply(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	backups, err := h.FS.Backups()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []host.Backup{
		{Path: "/etc/systemd/system/dev-sda2.swap", Created: true},
		{Path: "/etc/systemd/system/swap.img.swap", Mode: 0o644},
	} {
		if !slices.Contains(backups, want) {
			t.Errorf("backups %+v lack the mask's %+v", backups, want)
		}
	}
	fs, _ := os.ReadFile(filepath.Join(root, "etc/fstab"))
	wantFstab := strings.Replace(strings.Replace(fstab, "/dev/sda2  none", fstabMark+"/dev/sda2  none", 1), "/swap.img  none", fstabMark+"/swap.img  none", 1)
	if string(fs) != wantFstab {
		t.Errorf("fstab:\n%s\nwant (every other byte kept):\n%s", fs, wantFstab)
	}
	sel, _ := os.ReadFile(filepath.Join(root, "etc/selinux/config"))
	if string(sel) != strings.Replace(selinuxConfig, "SELINUX=enforcing", "SELINUX=permissive", 1) {
		t.Errorf("selinux config:\n%s", sel)
	}
	if fi, err := os.Lstat(filepath.Join(root, "etc/sysconfig/selinux")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("/etc/sysconfig/selinux link was replaced: %v %v", fi.Mode(), err)
	}
	live := h.Live.(*hosttest.FakeLive).CallList()
	if !slices.Contains(live, "LoadModule br_netfilter") || !slices.Contains(live, "SetEnforce 0") {
		t.Errorf("live calls: %v", live)
	}
	if masked := h.Systemd.(*hosttest.FakeSystemd).Masked; !slices.Equal(masked, []string{"dev-sda2.swap", "swap.img.swap"}) {
		t.Errorf("masked %v", masked)
	}

	// Converged: the second plan is empty and the backup holds the originals.
	p2, err := step().Plan(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if !p2.Empty() {
		t.Fatalf("second plan not empty: %v", p2.Summaries())
	}
	orig, err := os.ReadFile(filepath.Join(root, "var/lib/eksd-kata/backup/files/etc/fstab"))
	if err != nil || string(orig) != fstab {
		t.Errorf("fstab backup = %q, %v", orig, err)
	}
}

func TestSELinuxDisabledWanted(t *testing.T) {
	h, _ := enforcingSwapHost(t)
	s := step()
	s.Config.Spec.Host.SELinux = config.SELinuxDisabled
	got := setSELinuxLine([]byte("SELINUX=permissive\nSELINUXTYPE=targeted\n"), "disabled")
	if string(got) != "SELINUX=disabled\nSELINUXTYPE=targeted\n" {
		t.Errorf("permissive -> disabled: %q", got)
	}
	if got := setSELinuxLine([]byte("SELINUX=disabled\n"), "permissive"); string(got) != "SELINUX=disabled\n" {
		t.Errorf("a disabled SELinux must not be turned back on: %q", got)
	}
	if got := setSELinuxLine([]byte("SELINUX=\"enforcing\"\r\n"), "permissive"); string(got) != "SELINUX=permissive\r\n" {
		t.Errorf("quoted, CRLF: %q", got)
	}
	p, err := s.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	c := p.Changes[1].(*plan.WriteFile)
	if !strings.Contains(string(c.New), "SELINUX=disabled\n") {
		t.Errorf("selinux config:\n%s", c.New)
	}
}

// TestBuiltinModulesAndNoSELinux: this machine's kind of kernel, with
// everything built in and no SELinux: only the boot-time files are planned.
func TestBuiltinModulesAndNoSELinux(t *testing.T) {
	root := t.TempDir()
	hosttest.WriteTree(t, root, map[string]string{
		"/proc/sys/kernel/osrelease":                    "6.18.44\n",
		"/sys/module/overlay/parameters/metacopy":       "N\n",
		"/proc/sys/net/ipv4/ip_forward":                 "1\n",
		"/proc/sys/net/bridge/bridge-nf-call-iptables":  "1\n",
		"/proc/sys/net/bridge/bridge-nf-call-ip6tables": "1\n",
		"/proc/swaps": "Filename\tType\tSize\tUsed\tPriority\n",
	})
	writeGzipConfig(t, filepath.Join(root, "proc/config.gz"), "CONFIG_BRIDGE_NETFILTER=y\nCONFIG_OVERLAY_FS=y\n")
	h := hosttest.NewTestHost(t, root)
	p, err := step().Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Summaries(); !slices.Equal(got, []string{"create " + ModulesFile, "create " + SysctlFile}) {
		t.Fatalf("plan: %v", got)
	}
}

// TestOfflineRootPlansNoLiveChange: under --root live operations become
// notes, so a converged image plans nothing at all.
func TestOfflineRootPlansNoLiveChange(t *testing.T) {
	_, root := enforcingSwapHost(t)
	h, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	p, err := step().Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Changes {
		if _, ok := c.(*plan.WriteFile); !ok {
			t.Errorf("live change planned under --root: %s", c.Summary())
		}
	}
	if !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, "swapoff /dev/sda2: skipped (--root)") }) {
		t.Errorf("notes do not report the skipped swapoff: %v", p.Notes)
	}
	if err := p.Apply(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	p2, err := step().Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if !p2.Empty() {
		t.Fatalf("re-plan under --root: %v", p2.Summaries())
	}
}

func TestZramGeneratorTurnedOff(t *testing.T) {
	root := t.TempDir()
	hosttest.WriteTree(t, root, map[string]string{
		"/usr/lib/systemd/zram-generator.conf": "[zram0]\nzram-size = min(ram / 2, 4096)\n",
	})
	h := hosttest.NewTestHost(t, root)
	p := &plan.Plan{}
	if err := planZram(h, p); err != nil {
		t.Fatal(err)
	}
	if got := p.Summaries(); !slices.Equal(got, []string{"create " + ZramGeneratorFile}) {
		t.Fatalf("plan: %v", got)
	}
}
