// Package runtimeinstall is the bootstrap step "runtime": containerd and
// runc from their projects' releases, verified before anything is
// written, on a host that has no containerd, one too old for the release
// that the operator asks to replace (--install-containerd), or one
// eksd-kata installed before and the release has outgrown. containerd's
// programs go to /usr/local/bin with the unit containerd publishes in
// /etc/systemd/system, which takes the place of a distribution's; runc to
// /usr/local/sbin, ahead of a distribution's on PATH.
package runtimeinstall

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/eksd-kata/eksd-kata/pkg/artifacts"
	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/containerd"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/owned"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	"github.com/eksd-kata/eksd-kata/pkg/release/fetch"
	"github.com/eksd-kata/eksd-kata/systemd"
)

// Where containerd's and runc's releases are installed.
const (
	BinDir   = "/usr/local/bin"
	RuncPath = "/usr/local/sbin/runc"
	UnitPath = owned.ContainerdUnitPath
)

// StepName is the runtime step's name.
const StepName = "runtime"

// Step installs containerd and runc where the host needs them.
type Step struct {
	Release *eksd.Release
	Request Request
	// Version is --containerd-version: the version of the containerd on
	// the host, for where it cannot be asked (--root).
	Version string
	// Socket is containerd's socket, where the daemon is asked.
	Socket string
	// ArtifactsDir is an operator's directory of release files
	// (--artifacts-dir): read from there, never downloaded.
	ArtifactsDir string
	// DryRun plans a download without making it; a real run downloads and
	// verifies while it plans, so a bad file stops it before any change.
	DryRun bool
	// NoRestart leaves starting containerd to the operator.
	NoRestart bool
	// Arch defaults to the architecture this program was built for.
	Arch   string
	Client *http.Client
	Policy fetch.Policy

	chooseOnce sync.Once
	choice     Choice
	chooseErr  error

	mu  sync.Mutex
	got map[string]map[string][]byte // programs of verified release files, by sha256
}

func (s *Step) Name() string { return StepName }

func (s *Step) arch() string {
	if s.Arch != "" {
		return s.Arch
	}
	return runtime.GOARCH
}

// Choice is what the step installs when it installs: bad input when the
// request cannot be met.
func (s *Step) Choice() (Choice, error) {
	s.chooseOnce.Do(func() {
		s.choice, s.chooseErr = Choose(s.Release, s.Request, s.arch())
		if s.chooseErr != nil {
			s.chooseErr = badinput.Wrap(s.chooseErr)
		}
	})
	return s.choice, s.chooseErr
}

// Outlook is what the step does on a host as it is now.
type Outlook struct {
	Choice Choice
	// Found is the version of the host's containerd ("" when unknown),
	// How says how it was learnt, Binary is its program on PATH.
	Found, How, Binary string
	// Ours: eksd-kata installed that containerd, unchanged since.
	Ours bool
	// Missing: no containerd at all, no daemon, no program, no version given.
	Missing bool
	// Containerd and Runc are installed, for the reasons given.
	Containerd, Runc       bool
	ContainerdWhy, RuncWhy string
	// TooOld blocks the run: the host's containerd is too old for the
	// release, and replacing it is the operator's call.
	TooOld error

	ctr, runc mine // what the record says of each
}

