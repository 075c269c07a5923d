// Package host is the only package that touches the operating system: files
// under a root prefix (through directory handles that cannot leave it),
// processes, kernel state, systemd, netlink, the containerd socket and the
// read-only probes of devices and endpoints (probes.go). Every other
// package receives a *Host, so it can be pointed at a fixture tree or at an
// offline node image (--root) instead of the running machine.
//
// Downloads are the other boundary, declared as such: package
// release/fetch is the only code that fetches from the network (release
// manifests, node binaries, Kata tarballs).
package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrNotLive is returned by operations on the running kernel or systemd when
// the host root is not "/": the caller reports the step as skipped (--root).
var ErrNotLive = errors.New("not the running system (--root): skipped")

// ErrNoSystemd is wrapped by every systemd operation when systemd is not PID 1
// or cannot be reached over D-Bus.
var ErrNoSystemd = errors.New("systemd is not available")

// Host bundles everything that touches the machine.
type Host struct {
	// Offline marks a host file system that is not the running machine
	// (--root): live operations are skipped and not even planned.
	Offline bool

	FS      *FS
	Exec    Runner
	Live    Live // kernel operations on the running system
	Systemd Systemd
	Net     Network
}

// New returns a Host for root ("/" = the running machine). Under another root,
// Live, Systemd and Net return ErrNotLive for everything that would reach the
// running system; Exec still runs processes on this machine.
func New(root string) (*Host, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("host root %q: %w", root, err)
	}
	// Resolve symlinks in the root itself: securejoin expects a root free of
	// them, and "/tmp/x -> /" must behave as the live machine would.
	abs, err = filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("host root: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("host root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("host root %s: not a directory", abs)
	}
	h := &Host{FS: NewFS(abs), Exec: ExecRunner{}, Offline: abs != "/"}
	if h.IsLive() {
		h.Live = liveKernel{run: h.Exec}
		h.Systemd = &dbusSystemd{root: abs}
		h.Net = Netlink{}
	} else {
		h.Live = offlineKernel{}
		h.Systemd = offlineSystemd{}
		h.Net = offlineNetwork{}
	}
	return h, nil
}

// Root is the absolute, cleaned directory the host file system lives under.
func (h *Host) Root() string { return h.FS.Root() }

// IsLive reports whether the host is a running machine whose kernel and
// systemd may be changed: the real one (root "/"), or a test host whose Live
// and Systemd are fakes over a fixture tree.
func (h *Host) IsLive() bool { return !h.Offline }

// FaultPoint marks a point where a crash must leave the host recoverable
// (FS.SetFault).
func (h *Host) FaultPoint(point string) { h.FS.FaultPoint(point) }
