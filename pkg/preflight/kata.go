package preflight

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/kata"
	"github.com/pelletier/go-toml/v2"
)

var kataChecks = []Check{
	{"kata.shim", Kata, checkKataShim},
	{"kata.config", Kata, checkKataConfig},
	{"kata.hypervisor", Kata, checkKataHypervisor},
	{"kata.version", Kata, checkKataVersion},
	{"kata.katacli", Kata, checkKataCLI},
	{"kata.guest_kernel", Kata, checkGuestKernel},
	{"kata.fc_devmapper", Kata, checkFCDevmapper},
}

const kataShim = "containerd-shim-kata-v2"

// installing is the remedy of a missing Kata that the run installs.
const installing = "nothing to do: bootstrap's kata step installs it first"

// installKata is the command that installs a missing Kata.
func installKata() string { return "bootstrap --install-kata " + kata.Newest() }

// kataConfigDirs are searched in Kata's own order: the admin's override,
// the static release, distribution packages.
var kataConfigDirs = []string{
	"/etc/kata-containers",
	"/opt/kata/share/defaults/kata-containers",
	"/usr/share/defaults/kata-containers",
}

// kataConf is the part of a Kata configuration file we read.
type kataConf struct {
	Path       string // host path of the file
	Hypervisor string // its [hypervisor.X] table name
	Binary     string // hypervisor path
	Kernel     string // guest kernel
	Err        error
}

type kataFacts struct {
	once    sync.Once
	confs   map[string]kataConf // by configured hypervisor; missing when not found
	version string
	verErr  error
	verOnce sync.Once
}

func (e *Env) kataConfs() map[string]kataConf {
	f := &e.facts.kata
	f.once.Do(func() {
		f.confs = map[string]kataConf{}
		for _, hv := range e.Config.Spec.Kata.Hypervisors {
			for _, dir := range kataConfigDirs {
				p := dir + "/configuration-" + hv + ".toml"
				b, err := e.Host.FS.ReadText(p)
				if notExist(err) {
					continue
				}
				f.confs[hv] = parseKataConf(p, b, err)
				break
			}
		}
	})
	return f.confs
}

func parseKataConf(p string, b []byte, err error) kataConf {
	c := kataConf{Path: p, Err: err}
	if err != nil {
		return c
	}
	var doc struct {
		Hypervisor map[string]struct {
			Path   string `toml:"path"`
			Kernel string `toml:"kernel"`
		} `toml:"hypervisor"`
	}
	if err := toml.Unmarshal(b, &doc); err != nil {
		c.Err = err
		return c
	}
	for name, h := range doc.Hypervisor { // a Kata configuration has one
		c.Hypervisor, c.Binary, c.Kernel = name, h.Path, h.Kernel
	}
	if c.Hypervisor == "" {
		c.Err = fmt.Errorf("no [hypervisor.*] table")
	}
	return c
}

func (e *Env) kataInstalled() bool {
	_, err := e.Host.FS.LookPath(kataShim)
	return err == nil
}

func checkKataShim(_ context.Context, e *Env) Result {
	if r, off := kataOff(e); off {
		return r
	}
	p, err := e.Host.FS.LookPath(kataShim)
	if err != nil && e.KataInstall != "" {
		return fixable(installing, "%s not found (/opt/kata/bin or PATH): %s", kataShim, e.KataInstall)
	}
	if err != nil {
		return fixable(installKata()+" installs the Kata Containers static release under /opt/kata, verified against the sha256 eksd-kata carries", "%s not found (/opt/kata/bin or PATH)", kataShim)
	}
	return pass("%s at %s", kataShim, p)
}

