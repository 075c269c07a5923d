package containerd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	runtime "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Unit is containerd's systemd unit.
const Unit = "containerd.service"

// Step is the bootstrap step "containerd": config.toml merged with the
// runtimes, sandbox image and settings Kubernetes and Kata need, then a
// restart so the daemon loads it.
type Step struct {
	Config  *config.NodeConfig // resolved: cgroup driver set
	Release *eksd.Release
	// Version overrides detection (needed under --root, where no daemon answers).
	Version string
	// Installer, when set, is the phase before this one that may install
	// containerd: the version it leaves on the host comes before detection,
	// so the config follows the containerd that will load it, whether that
	// phase has applied yet or not.
	Installer Installer
	// NoRestart writes the file but leaves restarting containerd to the operator.
	NoRestart bool
	// RestartTimeout bounds the wait for the CRI plugin after a restart.
	RestartTimeout time.Duration
}

func (s *Step) Name() string { return "containerd" }

// Plan renders the merged config.toml from the file on the host.
func (s *Step) Plan(ctx context.Context, h *host.Host) (*plan.Plan, error) {
	version, how, err := s.detectVersion(ctx, h)
	if err == nil {
		err = SupportsKubernetes(version, eksd.ChannelMinor(s.Release.Channel()))
	}
	if _, blocked := plan.Problems(err); blocked {
		// Which config.toml to write depends on the containerd that will run it.
		p := &plan.Plan{}
		p.Notef("%s not planned: its layout follows the version of the containerd that loads it", s.Config.Spec.Containerd.ConfigPath)
		return p, err
	}
	if err != nil {
		return nil, err
	}
	o, notes, err := s.options(ctx, h, version)
	if err != nil {
		return nil, err
	}
	cfgPath := s.Config.Spec.Containerd.ConfigPath
	existing, err := h.FS.ReadText(cfgPath)
	switch {
	case err == nil || isNotExist(err):
	case errors.As(err, new(*host.InputError)):
		return nil, badinput.Wrap(fmt.Errorf("%w; it must be containerd's config file (or absent)", err))
	case errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.ENOTDIR):
		// The path is not a file we can merge into: the operator must look.
		return nil, badinput.Wrap(fmt.Errorf("%s: %w; it must be containerd's config file (or absent)", cfgPath, err))
	default:
		return nil, fmt.Errorf("reading %s: %w", cfgPath, err)
	}
	res, err := Render(existing, cfgPath, o)
	if err != nil {
		// A malformed or unusable existing file: the operator must fix it.
		return nil, badinput.Wrap(err)
	}
	p := &plan.Plan{}
	p.Notef("containerd %s (%s): config version %d", version, how, res.ConfigVersion)
	p.Notes = append(p.Notes, notes...)
	if err := s.planHostsFiles(h, p, o.InsecureHosts, res.HostsDir); err != nil {
		return nil, err
	}
	// Mode 0: an existing file keeps its mode, a new one gets 0644.
	c, err := plan.PlanFile(h, cfgPath, res.Data, 0)
	if err != nil {
		return nil, err
	}
	if c != nil {
		// Notes about the merge only matter when the file changes.
		p.Notes = append(p.Notes, res.Notes...)
		p.Add(c)
	}
	st, err := planEnable(ctx, h, p)
	if err != nil {
		return p, err
	}
	if c == nil {
		if !s.NoRestart && stopped(st) {
			// Its config is right, but the next steps pull through it.
			s.planRestart(p, "it is "+st.Active+": the images step pulls through it")
		}
		return p, nil
	}
	switch {
	case s.NoRestart:
		p.Notef("restart of containerd left to you (--no-restart): it runs the old config until then")
	case !h.IsLive():
		p.Notef("restart containerd: skipped (--root)")
	case !h.Systemd.Running():
		return p, plan.Block("containerd must be restarted to load "+cfgPath+", but systemd is not running as PID 1", "restart containerd yourself and pass --no-restart")
	case st != nil && st.Load == "not-found" && how != installedByEksdKata:
		// (The phase that installs containerd installs its unit too.)
		return p, errNoUnit("to load " + cfgPath)
	default:
		s.planRestart(p, "")
	}
	return p, nil
}

// planRestart restarts containerd (which starts a stopped one) and waits
// for its CRI plugin, which the next steps use.
func (s *Step) planRestart(p *plan.Plan, why string) {
	p.Add(&plan.UnitAction{Action: "restart", Unit: Unit, Why: why})
	p.Add(&plan.Func{Text: "wait until containerd's CRI plugin answers", Do: s.waitCRI})
}

// stopped reports whether systemd holds containerd's unit stopped (or
// failed); a unit systemd does not know, or one on its way up, is not.
func stopped(st *host.UnitState) bool {
	return st != nil && st.Load == "loaded" && (st.Active == "inactive" || st.Active == "failed")
}

