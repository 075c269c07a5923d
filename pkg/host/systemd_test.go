package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSystemdNotRunning(t *testing.T) {
	root := t.TempDir()
	s := &dbusSystemd{root: root}
	if s.Running() {
		t.Fatal("Running() true without /run/systemd/system")
	}
	ctx := context.Background()
	_, stateErr := s.UnitState(ctx, "kubelet.service")
	for name, err := range map[string]error{
		"UnitState":    stateErr,
		"Enable":       second(s.Enable(ctx, "kubelet.service")),
		"Mask":         s.Mask(ctx, "swap.target"),
		"DaemonReload": s.DaemonReload(ctx),
		"Restart":      s.Restart(ctx, "containerd.service"),
	} {
		if !errors.Is(err, ErrNoSystemd) {
			t.Errorf("%s: want ErrNoSystemd, got %v", name, err)
		}
		if err == nil || !strings.Contains(err.Error(), "systemd is not running as PID 1 (no /run/systemd/system)") {
			t.Errorf("%s: unclear error %v", name, err)
		}
	}
	if s.conn != nil {
		t.Fatal("a D-Bus connection was opened without systemd")
	}

	if err := os.MkdirAll(filepath.Join(root, "run/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	if !s.Running() {
		t.Fatal("Running() false with /run/systemd/system present")
	}
}
