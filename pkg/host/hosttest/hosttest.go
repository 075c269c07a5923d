// Package hosttest provides stand-ins for the parts of host.Host that a test
// machine cannot exercise for real (systemd as PID 1, loading modules, the
// running kernel), wired around a real host.FS over a temporary root.
package hosttest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// NewTestHost returns a Host over root (a fresh t.TempDir() when root is "")
// with a real FS and fakes for everything else: Exec is a *FakeRunner, Live a
// *FakeLive that also updates the fixture files under root, Systemd a
// *FakeSystemd that is running, Net a *FakeNetwork. IsLive reports true: the
// fixture plays a running machine whose kernel and systemd are the fakes.
func NewTestHost(t testing.TB, root string) *host.Host {
	t.Helper()
	if root == "" {
		root = t.TempDir()
	}
	fsys := host.NewFS(root)
	return &host.Host{
		FS:      fsys,
		Exec:    &FakeRunner{},
		Live:    &FakeLive{FS: fsys},
		Systemd: NewFakeSystemd(),
		Net:     &FakeNetwork{},
	}
}

// FakeLive records kernel changes. With FS set it also writes them into the
// fixture (/proc/sys, /proc/swaps, /sys/fs/selinux/enforce, /sys/module) so
// that a second plan sees a converged host.
type FakeLive struct {
	FS *host.FS
	// Errors makes a method fail, keyed by method name ("SetSysctl", "Swapoff",
	// "SetEnforce", "LoadModule").
	Errors map[string]error

	mu    sync.Mutex
	Calls []string // "SetSysctl net.ipv4.ip_forward=1", "LoadModule overlay", ...
}

func (f *FakeLive) record(method, arg string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls = append(f.Calls, method+" "+arg)
	return f.Errors[method]
}

// CallList returns a copy of the calls made so far.
func (f *FakeLive) CallList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.Calls...)
}

// fixtureWrite writes host path p under the fake's root without backups:
// kernel state is not a file reset restores.
func (f *FakeLive) fixtureWrite(p string, data []byte) error {
	if f.FS == nil {
		return nil
	}
	real, err := f.FS.Resolve(p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		return err
	}
	return os.WriteFile(real, data, 0o644)
}

func (f *FakeLive) SetSysctl(key, value string) error {
	if err := f.record("SetSysctl", key+"="+value); err != nil {
		return err
	}
	return f.fixtureWrite("/proc/sys/"+strings.ReplaceAll(key, ".", "/"), []byte(value+"\n"))
}

func (f *FakeLive) Swapoff(path string) error {
	if err := f.record("Swapoff", path); err != nil {
		return err
	}
	if f.FS == nil {
		return nil
	}
	b, err := f.FS.ReadFile("/proc/swaps")
	if err != nil {
		return fmt.Errorf("swapoff %s: %w", path, err)
	}
	var keep []string
	for i, line := range strings.SplitAfter(string(b), "\n") {
		if fields := strings.Fields(line); i > 0 && len(fields) > 0 && fields[0] == path {
			continue
		}
		keep = append(keep, line)
	}
	return f.fixtureWrite("/proc/swaps", []byte(strings.Join(keep, "")))
}

func (f *FakeLive) SetEnforce(enforcing bool) error {
	v := "0"
	if enforcing {
		v = "1"
	}
	if err := f.record("SetEnforce", v); err != nil {
		return err
	}
	return f.fixtureWrite("/sys/fs/selinux/enforce", []byte(v))
}

func (f *FakeLive) LoadModule(name string) error {
	if err := f.record("LoadModule", name); err != nil {
		return err
	}
	return f.fixtureWrite("/sys/module/"+strings.ReplaceAll(name, "-", "_")+"/initstate", []byte("live\n"))
}

// FakeSystemd holds unit states and records changes.
type FakeSystemd struct {
	NotRunning bool // Running() reports !NotRunning; methods then fail with host.ErrNoSystemd
	// Errors makes a method fail, keyed by method name ("UnitState", "Enable",
	// "Mask", "DaemonReload", "Restart").
	Errors map[string]error

	mu        sync.Mutex
	Units     map[string]host.UnitState // unknown units read as Load "not-found"
	Enabled   []string
	Masked    []string
	Restarted []string
	Reloads   int
	// Since is when each unit's main process started (Started); Restart
	// sets it to now.
	Since map[string]time.Time
}

// NewFakeSystemd returns a running systemd with no units.
func NewFakeSystemd() *FakeSystemd {
	return &FakeSystemd{Units: map[string]host.UnitState{}}
}

func (f *FakeSystemd) Running() bool { return !f.NotRunning }

// check is called with f.mu held.
func (f *FakeSystemd) check(method string) error {
	if f.NotRunning {
		return fmt.Errorf("%w: systemd is not running as PID 1 (no /run/systemd/system)", host.ErrNoSystemd)
	}
	return f.Errors[method]
}