// planEnable enables containerd when its unit is disabled (a package that
// does not enable what it installs): the node would come back from a reboot
// without a container runtime, and the kubelet with it.
//
// It returns the unit's state, nil where systemd is not there to ask.
func planEnable(ctx context.Context, h *host.Host, p *plan.Plan) (*host.UnitState, error) {
	if !h.IsLive() || !h.Systemd.Running() {
		return nil, nil
	}
	st, err := h.Systemd.UnitState(ctx, Unit)
	if err != nil {
		return nil, err
	}
	switch {
	case st.Masked():
		return nil, plan.Block(Unit+" is masked (systemd will not start containerd, at boot or for this bootstrap)", "run `systemctl unmask "+Unit+"` and run again")
	case st.UnitFileState == "disabled":
		p.Add(&plan.UnitAction{Action: "enable", Unit: Unit})
	}
	return &st, nil
}

// errNoUnit: systemd runs, but not containerd, so bootstrap cannot restart
// it (why: what the restart is for).
func errNoUnit(why string) error {
	return plan.Block(fmt.Sprintf("containerd must be restarted (%s), but systemd has no %s", why, Unit),
		"install the unit that comes with containerd's package or release, or restart containerd yourself and pass --no-restart")
}

// planHostsFiles writes a hosts.toml for each insecure registry, so that
// the kubelet's pulls (the CRI plugin) reach it over plain HTTP as
// eksd-kata's own pulls do. No restart: containerd reads them at each pull.
// An operator's own hosts.toml for the host is kept.
func (s *Step) planHostsFiles(h *host.Host, p *plan.Plan, hosts []string, dir string) error {
	if dir == "" {
		return nil
	}
	for _, host := range hosts {
		file := path.Join(dir, host, "hosts.toml")
		cur, err := h.FS.ReadText(file)
		switch {
		case err == nil && !ownHostsFile(cur):
			p.Notef("%s is not eksd-kata's: kept as it is (spec.images.insecureRegistries lists %s; make sure it allows plain HTTP)", file, host)
			continue
		case err != nil && !isNotExist(err):
			return fmt.Errorf("reading %s: %w", file, err)
		}
		c, err := plan.PlanFile(h, file, HostsTOML(host), 0o644)
		if err != nil {
			return err
		}
		if c != nil {
			c.Why = "the kubelet may pull from " + host + " over plain HTTP (spec.images.insecureRegistries)"
			p.Add(c)
		}
	}
	return nil
}

// Installer tells which containerd a phase leaves on the host: its
// version, or "" when it leaves the host's own.
type Installer interface {
	ContainerdVersion(ctx context.Context, h *host.Host) (string, error)
}

// installedByEksdKata is how detectVersion knows a version the Installer
// leaves on the host.
const installedByEksdKata = "installed by eksd-kata"

// detectVersion asks, in order: the Installer, the override, the daemon
// (containerd Go client), then `containerd --version`.
func (s *Step) detectVersion(ctx context.Context, h *host.Host) (version, how string, err error) {
	if s.Installer != nil {
		v, err := s.Installer.ContainerdVersion(ctx, h)
		if err != nil || v != "" {
			return v, installedByEksdKata, err
		}
	}
	if s.Version != "" {
		if _, _, err := ParseVersion(s.Version); err != nil {
			return "", "", badinput.Wrap(fmt.Errorf("--containerd-version: %w", err))
		}
		return s.Version, "--containerd-version", nil
	}
	if !h.IsLive() {
		// Bad input for a real run; a dry run plans on without it.
		return "", "", badinput.Wrap(plan.Block("under --root the installed containerd cannot be asked for its version", "pass --containerd-version (e.g. 1.7.28 or 2.2.1)"))
	}
	version, how, bin, err := Installed(ctx, h, s.Config.Spec.Containerd.Socket)
	if err == nil && bin == "" && version == "" {
		err = plan.Block(fmt.Sprintf("containerd is not installed (not running at %s, no containerd binary on PATH)", s.Config.Spec.Containerd.Socket), "run the runtime step, which installs it, or install containerd 1.7 or 2.x first")
	}
	return version, how, err
}