func checkKataConfig(_ context.Context, e *Env) Result {
	if r, off := kataOff(e); off {
		return r
	}
	confs := e.kataConfs()
	var found, missing, broken []string
	for _, hv := range e.Config.Spec.Kata.Hypervisors {
		c, ok := confs[hv]
		switch {
		case !ok:
			missing = append(missing, "configuration-"+hv+".toml")
		case c.Err != nil:
			broken = append(broken, fmt.Sprintf("%s: %v", c.Path, c.Err))
		default:
			found = append(found, c.Path)
		}
	}
	switch {
	case len(broken) > 0:
		return fail("fix the file, or remove the override under /etc/kata-containers", "%s", strings.Join(broken, "; "))
	case len(missing) > 0 && !e.kataInstalled() && e.KataInstall != "":
		return fixable(installing, "%s not found: %s, which ships them", strings.Join(missing, ", "), e.KataInstall)
	case len(missing) > 0 && !e.kataInstalled():
		return fixable(installKata()+" installs the Kata release, which ships them", "%s not found", strings.Join(missing, ", "))
	case len(missing) > 0:
		return fail("reinstall the Kata static release, or drop those hypervisors (--hypervisors)",
			"Kata is installed but has no %s in %s", strings.Join(missing, ", "), strings.Join(kataConfigDirs, ", "))
	}
	return pass("%s", strings.Join(found, ", "))
}

func checkKataHypervisor(_ context.Context, e *Env) Result {
	if r, off := kataOff(e); off {
		return r
	}
	confs := e.kataConfs()
	if len(confs) == 0 {
		return skip("no Kata configuration to read (see kata.config)")
	}
	var ok, missing []string
	for _, hv := range e.Config.Spec.Kata.Hypervisors {
		c, found := confs[hv]
		if !found || c.Err != nil {
			continue
		}
		if c.Binary == "" {
			missing = append(missing, c.Path+" names no hypervisor path")
			continue
		}
		if _, err := e.Host.FS.LookPath(c.Binary); err != nil {
			missing = append(missing, fmt.Sprintf("%s (from %s)", c.Binary, path.Base(c.Path)))
			continue
		}
		ok = append(ok, c.Binary)
	}
	if len(missing) > 0 {
		return fail("reinstall the Kata static release (it ships qemu, cloud-hypervisor and firecracker), or fix path in the configuration",
			"hypervisor binary missing: %s", strings.Join(missing, "; "))
	}
	if len(ok) == 0 {
		return skip("no readable Kata configuration (see kata.config)")
	}
	return pass("%s", strings.Join(ok, ", "))
}

var kataVersionRE = regexp.MustCompile(`(?m)kata-runtime\s*:\s*v?(\S+)`)

// kataVersion runs `kata-runtime --version` once, on the running system.
func (e *Env) kataVersion(ctx context.Context) (string, error) {
	f := &e.facts.kata
	f.verOnce.Do(func() {
		if !e.RunVersions {
			return
		}
		p, err := e.Host.FS.LookPath("kata-runtime")
		if err != nil {
			return
		}
		out, err := host.Output(ctx, e.Host.Exec, p, "--version")
		if err != nil {
			f.verErr = err
			return
		}
		if m := kataVersionRE.FindSubmatch(out); m != nil {
			f.version = string(m[1])
		} else if v, ok := parseSemver(string(out)); ok {
			f.version = v.String()
		}
	})
	return f.version, f.verErr
}

func checkKataVersion(ctx context.Context, e *Env) Result {
	if r, off := kataOff(e); off {
		return r
	}
	if !e.kataInstalled() {
		return skip("Kata is not installed (see kata.shim)")
	}
	v, err := e.kataVersion(ctx)
	switch {
	case err != nil:
		return fail("reinstall the Kata static release", "kata-runtime --version failed: %v", err)
	case v == "" && !e.RunVersions:
		return skip("kata-runtime is not run under --root")
	case v == "":
		return skip("no kata-runtime to ask for the version")
	case strings.HasPrefix(v, "1."):
		return warn("install Kata Containers 3.x (bootstrap's Kata step)", "Kata %s is end of life; eksd-kata targets Kata 3.x", v)
	}
	return pass("Kata Containers %s", v)
}

