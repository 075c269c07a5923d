package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

// restartTimeout bounds Restart when the caller's context has no deadline.
const restartTimeout = 2 * time.Minute

// restartPoll is how often Restart looks at ActiveState after the job is done.
const restartPoll = 250 * time.Millisecond

// UnitState is a unit's state as systemctl shows it.
type UnitState struct {
	Load          string // loaded, not-found, masked
	Active        string // active, inactive, failed, activating
	Sub           string // running, dead, exited
	UnitFileState string // enabled, disabled, masked, static
	// InMemory: systemd holds the unit now (loaded, running, or a
	// not-found stub something refers to), so changed unit files take
	// effect only after a daemon-reload. A unit it does not hold is read
	// from disk when first used.
	InMemory bool
}

// Masked: systemd will not start the unit (masked on disk, or loaded so).
func (s UnitState) Masked() bool { return s.Load == "masked" || s.UnitFileState == "masked" }

// Systemd manages units over D-Bus.
type Systemd interface {
	Running() bool // systemd is PID 1
	UnitState(ctx context.Context, unit string) (UnitState, error)
	// Enable returns the symlinks it made, so that they can be recorded.
	Enable(ctx context.Context, units ...string) (links []string, err error)
	Mask(ctx context.Context, units ...string) error
	DaemonReload(ctx context.Context) error
	Restart(ctx context.Context, unit string) error
	// Started is when the main process of a service unit started; zero
	// when none runs.
	Started(ctx context.Context, unit string) (time.Time, error)
}

// dbusSystemd talks to systemd over D-Bus (go-systemd), never via systemctl.
type dbusSystemd struct {
	root string // where to look for /run/systemd/system
	mu   sync.Mutex
	conn *dbus.Conn
}

// Running is sd_booted(3): systemd as PID 1 creates /run/systemd/system.
func (s *dbusSystemd) Running() bool {
	fi, err := os.Stat(filepath.Join(s.root, "run/systemd/system"))
	return err == nil && fi.IsDir()
}

// connect opens the connection on first use: most runs (check, --dry-run)
// never need it, and a host without systemd must still get that far.
func (s *dbusSystemd) connect(ctx context.Context) (*dbus.Conn, error) {
	if !s.Running() {
		return nil, fmt.Errorf("%w: systemd is not running as PID 1 (no /run/systemd/system)", ErrNoSystemd)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil && s.conn.Connected() {
		return s.conn, nil
	}
	conn, err := dbus.NewWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: connect to systemd over D-Bus: %w", ErrNoSystemd, err)
	}
	s.conn = conn
	return conn, nil
}

func (s *dbusSystemd) UnitState(ctx context.Context, unit string) (UnitState, error) {
	conn, err := s.connect(ctx)
	if err != nil {
		return UnitState{}, err
	}
	// First, as the properties call below loads the unit: asking for a
	// unit's properties makes systemd read it (and drop a not-found stub
	// again at once), ListUnitsByPatterns only lists what it holds.
	inMemory, err := holds(ctx, conn, unit)
	if err != nil {
		return UnitState{}, fmt.Errorf("state of %s: %w", unit, err)
	}
	props, err := conn.GetUnitPropertiesContext(ctx, unit)
	if err != nil {
		return UnitState{}, fmt.Errorf("state of %s: %w", unit, err)
	}
	str := func(k string) string { v, _ := props[k].(string); return v }
	return UnitState{Load: str("LoadState"), Active: str("ActiveState"), Sub: str("SubState"), UnitFileState: str("UnitFileState"), InMemory: inMemory}, nil
}

// holds tells whether systemd holds unit in memory. systemd before 230
// has no ListUnitsByPatterns: then assume it does, which costs a reload.
func holds(ctx context.Context, conn *dbus.Conn, unit string) (bool, error) {
	units, err := conn.ListUnitsByPatternsContext(ctx, nil, []string{unit})
	var unknown godbus.Error
	if errors.As(err, &unknown) && unknown.Name == "org.freedesktop.DBus.Error.UnknownMethod" {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(units, func(u dbus.UnitStatus) bool { return u.Name == unit }), nil
}

// Enable links the units' [Install] targets. Unlike systemctl enable it
// does not reload systemd: the caller plans a daemon-reload when systemd
// holds one of the units (UnitState.InMemory); one it does not hold is read
// from disk, links included, when first used.
func (s *dbusSystemd) Enable(ctx context.Context, units ...string) ([]string, error) {
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	_, changes, err := conn.EnableUnitFilesContext(ctx, units, false, true)
	if err != nil {
		return nil, fmt.Errorf("enable %s: %w", strings.Join(units, " "), err)
	}
	var links []string
	for _, c := range changes {
		if c.Type == "symlink" {
			links = append(links, c.Filename)
		}
	}
	return links, nil
}

// Mask also reloads, as systemctl mask does, so the mask takes effect now.
func (s *dbusSystemd) Mask(ctx context.Context, units ...string) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	if _, err := conn.MaskUnitFilesContext(ctx, units, false, true); err != nil {
		return fmt.Errorf("mask %s: %w", strings.Join(units, " "), err)
	}
	return s.reload(ctx, conn)
}