// Installed asks the host for its containerd: the daemon at socket, else
// the containerd binary on PATH (`containerd --version`). bin is that
// binary's host path, "" when there is none; version is "" when neither
// answers: no daemon, and under --root no binary of the image is run.
func Installed(ctx context.Context, h *host.Host, socket string) (version, how, bin string, err error) {
	if h.IsLive() {
		if c, err := h.Containerd(ctx, socket); err == nil {
			defer c.Close()
			if v, err := c.Version(ctx); err == nil {
				version, how = strings.TrimPrefix(v.Version, "v"), "daemon"
			}
		}
	}
	bin, lookErr := h.FS.LookPath("containerd")
	if lookErr != nil {
		bin = ""
	}
	if version != "" || bin == "" || !h.IsLive() {
		return version, how, bin, nil
	}
	out, err := host.Output(ctx, h.Exec, bin, "--version")
	if err != nil {
		return "", "", bin, err
	}
	// "containerd containerd.io 1.7.28 <rev>" or "containerd github.com/containerd/containerd 1.6.20~ds1"
	f := strings.Fields(string(out))
	for _, word := range f[min(1, len(f)):] {
		if _, _, err := ParseVersion(word); err == nil && strings.Count(word, ".") >= 1 && !strings.Contains(word, "/") {
			return strings.TrimPrefix(word, "v"), "containerd --version", bin, nil
		}
	}
	return "", "", bin, fmt.Errorf("cannot read a version from %q", strings.TrimSpace(string(out)))
}

// options derives Render's options from the node config and what the host has.
func (s *Step) options(ctx context.Context, h *host.Host, version string) (Options, []string, error) {
	var notes []string
	spec := s.Config.Spec
	sandbox, err := eksd.SandboxImage(s.Release, spec.Images.Mirror)
	switch {
	case errors.Is(err, eksd.ErrPauseTagUnknown):
		// Offline, for a channel newer than this program: a live run asks
		// the release's kubeadm first and sets it then.
		notes = append(notes, "sandbox image not set: "+err.Error())
	case err != nil:
		return Options{}, nil, err
	}
	o := DefaultOptions(version)
	o.SandboxImage = sandbox
	o.SystemdCgroup = spec.Node.CgroupDriver == config.CgroupDriverSystemd
	o.SkipKata = !spec.Kata.Enabled
	o.KataHandler = spec.Kata.RuntimeHandler
	o.Hypervisors = spec.Kata.Hypervisors
	o.KataShims = map[string]bool{}
	for _, hv := range spec.Kata.Hypervisors {
		ok, err := h.FS.Exists(path.Join(o.KataDir, "bin", "containerd-shim-kata-"+hv+"-v2"))
		if err != nil {
			return Options{}, nil, err
		}
		o.KataShims[hv] = ok
	}
	o.KataCLI = s.kata1(ctx, h, o.KataDir)
	for _, r := range spec.Images.InsecureRegistries {
		if !IsLoopbackHost(r) {
			o.InsecureHosts = append(o.InsecureHosts, r)
		}
	}
	refuses, err := h.RefusesNegativeOOMScoreAdj()
	switch {
	case errors.Is(err, host.ErrNotLive):
		notes = append(notes, "restrict_oom_score_adj: not probed under --root; the file's value is kept")
	case err != nil:
		return Options{}, nil, err
	case refuses:
		o.RestrictOOMScoreAdj = true
		notes = append(notes, "this kernel refuses negative oom_score_adj: restrict_oom_score_adj = true so runc can start containers")
	}
	return o, notes, nil
}

// kata1 reports whether the installed kata-runtime is Kata 1.x, the only
// one whose kata-runtime is an OCI runtime (create/start) that katacli needs.
func (s *Step) kata1(ctx context.Context, h *host.Host, kataDir string) bool {
	if !h.IsLive() {
		return false
	}
	bin := path.Join(kataDir, "bin", "kata-runtime")
	if ok, _ := h.FS.Exists(bin); !ok {
		return false
	}
	out, err := host.Output(ctx, h.Exec, bin, "--version")
	if err != nil {
		return false
	}
	// "kata-runtime  : 1.13.0" (1.x) vs "kata-runtime  : 3.21.0"
	for _, line := range strings.Split(string(out), "\n") {
		if _, v, ok := strings.Cut(line, ":"); ok && strings.HasPrefix(strings.TrimSpace(line), "kata-runtime") {
			major, _, err := ParseVersion(v)
			return err == nil && major == 1
		}
	}
	return false
}

// waitCRI polls the CRI runtime service until it reports RuntimeReady.
func (s *Step) waitCRI(ctx context.Context, h *host.Host) error {
	timeout := s.RestartTimeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if last = criReady(ctx, h, s.Config.Spec.Containerd.Socket); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("containerd's CRI plugin did not become ready within %s: %v", timeout, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func criReady(ctx context.Context, h *host.Host, socket string) error {
	c, err := h.Containerd(ctx, socket)
	if err != nil {
		return err
	}
	defer c.Close()
	rs, err := criService(c)
	if err != nil {
		return err
	}
	resp, err := rs.Status(ctx, &runtime.StatusRequest{})
	if err != nil {
		return err
	}
	for _, cond := range resp.GetStatus().GetConditions() {
		if cond.Type == runtime.RuntimeReady && !cond.Status {
			return fmt.Errorf("runtime not ready: %s", cond.Message)
		}
	}
	return nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
