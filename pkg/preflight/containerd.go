package preflight

import (
	"context"
	"fmt"
	"regexp"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/eksd-kata/eksd-kata/pkg/containerd"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/runtimeinstall"
)

var containerdChecks = []Check{
	{"containerd.installed", Containerd, checkContainerdInstalled},
	{"containerd.version", Containerd, checkContainerdVersion},
	{"containerd.socket", Containerd, checkContainerdSocket},
	{"containerd.unit", Containerd, checkContainerdUnit},
	{"containerd.cri", Containerd, checkCRI},
	{"containerd.runtimes", Containerd, checkKataRuntimes},
	{"containerd.gunzip", Containerd, checkGunzip},
}

// ctrFacts are shared by the containerd and Kata checks.
type ctrFacts struct {
	daemonOnce sync.Once
	daemon     host.ContainerdInfo
	daemonErr  error // nil: the daemon answered
	probed     bool

	confOnce   sync.Once
	conf       containerd.Summary
	confRaw    []byte
	confExists bool
	confErr    error

	outlookOnce sync.Once
	outlook     *runtimeinstall.Outlook
}

func (e *Env) ctr() *ctrFacts { return &e.facts.ctr }

// daemon asks the running containerd once.
func (e *Env) daemon(ctx context.Context) (host.ContainerdInfo, bool, error) {
	f := e.ctr()
	f.daemonOnce.Do(func() {
		if e.Containerd == nil {
			return
		}
		real, err := e.Host.FS.Resolve(e.Config.Spec.Containerd.Socket)
		if err != nil {
			f.daemonErr, f.probed = err, true
			return
		}
		f.daemon, f.daemonErr = e.Containerd.Probe(ctx, real)
		f.probed = true
	})
	return f.daemon, f.probed, f.daemonErr
}

// ctrConfig reads containerd's config.toml once.
func (e *Env) ctrConfig() (s containerd.Summary, raw []byte, exists bool, err error) {
	f := e.ctr()
	f.confOnce.Do(func() {
		b, err := e.Host.FS.ReadText(e.Config.Spec.Containerd.ConfigPath)
		if notExist(err) {
			return
		}
		f.confExists, f.confRaw = true, b
		if err != nil {
			f.confErr = err
			return
		}
		f.conf, f.confErr = containerd.Inspect(b)
	})
	return f.conf, f.confRaw, f.confExists, f.confErr
}

// outlook is what bootstrap's runtime step would do on this host; nil
// when the run has none or it cannot tell (it then says why itself).
func (e *Env) outlook(ctx context.Context) *runtimeinstall.Outlook {
	f := e.ctr()
	f.outlookOnce.Do(func() {
		if e.Runtime == nil {
			return
		}
		if o, err := e.Runtime.Outlook(ctx, e.Host); err == nil {
			f.outlook = &o
		}
	})
	return f.outlook
}

// installs names what the runtime step installs: "containerd 2.3.4 and
// runc 1.4.3 from their releases".
func installs(o *runtimeinstall.Outlook) string {
	if !o.Runc {
		return "containerd " + o.Choice.Containerd.Version + " from " + o.Choice.Containerd.From
	}
	return "containerd " + o.Choice.Containerd.Version + " and runc " + o.Choice.Runc.Version + " from their releases"
}

func checkContainerdInstalled(ctx context.Context, e *Env) Result {
	o := e.outlook(ctx)
	p, err := e.Host.FS.LookPath("containerd")
	switch {
	case err == nil && o != nil && o.Containerd:
		return pass("containerd at %s; bootstrap installs %s in its place (%s)", p, installs(o), o.ContainerdWhy)
	case err == nil:
		return pass("containerd at %s", p)
	case o != nil && o.Containerd:
		r := warn("nothing to do: bootstrap installs them (offline, from --artifacts-dir)", "containerd is not installed: bootstrap installs %s", installs(o))
		r.BootstrapFixes = true
		return r
	}
	return fail("install containerd ("+minContainerd(e.channel())+"): bootstrap's runtime step installs it from its release, or use your distribution's package",
		"containerd is not installed (not in PATH)")
}

// replaceRemedy says how bootstrap replaces a containerd too old for the release.
func (e *Env) replaceRemedy() string {
	if e.Runtime != nil {
		return runtimeinstall.ReplaceRemedy(e.Runtime.Choice())
	}
	rel := e.release()
	if rel == nil {
		return "install containerd " + minContainerd(e.channel()) + " (github.com/containerd/containerd/releases), or choose an older EKS-D channel with --release"
	}
	return runtimeinstall.ReplaceRemedy(runtimeinstall.Choose(rel, runtimeinstall.Request{}, goruntime.GOARCH))
}

// semver is a containerd version; only the numbers matter here.
type semver struct{ major, minor, patch int }

func (v semver) String() string { return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch) }

func (v semver) less(o semver) bool {
	return slices.Compare([]int{v.major, v.minor, v.patch}, []int{o.major, o.minor, o.patch}) < 0
}