// Outlook looks at the host and decides. A request that cannot be met
// is bad input; so is the default choice, only when it is needed.
func (s *Step) Outlook(ctx context.Context, h *host.Host) (Outlook, error) {
	c, cerr := s.Choice()
	if cerr != nil && s.Request != (Request{}) {
		return Outlook{}, cerr
	}
	o := Outlook{Choice: c}
	ctr := ours(h, artifacts.Containerd)
	o.ctr = ctr
	var err error
	switch {
	case ctr.Intact:
		o.Found, o.How, o.Binary, o.Ours = ctr.Version, "installed by eksd-kata", path.Join(BinDir, "containerd"), true
	case s.Version != "":
		if _, _, err := containerd.ParseVersion(s.Version); err != nil {
			return Outlook{}, badinput.Wrap(fmt.Errorf("--containerd-version: %w", err))
		}
		o.Found, o.How = strings.TrimPrefix(s.Version, "v"), "--containerd-version"
		o.Binary, _ = h.FS.LookPath("containerd")
	default:
		if o.Found, o.How, o.Binary, err = containerd.Installed(ctx, h, s.Socket); err != nil {
			return Outlook{}, err
		}
	}
	o.Missing = o.Found == "" && o.Binary == ""
	minor := eksd.ChannelMinor(s.Release.Channel())
	var serr error
	if o.Found != "" {
		serr = containerd.SupportsKubernetes(o.Found, minor)
	}
	tooOld := serr != nil
	switch {
	case c.Replace:
		o.Containerd = !ctr.Intact || ctr.SHA256 != c.Containerd.SHA256
		o.ContainerdWhy = "--install-containerd"
		if !ctr.Intact && o.Found != "" {
			o.ContainerdWhy += ", in place of containerd " + o.Found
		}
	case ctr.Recorded && !ctr.Intact:
		o.Containerd, o.ContainerdWhy = true, "eksd-kata's install of containerd "+ctr.Version+" is incomplete or was changed"
	case o.Missing:
		o.Containerd, o.ContainerdWhy = true, "containerd is not installed"
	case ctr.Intact && tooOld:
		// eksd-kata's own install: moving it on with the release is ours to do.
		o.Containerd, o.ContainerdWhy = true, fmt.Sprintf("eksd-kata's containerd %s is too old for Kubernetes 1.%d", o.Found, minor)
	case tooOld:
		o.TooOld = tooOldError(o, minor, serr, cerr)
	}
	// An old distribution's runc beside a new containerd is a known
	// trouble (runc 1.1 before 1.1.12 lets a container reach the host,
	// CVE-2024-21626, and containerd 2.x is tested with runc 1.2+): with
	// its own containerd, eksd-kata puts the runc of the same time first
	// on PATH. Else it installs runc only where there is none.
	runc := ours(h, artifacts.Runc)
	o.runc = runc
	_, runcErr := h.FS.LookPath("runc")
	switch {
	case o.Containerd && !(runc.Intact && runc.SHA256 == c.Runc.SHA256):
		o.Runc, o.RuncWhy = true, "beside eksd-kata's containerd, ahead of a distribution's runc on PATH"
	case runc.Recorded && !runc.Intact:
		o.Runc, o.RuncWhy = true, "eksd-kata's install of runc "+runc.Version+" is incomplete or was changed"
	case runcErr != nil && (ctr.Intact || o.Binary != ""):
		o.Runc, o.RuncWhy = true, "runc is not installed: containerd starts no container without it"
	}
	if cerr != nil && (o.Containerd || o.Runc) {
		return Outlook{}, cerr
	}
	return o, nil
}

// tooOldError is the blocker of a host's containerd too old for the
// release (serr says why, when not for its age), with the flag that
// replaces it.
func tooOldError(o Outlook, minor int, serr, cerr error) error {
	what := tooOldFor(o.Found, minor)
	if _, old := plan.Problems(serr); !old {
		what = serr.Error()
	}
	if o.Binary != "" {
		what = strings.Replace(what, o.Found, o.Found+" ("+o.Binary+")", 1)
	}
	return plan.Block(what, ReplaceRemedy(o.Choice, cerr))
}

// ReplaceRemedy says how to have a containerd of c's in place of the
// host's (cerr: c could not be made).
func ReplaceRemedy(c Choice, cerr error) string {
	const rest = " in /usr/local/bin in its place (reset puts the host's back), or choose an older EKS-D release with --release"
	if cerr != nil {
		return "pass --install-containerd FILE|URL --containerd-sha256 SUM to install a containerd release" + rest
	}
	return "pass --install-containerd " + c.Containerd.Version + " to install containerd " + c.Containerd.Version + " from " + c.Containerd.From + rest
}

