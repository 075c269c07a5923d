package preflight

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/host"
)

var virtChecks = []Check{
	{"virt.cpu", Virtualisation, checkCPUFlags},
	{"virt.hwvirt", Virtualisation, checkHWVirt},
	{"virt.kvm", Virtualisation, checkKVM},
	{"virt.hypervisor", Virtualisation, checkHypervisor},
	{"virt.nested", Virtualisation, checkNested},
	{"virt.vhost_vsock", Virtualisation, checkVhostVsock},
	{"virt.vhost_net", Virtualisation, checkVhostNet},
}

// kataOff skips checks that only matter for Kata when it is disabled.
func kataOff(e *Env) (Result, bool) {
	if e.Config.Spec.Kata.Enabled {
		return Result{}, false
	}
	return skip("Kata is disabled in the configuration (--kata=false)"), true
}

// pvmRemedy says what PVM means for Kata, in one place for every check
// that meets it.
const pvmRemedy = "Kata's qemu, cloud-hypervisor and firecracker all drive /dev/kvm and run on PVM " +
	"without VT-x/AMD-V, but each Kata VM must boot a PVM guest kernel (CONFIG_PVM_GUEST=y): " +
	"Kata's stock vmlinux does not boot under kvm_pvm (bootstrap --kata-guest-kernel PATH sets one; see virt-pvm/misc pvm-get-started-with-kata.md, " +
	"which uses cloud-hypervisor). Shadow paging makes page-table-heavy work (fork, exec) slower, and pods " +
	"cannot run VMs of their own. For the stock guest kernel use a host with VT-x/AMD-V: bare metal or " +
	"a VM with nested virtualisation."

// x86CPU reads the CPU for a check of x86 flags. When Kata is off, cpuinfo
// cannot be read or the CPU is not x86 (notX86 says what then), ok is false
// and r is the check's result.
func x86CPU(e *Env, notX86 string) (ci cpuInfo, r Result, ok bool) {
	if r, off := kataOff(e); off {
		return ci, r, false
	}
	ci, err := e.cpuInfo()
	if err != nil {
		return ci, skip("cannot read /proc/cpuinfo: %v", err), false
	}
	if !ci.X86 {
		return ci, skip("%s", notX86), false
	}
	return ci, Result{}, true
}