// katacliRuntimes are runtimes in containerd's config that run kata-runtime
// as an OCI runtime under the runc shim: the 2020 tutorial's "katacli".
func katacliRuntimes(e *Env) []string {
	s, _, exists, err := e.ctrConfig()
	if !exists || err != nil {
		return nil
	}
	var out []string
	for name, rt := range s.Runtimes {
		if strings.HasSuffix(rt.BinaryName, "kata-runtime") || name == "katacli" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func checkKataCLI(ctx context.Context, e *Env) Result {
	if r, off := kataOff(e); off {
		return r
	}
	v, _ := e.kataVersion(ctx)
	cli := katacliRuntimes(e)
	why := "kata-runtime of Kata 2 and 3 has no create/start/run verbs, so it cannot be an OCI runtime under the runc shim; Kata runs only through the shim v2 (io.containerd.kata.v2)"
	switch {
	case strings.HasPrefix(v, "1."):
		return pass("Kata %s: kata-runtime can still serve as the tutorial's katacli OCI runtime", v)
	case len(cli) > 0:
		return warn("use the shim v2 handlers bootstrap adds ("+strings.Join(kataHandlers(e), ", ")+") and remove "+strings.Join(cli, ", "),
			"containerd's config has the tutorial's katacli runtime %s, which cannot work: %s", strings.Join(cli, ", "), why)
	}
	return pass("katacli (Kata 1.x only) is not used: %s", why)
}

// guestKernelRE finds the version in a guest kernel file name such as
// vmlinux-6.12.47-172 (the static release links vmlinux.container to it).
var guestKernelRE = regexp.MustCompile(`vmlinu[xz]-(\d+\.\d+(?:\.\d+)?)`)

// SO_ORIGINAL_DST deadlocks in these guest kernels (Istio, Linkerd).
var meshDeadlockFrom, meshDeadlockTo = semver{4, 14, 22}, semver{4, 14, 40}

// guestKernel is a kernel image Kata VMs boot, and the hypervisors that boot it.
type guestKernel struct {
	path string
	hvs  []string
}

// guestKernels are spec.kata.guestKernel when it is set, else the kernel
// each hypervisor's configuration names, in the configured order.
func (e *Env) guestKernels() []guestKernel {
	var out []guestKernel
	add := func(p, hv string) {
		for i := range out {
			if out[i].path == p {
				out[i].hvs = append(out[i].hvs, hv)
				return
			}
		}
		out = append(out, guestKernel{p, []string{hv}})
	}
	for _, hv := range e.Config.Spec.Kata.Hypervisors {
		if k := e.Config.Spec.Kata.GuestKernel; k != "" {
			add(k, hv)
		} else if c, ok := e.kataConfs()[hv]; ok && c.Err == nil && c.Kernel != "" {
			add(c.Kernel, hv)
		}
	}
	return out
}

// pvmKernelRemedy is how a kvm_pvm host gets a guest kernel that boots.
const pvmKernelRemedy = "give Kata a guest kernel built with PVM guest support (CONFIG_PVM_GUEST=y, from virt-pvm/linux): " +
	"bootstrap --kata-guest-kernel PATH (spec.kata.guestKernel); or, for Kata's stock kernel, use a host with VT-x/AMD-V"

func checkGuestKernel(_ context.Context, e *Env) Result {
	if r, off := kataOff(e); off {
		return r
	}
	if k := e.Config.Spec.Kata.GuestKernel; k != "" {
		if ok, err := e.Host.FS.Exists(k); err == nil && !ok {
			return fail("give the path of a guest kernel image on this host (--kata-guest-kernel, spec.kata.guestKernel)", "spec.kata.guestKernel %s does not exist", k)
		}
	}
	kernels := e.guestKernels()
	pvm := e.kvmState().Module == "kvm_pvm"
	if len(kernels) == 0 && pvm {
		return warn(pvmKernelRemedy, "KVM here comes from kvm_pvm, and no guest kernel is configured: Kata's stock guest kernel does not boot under it")
	}
	if len(kernels) == 0 {
		return skip("no guest kernel named in a readable Kata configuration")
	}
	var seen, bad []string
	for _, gk := range kernels {
		hvs := strings.Join(gk.hvs, ", ")
		name := gk.path
		if real, err := e.Host.FS.Resolve(gk.path); err == nil {
			name = path.Base(real) // follow vmlinux.container -> vmlinux-6.x
		}
		m := guestKernelRE.FindStringSubmatch(name)
		if m == nil {
			seen = append(seen, fmt.Sprintf("%s: %s (version not in the name)", hvs, name))
			continue
		}
		v, _ := parseSemver(m[1] + strings.Repeat(".0", 2-strings.Count(m[1], ".")))
		seen = append(seen, fmt.Sprintf("%s: %s", hvs, v))
		if !v.less(meshDeadlockFrom) && !meshDeadlockTo.less(v) {
			bad = append(bad, fmt.Sprintf("%s (%s)", v, hvs))
		}
	}
	if len(bad) > 0 {
		return warn("use a guest kernel outside 4.14.22-4.14.40 (the Kata 3.x release ships 6.x)",
			"guest kernel %s deadlocks on getsockopt(SO_ORIGINAL_DST): Istio and Linkerd sidecars hang", strings.Join(bad, ", "))
	}
	if pvm {
		return e.pvmGuestKernels(kernels)
	}
	return pass("guest kernel %s", strings.Join(seen, ", "))
}

// pvmGuestKernels says whether each guest kernel boots under kvm_pvm, as
// far as its image tells: only a kernel built with PVM guest support does.
func (e *Env) pvmGuestKernels(kernels []guestKernel) Result {
	var yes, no, unknown []string
	for _, gk := range kernels {
		what := fmt.Sprintf("%s (%s)", gk.path, strings.Join(gk.hvs, ", "))
		support, err := e.inspectKernel(gk.path)
		switch {
		case err != nil:
			unknown = append(unknown, fmt.Sprintf("%s: cannot read it: %v", what, err))
		case support == pvmConfigYes || support == pvmCode:
			yes = append(yes, what+" is "+support.String())
		case support == pvmConfigNo:
			no = append(no, what+" is "+support.String())
		default:
			unknown = append(unknown, what+": "+support.String())
		}
	}
	switch {
	case len(no) > 0:
		return fail(pvmKernelRemedy, "KVM here comes from kvm_pvm, and guest kernel %s: Kata VMs cannot boot it", strings.Join(no, "; "))
	case len(unknown) > 0:
		return warn(pvmKernelRemedy, "KVM here comes from kvm_pvm, so Kata VMs need a PVM guest kernel (CONFIG_PVM_GUEST=y): %s", strings.Join(unknown, "; "))
	}
	return pass("KVM here comes from kvm_pvm, and guest kernel %s", strings.Join(yes, "; "))
}

func (e *Env) inspectKernel(p string) (pvmSupport, error) {
	f, err := e.Host.FS.OpenInput(p)
	if err != nil {
		return pvmUnknown, err
	}
	defer f.Close()
	return inspectPVM(f)
}

func checkFCDevmapper(_ context.Context, e *Env) Result {
	if r, off := kataOff(e); off {
		return r
	}
	if !slices.Contains(e.Config.Spec.Kata.Hypervisors, "fc") {
		return skip("firecracker is not among the hypervisors")
	}
	_, raw, exists, err := e.ctrConfig()
	remedy := "create an LVM thin pool and configure containerd's devmapper snapshotter (pool_name, root_path), then set snapshotter = \"devmapper\" on kata-fc; bootstrap does not create block devices"
	if !exists || err != nil {
		return fail(remedy, "firecracker needs containerd's devmapper snapshotter (it cannot boot from overlayfs), and containerd has no configuration for it")
	}
	var doc struct {
		Plugins map[string]map[string]any `toml:"plugins"`
	}
	if err := toml.Unmarshal(raw, &doc); err != nil {
		return skip("cannot read %s: %v", e.Config.Spec.Containerd.ConfigPath, err)
	}
	if pool, _ := doc.Plugins["io.containerd.snapshotter.v1.devmapper"]["pool_name"].(string); pool != "" {
		return pass("devmapper snapshotter configured (pool %s) for firecracker", pool)
	}
	return fail(remedy, "firecracker needs containerd's devmapper snapshotter (it cannot boot from overlayfs), and %s configures no thin pool", e.Config.Spec.Containerd.ConfigPath)
}