// ContainerdVersion is the version of the containerd the step leaves on
// the host, "" when it leaves the host's own (containerd.Installer).
func (s *Step) ContainerdVersion(ctx context.Context, h *host.Host) (string, error) {
	o, err := s.Outlook(ctx, h)
	switch {
	case err != nil:
		return "", err
	case o.Containerd:
		return o.Choice.Containerd.Version, nil
	case o.Ours:
		return o.Found, nil
	}
	return "", nil
}

// Plan installs what Outlook decided, then the unit and the systemd
// actions that run eksd-kata's containerd.
func (s *Step) Plan(ctx context.Context, h *host.Host) (*plan.Plan, error) {
	o, err := s.Outlook(ctx, h)
	if err != nil {
		return nil, err
	}
	p := &plan.Plan{}
	if o.TooOld != nil {
		return p, o.TooOld
	}
	if o.Containerd {
		c, err := s.planInstall(ctx, o.Choice.Containerd, o.ContainerdWhy)
		if err != nil {
			return nil, err
		}
		p.Add(c)
	}
	if o.Runc {
		c, err := s.planInstall(ctx, o.Choice.Runc, o.RuncWhy)
		if err != nil {
			return nil, err
		}
		p.Add(c)
	}
	for _, m := range []struct {
		project    artifacts.Project
		installing bool
		mine
	}{{artifacts.Containerd, o.Containerd, o.ctr}, {artifacts.Runc, o.Runc, o.runc}} {
		if m.Intact && m.Hashed && !m.installing {
			p.Add(&restamp{project: m.project, in: m.installed})
		}
	}
	if !o.Containerd && !o.Ours {
		switch {
		case o.Found != "":
			p.Notef("containerd %s (%s) kept: Kubernetes 1.%d supports it", o.Found, o.How, eksd.ChannelMinor(s.Release.Channel()))
		case o.Binary != "":
			p.Notef("%s kept: its version is not known here (the containerd step asks for --containerd-version)", o.Binary)
		}
		return p, nil
	}
	return p, s.planUnit(ctx, h, p, o.Containerd)
}

// planUnit writes containerd's unit and has systemd run eksd-kata's
// containerd: reloaded when the unit changed, enabled, and restarted when
// its programs or unit changed (a restart starts a stopped one).
func (s *Step) planUnit(ctx context.Context, h *host.Host, p *plan.Plan, installing bool) error {
	unit, err := plan.PlanFile(h, UnitPath, systemd.Containerd, 0o644)
	if err != nil {
		return err
	}
	if unit != nil {
		unit.Why = "the unit containerd publishes, for its release in " + BinDir + "; it takes the place of a distribution's"
		p.Add(unit)
	}
	changed := installing || unit != nil
	switch {
	case !h.IsLive():
		if changed {
			p.Notef("enable and start %s: skipped (--root); enable it in the image (systemctl --root=%s enable %s)", containerd.Unit, h.Root(), containerd.Unit)
		}
		return nil
	case !h.Systemd.Running():
		if changed {
			p.Notef("start containerd: skipped, systemd is not running as PID 1; start %s/containerd yourself", BinDir)
		}
		return nil
	}
	st, err := h.Systemd.UnitState(ctx, containerd.Unit)
	if err != nil {
		return err
	}
	if st.Masked() {
		return plan.Block(containerd.Unit+" is masked (systemd will not start containerd, at boot or for this bootstrap)", "run `systemctl unmask "+containerd.Unit+"` and run again")
	}
	if unit != nil {
		p.Add(&plan.UnitAction{Action: "daemon-reload"})
	}
	// Only a unit not enabled yet: enabling again would make the links
	// anew, recorded as eksd-kata's for reset, in place of a package's.
	if st.UnitFileState != "enabled" {
		p.Add(&plan.UnitAction{Action: "enable", Unit: containerd.Unit})
	}
	switch {
	case s.NoRestart && (changed || st.Active != "active"):
		p.Notef("start of eksd-kata's containerd left to you (--no-restart)")
	case changed:
		p.Add(&plan.UnitAction{Action: "restart", Unit: containerd.Unit, Why: "to run containerd from " + BinDir})
	case st.Active != "active":
		p.Add(&plan.UnitAction{Action: "restart", Unit: containerd.Unit, Why: "it is " + st.Active})
	}
	return nil
}

