package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestNewOfflineRoot(t *testing.T) {
	root := t.TempDir()
	h, err := New(root + "/./sub/..")
	if err != nil {
		t.Fatal(err)
	}
	if h.Root() != root || h.FS.Root() != root || h.IsLive() {
		t.Fatalf("Root = %s IsLive = %v, want %s and false", h.Root(), h.IsLive(), root)
	}

	for name, err := range map[string]error{
		"SetSysctl":  h.Live.SetSysctl("net.ipv4.ip_forward", "1"),
		"Swapoff":    h.Live.Swapoff("/dev/sda2"),
		"SetEnforce": h.Live.SetEnforce(false),
		"LoadModule": h.Live.LoadModule("br_netfilter"),
		"Enable":     second(h.Systemd.Enable(context.Background(), "kubelet.service")),
		"Restart":    h.Systemd.Restart(context.Background(), "kubelet.service"),
	} {
		if !errors.Is(err, ErrNotLive) {
			t.Errorf("%s under --root: want ErrNotLive, got %v", name, err)
		}
	}
	if _, err := h.Net.DefaultRoute(); !errors.Is(err, ErrNotLive) {
		t.Errorf("DefaultRoute under --root: %v", err)
	}
	if h.Systemd.Running() {
		t.Error("systemd reported running for an offline root")
	}
	// Exec still runs on this machine.
	if out, err := Output(context.Background(), h.Exec, "true"); err != nil || len(out) != 0 {
		t.Errorf("Exec under --root: %q %v", out, err)
	}
}

func TestNewRejects(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{file, filepath.Join(dir, "missing")} {
		if _, err := New(root); err == nil {
			t.Errorf("New(%s) accepted", root)
		}
	}
}

func TestNewSymlinkedRoot(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	h, err := New(filepath.Join(dir, "link"))
	if err != nil || h.Root() != real {
		t.Fatalf("New(link) root = %v, %v; want %s", h, err, real)
	}
}

func TestNewLive(t *testing.T) {
	h, err := New("/")
	if err != nil {
		t.Fatal(err)
	}
	if !h.IsLive() || h.Root() != "/" {
		t.Fatalf("New(/): IsLive=%v Root=%s", h.IsLive(), h.Root())
	}
	if _, ok := h.Live.(liveKernel); !ok {
		t.Fatalf("Live under / is %T", h.Live)
	}
	if r, err := h.KernelRelease(); err != nil || r == "" {
		t.Fatalf("KernelRelease on the live machine: %q %v", r, err)
	}
}

func second[T any](_ T, err error) error { return err }
