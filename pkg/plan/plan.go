// Package plan holds the changes a bootstrap step wants to make, as data:
// printed by --dry-run, applied by the step runner. Each change knows how
// to apply itself through a host.Host, and nothing else touches the host.
package plan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// Change is one thing to make so on the host.
type Change interface {
	// Summary is one line for humans: "write /etc/sysctl.d/99-eksd-kata.conf".
	Summary() string
	// Apply makes the change through h.
	Apply(ctx context.Context, h *host.Host) error
}

// Differ is a change that can show what it does to a file.
type Differ interface {
	Diff() string
}

// WriteFile replaces Path with New (atomically, backed up once).
type WriteFile struct {
	Path string
	Old  []byte // nil when the file does not exist
	New  []byte
	Mode fs.FileMode // 0 keeps the existing mode
	// Why explains the change when it is not obvious from the diff
	// ("comments in the existing file are not kept").
	Why string
}

func (c *WriteFile) Summary() string {
	verb := "update"
	if c.Old == nil {
		verb = "create"
	}
	s := fmt.Sprintf("%s %s", verb, c.Path)
	if c.Why != "" {
		s += " (" + c.Why + ")"
	}
	return s
}

func (c *WriteFile) Diff() string { return UnifiedDiff(c.Path, c.Old, c.New) }

func (c *WriteFile) Apply(_ context.Context, h *host.Host) error {
	_, err := h.FS.WriteFile(c.Path, c.New, c.Mode)
	return err
}