// install writes the programs of one verified release file.
type install struct {
	src   Source
	why   string
	step  *Step
	files map[string][]byte // by host path; nil: a dry run's download, not made
}

func (c *install) Summary() string {
	into := "into " + BinDir
	if c.src.Project == artifacts.Runc {
		into = "as " + RuncPath
	}
	var names []string
	for p := range c.files {
		names = append(names, path.Base(p))
	}
	sort.Strings(names)
	what := fmt.Sprintf("install %s %s", c.src.Project, c.src.Version)
	if c.src.Project == artifacts.Containerd && len(names) > 0 {
		what += " (" + strings.Join(names, ", ") + ")"
	}
	verified := "sha256 verified"
	if c.files == nil {
		verified = "downloaded, sha256 verified before anything is written"
	}
	return fmt.Sprintf("%s %s from %s (%s; %s)", what, into, c.src.Where(), c.why, verified)
}

func (c *install) Apply(ctx context.Context, h *host.Host) error {
	files := c.files
	if files == nil {
		var err error
		if files, err = c.step.fetch(ctx, c.src); err != nil {
			return err
		}
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	// Recorded first: a run cut short in between leaves a record the
	// programs do not match, and the next run installs them again.
	if err := remember(h, c.src.Project, c.src, files, false); err != nil {
		return err
	}
	for _, p := range paths {
		if _, err := h.FS.WriteFile(p, files[p], 0o755); err != nil {
			return err
		}
	}
	return remember(h, c.src.Project, c.src, files, true)
}

// planInstall gets and verifies the release file now, unless a dry run
// would have to download it, so that a bad one stops the run before it
// changed anything.
func (s *Step) planInstall(ctx context.Context, src Source, why string) (*install, error) {
	c := &install{src: src, why: why, step: s}
	if s.DryRun && src.Local == "" && s.ArtifactsDir == "" {
		return c, nil
	}
	files, err := s.fetch(ctx, src)
	if err != nil {
		return nil, err
	}
	c.files = files
	return c, nil
}

// fetch gets a release file, verifies it and returns its programs by the
// host path they go to; once per file in a run, which plans twice.
func (s *Step) fetch(ctx context.Context, src Source) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if files, ok := s.got[src.SHA256]; ok {
		return files, nil
	}
	var data []byte
	var err error
	switch {
	case src.Local != "":
		data, err = artifacts.Local(src.Local, src.SHA256)
	case s.ArtifactsDir != "":
		data, err = artifacts.Getter{Dir: s.ArtifactsDir}.Get(ctx, src.File)
	default:
		data, err = artifacts.Getter{Client: s.Client, Policy: s.Policy}.Get(ctx, src.File)
	}
	if err != nil {
		if src.Local != "" || s.ArtifactsDir != "" {
			err = badinput.Wrap(err) // the operator's file
		}
		return nil, err
	}
	files := map[string][]byte{}
	switch src.Project {
	case artifacts.Containerd:
		progs, err := programs(data)
		if err != nil {
			// Its checksum says which archive this is, not that it is safe.
			return nil, badinput.Wrap(fmt.Errorf("%s: %w", src.Where(), err))
		}
		for name, b := range progs {
			files[path.Join(BinDir, name)] = b
		}
	case artifacts.Runc:
		if len(data) == 0 {
			return nil, badinput.Wrap(errors.New(src.Where() + ": empty, not runc"))
		}
		files[RuncPath] = data
	}
	if s.got == nil {
		s.got = map[string]map[string][]byte{}
	}
	s.got[src.SHA256] = files
	return files, nil
}