func checkCPUFlags(_ context.Context, e *Env) Result {
	ci, r, ok := x86CPU(e, "CPU flags are checked on x86 only; on this architecture /dev/kvm decides (virt.kvm)")
	if !ok {
		return r
	}
	var missing []string
	for _, f := range []string{"lm", "sse4_1"} { // what kata-check requires on amd64
		if !ci.Flags[f] {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return fail("use a 64-bit CPU with SSE4.1 (a VM's CPU model must pass them through, e.g. libvirt host-passthrough)",
			"%s CPU lacks %s, which Kata's hypervisors require", ci.Vendor, strings.Join(missing, ", "))
	}
	return pass("%s CPU with lm and sse4_1", ci.Vendor)
}

// hwVirtFlag returns "vmx" or "svm" when the CPU shows one.
func hwVirtFlag(ci cpuInfo) string {
	for _, f := range []string{"vmx", "svm"} {
		if ci.Flags[f] {
			return f
		}
	}
	return ""
}

func checkHWVirt(_ context.Context, e *Env) Result {
	ci, r, ok := x86CPU(e, "VT-x/AMD-V flags are x86 only; /dev/kvm decides (virt.kvm)")
	if !ok {
		return r
	}
	if f := hwVirtFlag(ci); f != "" {
		return pass("hardware virtualisation: %s (%s)", f, map[string]string{"vmx": "Intel VT-x", "svm": "AMD-V"}[f])
	}
	kvm := e.kvmState()
	if kvm.Module == "kvm_pvm" {
		works := "KVM is provided by the kvm_pvm module"
		if kvm.usable() {
			works = "/dev/kvm works (KVM_CREATE_VM succeeds) because KVM is provided by the kvm_pvm module"
		}
		return warn(pvmRemedy, "no vmx/svm in the CPU flags, but %s: PVM, page-table based virtualisation that needs no hardware virtualisation extensions", works)
	}
	if ci.Flags["hypervisor"] {
		return fail("enable nested virtualisation for this VM (EC2 *.metal or an instance type with nested virtualisation, "+
			"GCE --enable-nested-virtualization, libvirt <cpu mode='host-passthrough'>), or run a PVM host kernel (kvm_pvm)",
			"no vmx/svm: this VM has no nested virtualisation, so Kata's hypervisors cannot use KVM")
	}
	return fail("enable Intel VT-x or AMD-V (SVM) in the firmware setup",
		"no vmx/svm in the CPU flags: hardware virtualisation is missing or disabled in the firmware")
}

func checkKVM(_ context.Context, e *Env) Result {
	if r, off := kataOff(e); off {
		return r
	}
	kvm := e.kvmState()
	from := ""
	if kvm.Module != "" {
		from = " (KVM from " + kvm.Module + ")"
	}
	switch {
	case !kvm.Present:
		remedy := "load the KVM module of this CPU (modprobe kvm_intel or kvm_amd) after enabling hardware virtualisation"
		if kvm.Module != "" {
			remedy = "create the device node: mknod /dev/kvm c 10 232 (udev normally does this)"
		}
		return fail(remedy, "%s is missing%s: Kata's hypervisors need KVM", kvmDevice, from)
	case !kvm.Probed:
		return skip("%s is present%s; it is only opened on the running system, not under --root", kvmDevice, from)
	case kvm.Err != nil && permission(kvm.Err) && !e.Root:
		return skip("cannot open %s as this user: run as root (or join the kvm group) to test it", kvmDevice)
	case kvm.Err != nil:
		return fail("check dmesg for KVM errors; another hypervisor (VirtualBox, VMware) may hold VT-x",
			"%s is present%s but not usable: %v", kvmDevice, from, kvm.Err)
	}
	return pass("%s usable: API version %d, KVM_CREATE_VM succeeded%s", kvmDevice, kvm.Info.APIVersion, from)
}

// hypervisorVendors are DMI vendor or product strings of virtual machines.
var hypervisorVendors = []string{"QEMU", "KVM", "Amazon EC2", "Google Compute Engine", "VMware", "Xen",
	"VirtualBox", "innotek", "Microsoft Corporation Virtual Machine", "OpenStack", "Red Hat", "Bochs", "Parallels", "Firecracker"}

func checkHypervisor(_ context.Context, e *Env) Result {
	if r, off := kataOff(e); off {
		return r
	}
	ci, _ := e.cpuInfo()
	vendor, _, _ := e.readTrim("/sys/class/dmi/id/sys_vendor")
	product, _, _ := e.readTrim("/sys/class/dmi/id/product_name")
	dmi := strings.TrimSpace(vendor + " " + product)
	var under []string
	if ci.Flags["hypervisor"] {
		under = append(under, "cpuinfo hypervisor flag")
	}
	for _, v := range hypervisorVendors {
		if dmi != "" && strings.Contains(dmi, v) {
			under = append(under, "DMI "+dmi)
			break
		}
	}
	if len(under) == 0 {
		if dmi == "" && !ci.X86 {
			return skip("no DMI data and no cpuinfo hypervisor flag on this architecture")
		}
		return pass("bare metal: no hypervisor flag%s", label(", DMI ", dmi))
	}
	why := strings.Join(under, ", ")
	switch {
	case hwVirtFlag(ci) != "":
		return pass("a virtual machine (%s) with nested virtualisation: the CPU shows %s", why, hwVirtFlag(ci))
	case e.kvmState().Module == "kvm_pvm":
		return pass("a virtual machine (%s) without nested virtualisation; PVM (kvm_pvm) provides KVM instead (see virt.hwvirt)", why)
	}
	return warn("enable nested virtualisation for this VM (see virt.hwvirt)",
		"a virtual machine (%s): Kata needs nested virtualisation here, and the CPU does not show vmx/svm", why)
}

func label(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

func checkNested(_ context.Context, e *Env) Result {
	if r, off := kataOff(e); off {
		return r
	}
	kvm := e.kvmState()
	if kvm.Module != "kvm_intel" && kvm.Module != "kvm_amd" {
		what := "no KVM module"
		if kvm.Module != "" {
			what = "KVM comes from " + kvm.Module
		}
		return skip("kvm_intel/kvm_amd is not loaded (%s): no nested parameter to read", what)
	}
	v, ok, err := e.readTrim("/sys/module/" + kvm.Module + "/parameters/nested")
	if err != nil || !ok {
		return skip("%s has no readable nested parameter", kvm.Module)
	}
	if v == "Y" || v == "1" {
		return pass("%s nested=%s: Kata VMs may run VMs of their own", kvm.Module, v)
	}
	return pass("%s nested=%s: Kata VMs cannot run VMs of their own (ordinary pods do not need it)", kvm.Module, v)
}

// moduleRemedy says how to get a missing module on this kernel.
func moduleRemedy(e *Env, name, symbol string) string {
	if ok, _ := e.Host.FS.Exists("/proc/modules"); !ok {
		return fmt.Sprintf("this kernel has no loadable modules (CONFIG_MODULES off): rebuild it with CONFIG_%s=y", symbol)
	}
	return fmt.Sprintf("install the kernel's extra modules (e.g. linux-modules-extra-$(uname -r)) so that modprobe %s works, or build CONFIG_%s", name, symbol)
}

// moduleResult reports a module as available (loaded, built in, loadable).
func moduleResult(e *Env, name, symbol, why, alt string) Result {
	st, err := e.Host.Module(name)
	if err != nil {
		return skip("cannot tell whether %s is available: %v", name, err)
	}
	if st == host.ModuleMissing {
		return fail(moduleRemedy(e, name, symbol)+alt, "%s is missing: %s", name, why)
	}
	return pass("%s is %s", name, st)
}

func checkVhostVsock(_ context.Context, e *Env) Result {
	if r, off := kataOff(e); off {
		return r
	}
	if !slices.Contains(e.Config.Spec.Kata.Hypervisors, "qemu") {
		return skip("not needed: cloud-hypervisor and firecracker talk to the Kata agent over hybrid vsock (a unix socket)")
	}
	return moduleResult(e, "vhost_vsock", "VHOST_VSOCK", "qemu reaches the Kata agent over vhost-vsock",
		"; or use --hypervisors clh or fc, which need no vhost_vsock")
}

func checkVhostNet(_ context.Context, e *Env) Result {
	if r, off := kataOff(e); off {
		return r
	}
	if !slices.Contains(e.Config.Spec.Kata.Hypervisors, "qemu") {
		return skip("not needed: cloud-hypervisor and firecracker have their own virtio-net back ends")
	}
	return moduleResult(e, "vhost_net", "VHOST_NET", "Kata's qemu uses vhost-net for pod networking (disable_vhost_net = false)",
		"; or set disable_vhost_net = true in configuration-qemu.toml, or use --hypervisors clh or fc")
}