// PlanFile returns the change that makes path hold data with mode, or nil
// when it already does.
func PlanFile(h *host.Host, path string, data []byte, mode fs.FileMode) (*WriteFile, error) {
	old, err := h.FS.ReadText(path)
	exists := err == nil
	var ie *host.InputError
	if errors.As(err, &ie) {
		return nil, err // it names the path
	}
	if err != nil && !isNotExist(err) {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if exists && string(old) == string(data) {
		if mode == 0 {
			return nil, nil
		}
		fi, err := h.FS.Stat(path)
		if err != nil {
			return nil, err
		}
		if fi.Mode().Perm() == mode.Perm() {
			return nil, nil
		}
	}
	c := &WriteFile{Path: path, New: data, Mode: mode}
	if exists {
		c.Old = old
		if c.Old == nil {
			c.Old = []byte{}
		}
	}
	return c, nil
}

// Sysctl sets a kernel parameter on the running system.
type Sysctl struct {
	Key, Value, Old string
}

func (c *Sysctl) Summary() string {
	return fmt.Sprintf("sysctl %s=%s (now %s)", c.Key, c.Value, orNone(c.Old))
}

func (c *Sysctl) Apply(_ context.Context, h *host.Host) error {
	return h.Live.SetSysctl(c.Key, c.Value)
}

// LoadModule loads a kernel module now.
type LoadModule struct{ Name string }

func (c *LoadModule) Summary() string { return "load kernel module " + c.Name }

func (c *LoadModule) Apply(_ context.Context, h *host.Host) error {
	return h.Live.LoadModule(c.Name)
}

// Swapoff turns off one active swap area.
type Swapoff struct{ Path string }

func (c *Swapoff) Summary() string { return "swapoff " + c.Path }

func (c *Swapoff) Apply(_ context.Context, h *host.Host) error { return h.Live.Swapoff(c.Path) }

// SetEnforce switches SELinux between enforcing and permissive now.
type SetEnforce struct{ Enforcing bool }

func (c *SetEnforce) Summary() string {
	if c.Enforcing {
		return "setenforce 1 (enforcing)"
	}
	return "setenforce 0 (permissive)"
}

func (c *SetEnforce) Apply(_ context.Context, h *host.Host) error {
	return h.Live.SetEnforce(c.Enforcing)
}

// UnitAction is a systemd operation over D-Bus.
type UnitAction struct {
	Action string // "enable", "mask", "restart", "daemon-reload"
	Unit   string
	Why    string // when the action is not obvious ("it is not running")
}

func (c *UnitAction) Summary() string {
	s := strings.TrimSpace("systemd " + c.Action + " " + c.Unit)
	if c.Why != "" {
		s += " (" + c.Why + ")"
	}
	return s
}

func (c *UnitAction) Apply(ctx context.Context, h *host.Host) error {
	switch c.Action {
	case "enable":
		// The links systemd makes are recorded as ours, for reset. A crash
		// between the two leaves a link reset keeps; the re-run finds the
		// unit enabled.
		links, err := h.Systemd.Enable(ctx, c.Unit)
		for _, l := range links {
			err = errors.Join(err, h.FS.RecordCreated(l))
		}
		return err
	case "mask":
		// The mask is a link in the unit's place in /etc/systemd/system,
		// over whatever is there: that is backed up first, for reset.
		if err := h.FS.RecordOriginal(path.Join("/etc/systemd/system", c.Unit)); err != nil {
			return err
		}
		return h.Systemd.Mask(ctx, c.Unit)
	case "restart":
		return h.Systemd.Restart(ctx, c.Unit)
	case "daemon-reload":
		return h.Systemd.DaemonReload(ctx)
	}
	return fmt.Errorf("unknown systemd action %q", c.Action)
}

// Command runs a program (argv, never a shell string).
type Command struct {
	Argv []string
	Why  string
}

func (c *Command) Summary() string {
	s := "run " + strings.Join(c.Argv, " ")
	if c.Why != "" {
		s += " (" + c.Why + ")"
	}
	return s
}

func (c *Command) Apply(ctx context.Context, h *host.Host) error {
	return h.Exec.Run(ctx, host.Cmd{Argv: c.Argv})
}

// Func is a change whose work is code of the step itself (a pull through
// the containerd client, a wait until a daemon answers). Use it only when
// none of the data changes above fits.
type Func struct {
	Text string
	Do   func(ctx context.Context, h *host.Host) error
}

func (c *Func) Summary() string { return c.Text }

func (c *Func) Apply(ctx context.Context, h *host.Host) error { return c.Do(ctx, h) }

func orNone(s string) string {
	if s == "" {
		return "unset"
	}
	return s
}

// Plan is what one step would do on this host.
type Plan struct {
	Changes []Change
	// Notes tell what the plan deliberately leaves out or could not keep:
	// live operations skipped under --root, katacli not written, comments lost.
	Notes []string
	// Unsolved are problems the step leaves to the operator without
	// stopping the run: the node works only in part until they are fixed
	// (Kata not installed: runc pods run, Kata pods do not).
	Unsolved []Problem

	// groups are runs of Changes applied at once (AddConcurrent).
	groups []span
	// marks are milestones reached once the changes before them are
	// applied (Reach).
	marks []mark
}

// span is Changes[start:end].
type span struct{ start, end int }

// mark reaches m once Changes[:at] are applied.
type mark struct {
	at int
	m  *Milestone
}

// Add appends changes, skipping nil ones so planners can add PlanFile results directly.
func (p *Plan) Add(cs ...Change) {
	for _, c := range cs {
		if c == nil || isNilPointer(c) {
			continue
		}
		p.Changes = append(p.Changes, c)
	}
}

// AddConcurrent appends changes that do not depend on one another: they
// are applied at once, each in its own goroutine, and the plan goes on
// once all have returned. Each stays a change of its own, listed, printed
// and logged. nil ones are skipped, as by Add.
func (p *Plan) AddConcurrent(cs ...Change) {
	start := len(p.Changes)
	p.Add(cs...)
	if len(p.Changes)-start > 1 {
		p.groups = append(p.groups, span{start, len(p.Changes)})
	}
}

// Reach says that m is reached once every change added so far is applied;
// later changes still apply after it. A nil m is no milestone.
func (p *Plan) Reach(m *Milestone) {
	if m != nil {
		p.marks = append(p.marks, mark{at: len(p.Changes), m: m})
	}
}

// Notef records a note.
func (p *Plan) Notef(format string, a ...any) { p.Notes = append(p.Notes, fmt.Sprintf(format, a...)) }

// Empty reports whether there is nothing to change.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }

// isNilPointer catches a typed nil such as a (*WriteFile)(nil) from PlanFile.
func isNilPointer(c Change) bool {
	v := reflect.ValueOf(c)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// Symlink makes Link point at Target.
type Symlink struct{ Target, Link string }

func (c *Symlink) Summary() string { return "link " + c.Link + " -> " + c.Target }

func (c *Symlink) Apply(_ context.Context, h *host.Host) error {
	_, err := h.FS.Symlink(c.Target, c.Link)
	return err
}

// Summaries lists the one-line summary of every change, in order.
func (p *Plan) Summaries() []string {
	out := make([]string, 0, len(p.Changes))
	for _, c := range p.Changes {
		out = append(out, c.Summary())
	}
	return out
}

// Apply applies the changes in order and stops at the first that fails (or
// when ctx ends), naming it.
func (p *Plan) Apply(ctx context.Context, h *host.Host) error { return p.ApplyTimed(ctx, h, nil) }

// ApplyTimed is Apply that tells done how long each applied change took
// (the runner logs it at debug level, to find a slow change). It may be
// called from several goroutines at once (a concurrent group), and it
// reaches each milestone of the plan once the changes before it are
// applied.
func (p *Plan) ApplyTimed(ctx context.Context, h *host.Host, done func(Change, time.Duration)) error {
	if done == nil {
		done = func(Change, time.Duration) {}
	}
	marks, groups := p.marks, p.groups
	for i := 0; i < len(p.Changes); {
		for ; len(marks) > 0 && marks[0].at <= i; marks = marks[1:] {
			marks[0].m.Reach()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		end := i + 1
		if len(groups) > 0 && groups[0].start == i {
			end, groups = groups[0].end, groups[1:]
		}
		if err := applyAll(ctx, h, p.Changes[i:end], done); err != nil {
			return err
		}
		i = end
	}
	for _, m := range marks {
		m.m.Reach()
	}
	return nil
}

// applyAll applies cs at once (one change: in this goroutine) and returns
// the errors of those that failed, each naming its change.
func applyAll(ctx context.Context, h *host.Host, cs []Change, done func(Change, time.Duration)) error {
	errs := make([]error, len(cs))
	apply := func(i int) {
		t0 := time.Now()
		if err := cs[i].Apply(ctx, h); err != nil {
			errs[i] = fmt.Errorf("%s: %w", cs[i].Summary(), err)
			return
		}
		done(cs[i], time.Since(t0))
	}
	if len(cs) == 1 {
		apply(0)
		return errs[0]
	}
	var wg sync.WaitGroup
	for i := range cs {
		wg.Go(func() { apply(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