func (f *FakeSystemd) state(unit string) host.UnitState {
	if f.Units == nil {
		f.Units = map[string]host.UnitState{}
	}
	s, ok := f.Units[unit]
	if !ok {
		return host.UnitState{Load: "not-found", Active: "inactive", Sub: "dead"}
	}
	return s
}

func (f *FakeSystemd) UnitState(_ context.Context, unit string) (host.UnitState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("UnitState"); err != nil {
		return host.UnitState{}, err
	}
	return f.state(unit), nil
}

// Enable reports the link systemctl enable makes for a unit wanted by
// multi-user.target, for each unit not enabled yet (no file is made).
func (f *FakeSystemd) Enable(_ context.Context, units ...string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("Enable"); err != nil {
		return nil, err
	}
	var links []string
	for _, u := range units {
		s := f.state(u)
		if s.UnitFileState != "enabled" {
			links = append(links, "/etc/systemd/system/multi-user.target.wants/"+u)
		}
		s.Load, s.UnitFileState = "loaded", "enabled"
		f.Units[u] = s
	}
	f.Enabled = append(f.Enabled, units...)
	return links, nil
}

func (f *FakeSystemd) Mask(_ context.Context, units ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("Mask"); err != nil {
		return err
	}
	for _, u := range units {
		s := f.state(u)
		s.Load, s.UnitFileState = "masked", "masked"
		f.Units[u] = s
	}
	f.Masked = append(f.Masked, units...)
	f.Reloads++
	return nil
}

func (f *FakeSystemd) DaemonReload(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("DaemonReload"); err != nil {
		return err
	}
	f.Reloads++
	return nil
}

func (f *FakeSystemd) Restart(_ context.Context, unit string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("Restart"); err != nil {
		return err
	}
	s := f.state(unit)
	if s.Load == "not-found" || s.Load == "masked" {
		return fmt.Errorf("restart %s: unit %s", unit, s.Load)
	}
	s.Active, s.Sub, s.InMemory = "active", "running", true
	f.Units[unit] = s
	f.Restarted = append(f.Restarted, unit)
	if f.Since == nil {
		f.Since = map[string]time.Time{}
	}
	f.Since[unit] = time.Now()
	return nil
}

func (f *FakeSystemd) Started(_ context.Context, unit string) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("Started"); err != nil {
		return time.Time{}, err
	}
	if f.state(unit).Active != "active" {
		return time.Time{}, nil
	}
	return f.Since[unit], nil
}

// FakeNetwork returns a fixed default route.
type FakeNetwork struct {
	Route host.Route
	Err   error
}

func (f *FakeNetwork) DefaultRoute() (host.Route, error) { return f.Route, f.Err }

// FakeResult is the scripted outcome of one command.
type FakeResult struct {
	Stdout, Stderr string
	Err            error
}

// FakeRunner records every argv and plays scripted results, keyed by the argv
// joined with single spaces. Unscripted commands succeed with no output,
// unless Strict is set.
type FakeRunner struct {
	Results map[string]FakeResult
	Strict  bool

	mu    sync.Mutex
	Calls []host.Cmd
}

// Script sets the result of argv.
func (f *FakeRunner) Script(res FakeResult, argv ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Results == nil {
		f.Results = map[string]FakeResult{}
	}
	f.Results[strings.Join(argv, " ")] = res
}

// Argvs returns the argv of every call so far, in order.
func (f *FakeRunner) Argvs() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([][]string, len(f.Calls))
	for i, c := range f.Calls {
		out[i] = c.Argv
	}
	return out
}

func (f *FakeRunner) Run(_ context.Context, c host.Cmd) error {
	f.mu.Lock()
	c.Argv = append([]string(nil), c.Argv...)
	f.Calls = append(f.Calls, c)
	res, ok := f.Results[strings.Join(c.Argv, " ")]
	f.mu.Unlock()
	if !ok && f.Strict {
		return fmt.Errorf("unexpected command: %q", c.Argv)
	}
	if c.Stdout != nil && res.Stdout != "" {
		if _, err := c.Stdout.Write([]byte(res.Stdout)); err != nil {
			return err
		}
	}
	if c.Stderr != nil && res.Stderr != "" {
		if _, err := c.Stderr.Write([]byte(res.Stderr)); err != nil {
			return err
		}
	}
	if res.Err != nil && c.Stderr == nil && res.Stderr != "" {
		return fmt.Errorf("%s: %w: %s", c.Argv[0], res.Err, strings.TrimSpace(res.Stderr))
	}
	return res.Err
}

var (
	_ host.Live    = (*FakeLive)(nil)
	_ host.Systemd = (*FakeSystemd)(nil)
	_ host.Network = (*FakeNetwork)(nil)
	_ host.Runner  = (*FakeRunner)(nil)
)