var semverRE = regexp.MustCompile(`v?(\d+)\.(\d+)\.(\d+)`)

// parseSemver finds the first x.y.z in s ("containerd github.com/... 1.6.20~ds1 ...").
func parseSemver(s string) (semver, bool) {
	m := semverRE.FindStringSubmatch(s)
	if m == nil {
		return semver{}, false
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	c, _ := strconv.Atoi(m[3])
	return semver{a, b, c}, true
}

// minContainerd names the containerd versions the channel's kubelet
// supports, for messages; the rule itself is containerd.SupportsKubernetes.
func minContainerd(channel string) string {
	return containerd.MinimumVersionsText(eksd.ChannelMinor(channel))
}

// containerdVersion asks the daemon, else runs `containerd --version` on
// the running system; source says which.
func (e *Env) containerdVersion(ctx context.Context) (v string, source string, err error) {
	if d, probed, derr := e.daemon(ctx); probed && derr == nil {
		return d.Version, "daemon", nil
	}
	p, err := e.Host.FS.LookPath("containerd")
	if err != nil {
		return "", "", nil
	}
	if v := dpkgVersion(e, p, "containerd", "containerd.io"); v != "" {
		return v, "dpkg", nil
	}
	if !e.RunVersions {
		return "", "", nil
	}
	out, err := host.Output(ctx, e.Host.Exec, p, "--version")
	return strings.TrimSpace(string(out)), p + " --version", err
}

func checkContainerdVersion(ctx context.Context, e *Env) Result {
	raw, source, err := e.containerdVersion(ctx)
	if err != nil {
		return fail("reinstall containerd", "%s failed: %v", source, err)
	}
	if raw == "" {
		return skip("version unknown: containerd is missing or not running, and binaries are not run under --root")
	}
	v, ok := parseSemver(raw)
	if !ok {
		return warn("", "cannot read a version in %q (from %s)", raw, source)
	}
	ch := e.channel()
	o := e.outlook(ctx)
	if containerd.SupportsKubernetes(v.String(), eksd.ChannelMinor(ch)) != nil {
		what := fmt.Sprintf("containerd %s is too old for EKS-D %s (Kubernetes 1.%d wants %s)", v, ch, eksd.ChannelMinor(ch), minContainerd(ch))
		if o != nil && o.Containerd {
			r := warn("bootstrap installs "+installs(o)+" in its place", "%s", what)
			r.BootstrapFixes = true
			return r
		}
		return fail(e.replaceRemedy(), "%s", what)
	}
	cv, _ := containerd.ConfigVersionFor(v.String())
	if o != nil && o.Containerd {
		return pass("containerd %s (from %s) supports EKS-D %s; bootstrap installs %s in its place (%s)", v, source, ch, installs(o), o.ContainerdWhy)
	}
	return pass("containerd %s (from %s) supports EKS-D %s; config version %d", v, source, ch, cv)
}

func checkContainerdSocket(ctx context.Context, e *Env) Result {
	sock := e.Config.Spec.Containerd.Socket
	if e.Containerd == nil {
		return skip("the socket %s is only dialled on the running system, not under --root", sock)
	}
	if _, err := e.Host.FS.LookPath("containerd"); err != nil {
		return skip("containerd is not installed")
	}
	restart := "start containerd (no systemd here: bootstrap cannot start it for you)"
	if e.Host.Systemd != nil && e.Host.Systemd.Running() {
		restart = "bootstrap enables and restarts containerd through systemd"
	}
	d, _, err := e.daemon(ctx)
	switch {
	case err != nil && permission(err) && !e.Root:
		return skip("cannot open %s as this user: run as root to test it", sock)
	case notExist(err):
		r := warn(restart, "containerd is not running: no socket at %s", sock)
		r.BootstrapFixes = strings.HasPrefix(restart, "bootstrap")
		return r
	case err != nil:
		r := warn(restart, "containerd does not answer on %s: %v", sock, err)
		r.BootstrapFixes = strings.HasPrefix(restart, "bootstrap")
		return r
	}
	return pass("containerd %s answers on %s", d.Version, sock)
}

// checkContainerdUnit: bootstrap restarts containerd through systemd, and
// the node needs it back after a reboot.
func checkContainerdUnit(ctx context.Context, e *Env) Result {
	if _, err := e.Host.FS.LookPath("containerd"); err != nil && e.Host.Systemd != nil && e.Host.Systemd.Running() {
		return skip("containerd is not installed")
	}
	return checkUnit(ctx, e, containerd.Unit, "containerd", func() Result {
		return fail("install the systemd unit that comes with containerd's package or release (containerd.service)",
			"containerd is installed, but systemd has no %s: bootstrap restarts containerd through it, and a reboot would leave the node without it", containerd.Unit)
	})
}

// checkUnit reads a unit bootstrap enables (what runs it: daemon): masked
// fails, disabled is a warning bootstrap fixes, missing is missing().
func checkUnit(ctx context.Context, e *Env, unit, daemon string, missing func() Result) Result {
	switch {
	case e.Host.Systemd == nil || !e.Host.Systemd.Running() && !e.Host.IsLive():
		return skip("the state of %s is only read on the running system, not under --root", unit)
	case !e.Host.Systemd.Running():
		return skip("systemd is not running as PID 1: %s is started by other means here", daemon)
	}
	st, err := e.Host.Systemd.UnitState(ctx, unit)
	switch {
	case err != nil:
		return warn("check that systemd answers on D-Bus (systemctl status "+unit+")", "cannot read the state of %s: %v", unit, err)
	case st.Masked():
		return fail("systemctl unmask "+unit, "%s is masked: systemd will not start %s, at boot or when bootstrap asks for it", unit, daemon)
	case st.Load == "not-found":
		return missing()
	case st.UnitFileState == "disabled":
		r := warn("bootstrap enables it", "%s is disabled (%s): the node would come back from a reboot without %s", unit, st.Active, daemon)
		r.BootstrapFixes = true
		return r
	}
	return pass("%s is %s (%s)", unit, st.UnitFileState, st.Active)
}

// criDisabled reports whether disabled_plugins names the CRI plugin.
func criDisabled(s containerd.Summary) bool {
	return slices.ContainsFunc(s.DisabledPlugins, func(p string) bool {
		return p == "cri" || p == "io.containerd.grpc.v1.cri"
	})
}

func checkCRI(ctx context.Context, e *Env) Result {
	path := e.Config.Spec.Containerd.ConfigPath
	s, _, exists, err := e.ctrConfig()
	switch {
	case err != nil && permission(err):
		return skip("cannot read %s as this user", path)
	case err != nil:
		return fail("fix the file by hand, or move it aside so bootstrap writes a fresh one",
			"%s cannot be merged: %v", path, err)
	case exists && criDisabled(s):
		return fixable("bootstrap removes cri from disabled_plugins (a Docker Engine install puts it there)",
			"%s disables the CRI plugin (disabled_plugins = %q): kubeadm cannot use containerd", path, s.DisabledPlugins)
	}
	if d, probed, derr := e.daemon(ctx); probed && derr == nil && !d.CRI {
		return warn("read containerd's log for the CRI plugin's error", "the running containerd has no working CRI plugin: %s", d.CRIError)
	}
	if !exists {
		return pass("no %s: containerd's defaults enable CRI (bootstrap writes the file)", path)
	}
	return pass("CRI plugin enabled in %s", path)
}

// kataHandlers are the runtime handlers bootstrap configures.
func kataHandlers(e *Env) []string {
	k := e.Config.Spec.Kata
	hs := []string{k.RuntimeHandler}
	for _, hv := range k.Hypervisors {
		hs = append(hs, "kata-"+hv)
	}
	return hs
}

func checkKataRuntimes(_ context.Context, e *Env) Result {
	if r, off := kataOff(e); off {
		return r
	}
	path := e.Config.Spec.Containerd.ConfigPath
	want := kataHandlers(e)
	s, _, exists, err := e.ctrConfig()
	switch {
	case err != nil:
		return skip("%s is not readable (see containerd.cri)", path)
	case !exists:
		return fixable("bootstrap writes it with runtimes "+strings.Join(want, ", "), "no %s yet", path)
	}
	var missing []string
	for _, h := range want {
		if rt, ok := s.Runtimes[h]; !ok || !strings.Contains(rt.Type, "kata") {
			missing = append(missing, h)
		}
	}
	if len(missing) > 0 {
		return fixable("bootstrap adds them to "+path+", keeping every other setting",
			"%s has no Kata runtime %s", path, strings.Join(missing, ", "))
	}
	return pass("%s has the Kata runtimes %s", path, strings.Join(want, ", "))
}

// checkGunzip: containerd gunzips every layer it pulls, in Go unless it
// finds igzip (ISA-L, containerd 2.0+) or unpigz in its PATH. Go's inflate
// takes two to three times igzip's CPU, and the first kubeadm init waits
// for the control-plane pulls.
func checkGunzip(ctx context.Context, e *Env) Result {
	if _, err := e.Host.FS.LookPath("containerd"); err != nil {
		return skip("containerd is not installed")
	}
	raw, _, _ := e.containerdVersion(ctx)
	v, known := parseSemver(raw)
	tools, install := []string{"igzip", "unpigz"}, "install igzip (Debian/Ubuntu: apt-get install isal) or pigz (apt-get or dnf install pigz)"
	if known && v.major < 2 {
		tools, install = []string{"unpigz"}, "install pigz (apt-get or dnf install pigz); containerd 2.0+ also uses igzip, which is faster"
	}
	for _, tool := range tools {
		if p, err := e.Host.FS.LookPath(tool); err == nil {
			return pass("containerd gunzips image layers with %s", p)
		}
	}
	return warn(install+"; containerd finds it in its PATH when it next starts",
		"no %s in PATH: containerd gunzips image layers in Go, its slowest way (igzip takes a third to a half of the time): image pulls and the first kubeadm init take longer", strings.Join(tools, " or "))
}