func (s *dbusSystemd) DaemonReload(ctx context.Context) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	return s.reload(ctx, conn)
}

func (s *dbusSystemd) reload(ctx context.Context, conn *dbus.Conn) error {
	if err := conn.ReloadContext(ctx); err != nil {
		return fmt.Errorf("daemon-reload: %w", err)
	}
	return nil
}

// jobContext bounds a unit job by restartTimeout unless ctx has a deadline.
func jobContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, restartTimeout)
}

// waitJob waits for the result of a job systemd queued for unit.
func waitJob(ctx context.Context, verb, unit string, done <-chan string) error {
	select {
	case result := <-done:
		if result != "done" {
			return fmt.Errorf("%s %s: job %s", verb, unit, result)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s %s: %w", verb, unit, ctx.Err())
	}
}

// Restart restarts unit and waits until it is active: a finished job only
// means systemd started it, not that it stayed up.
func (s *dbusSystemd) Restart(ctx context.Context, unit string) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := jobContext(ctx)
	defer cancel()
	done := make(chan string, 1)
	if _, err := conn.RestartUnitContext(ctx, unit, "replace", done); err != nil {
		return fmt.Errorf("restart %s: %w", unit, err)
	}
	if err := waitJob(ctx, "restart", unit, done); err != nil {
		return err
	}
	tick := time.NewTicker(restartPoll)
	defer tick.Stop()
	for {
		p, err := conn.GetUnitPropertyContext(ctx, unit, "ActiveState")
		if err != nil {
			return fmt.Errorf("restart %s: %w", unit, err)
		}
		switch state, _ := p.Value.Value().(string); state {
		case "active":
			return nil
		case "failed":
			return fmt.Errorf("restart %s: unit failed (see journalctl -u %s)", unit, unit)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("restart %s: not active: %w", unit, ctx.Err())
		}
	}
}

func (s *dbusSystemd) Started(ctx context.Context, unit string) (time.Time, error) {
	conn, err := s.connect(ctx)
	if err != nil {
		return time.Time{}, err
	}
	p, err := conn.GetServicePropertyContext(ctx, unit, "ExecMainStartTimestamp")
	if err != nil {
		return time.Time{}, fmt.Errorf("start time of %s: %w", unit, err)
	}
	us, _ := p.Value.Value().(uint64) // microseconds since the epoch; 0: not running
	if us == 0 {
		return time.Time{}, nil
	}
	return time.UnixMicro(int64(us)), nil
}

// offlineSystemd stands in for Systemd under --root: the systemd of this
// machine is not the image's.
type offlineSystemd struct{}

func (offlineSystemd) Running() bool { return false }

func (offlineSystemd) UnitState(_ context.Context, unit string) (UnitState, error) {
	return UnitState{}, fmt.Errorf("state of %s: %w", unit, ErrNotLive)
}

func (offlineSystemd) Enable(_ context.Context, units ...string) ([]string, error) {
	return nil, fmt.Errorf("enable %s: %w", strings.Join(units, " "), ErrNotLive)
}

func (offlineSystemd) Mask(_ context.Context, units ...string) error {
	return fmt.Errorf("mask %s: %w", strings.Join(units, " "), ErrNotLive)
}

func (offlineSystemd) DaemonReload(context.Context) error {
	return fmt.Errorf("daemon-reload: %w", ErrNotLive)
}

func (offlineSystemd) Restart(_ context.Context, unit string) error {
	return fmt.Errorf("restart %s: %w", unit, ErrNotLive)
}

func (offlineSystemd) Started(_ context.Context, unit string) (time.Time, error) {
	return time.Time{}, fmt.Errorf("start time of %s: %w", unit, ErrNotLive)
}
