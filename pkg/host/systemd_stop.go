package host

import (
	"context"
	"fmt"
	"strings"
)

// UnitStopper is the part of systemd only reset needs. It is separate from
// Systemd so that existing fakes need not grow; callers type-assert.
type UnitStopper interface {
	// Stop stops unit and waits for the job to finish.
	Stop(ctx context.Context, unit string) error
	// Disable removes the units' enablement symlinks and reloads.
	Disable(ctx context.Context, units ...string) error
}

func (s *dbusSystemd) Stop(ctx context.Context, unit string) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := jobContext(ctx)
	defer cancel()
	done := make(chan string, 1)
	if _, err := conn.StopUnitContext(ctx, unit, "replace", done); err != nil {
		return fmt.Errorf("stop %s: %w", unit, err)
	}
	return waitJob(ctx, "stop", unit, done)
}

func (s *dbusSystemd) Disable(ctx context.Context, units ...string) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	if _, err := conn.DisableUnitFilesContext(ctx, units, false); err != nil {
		return fmt.Errorf("disable %s: %w", strings.Join(units, " "), err)
	}
	return s.reload(ctx, conn)
}

func (offlineSystemd) Stop(_ context.Context, unit string) error {
	return fmt.Errorf("stop %s: %w", unit, ErrNotLive)
}

func (offlineSystemd) Disable(_ context.Context, units ...string) error {
	return fmt.Errorf("disable %s: %w", strings.Join(units, " "), ErrNotLive)
}

var (
	_ UnitStopper = (*dbusSystemd)(nil)
	_ UnitStopper = offlineSystemd{}
)
