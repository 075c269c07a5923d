package reset

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/containerd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/owned"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	"github.com/eksd-kata/eksd-kata/pkg/runtimeinstall"
	"github.com/eksd-kata/eksd-kata/pkg/upgrade"
)

// ownDirs are directories only eksd-kata puts files in, deepest first:
// removed once the restore left them empty.
func ownDirs(h *host.Host) []string {
	b := h.FS.BackupDir()
	dirs := []string{path.Join(b, "files"), path.Join(b, "created"), path.Join(b, "dirs"), b}
	// What upgrades kept, one directory per release left (its files are
	// in the backup, as created).
	if entries, err := h.FS.ReadDir(upgrade.Dir); err == nil {
		for _, e := range entries {
			if e.IsDir() {
				dirs = append(dirs, path.Join(upgrade.Dir, e.Name()))
			}
		}
	}
	return append(dirs, upgrade.Dir, path.Dir(b), "/etc/eksd-kata", "/var/log/eksd-kata")
}

// RestoreStep puts back every file the backup holds (bytes, mode, owner)
// and removes the files eksd-kata created.
type RestoreStep struct {
	ContainerdConfig string
}

func (s *RestoreStep) Name() string { return "restore" }

func (s *RestoreStep) Plan(ctx context.Context, h *host.Host) (*plan.Plan, error) {
	p := &plan.Plan{}
	backups, err := h.FS.Backups()
	if errors.Is(err, host.ErrUntrustedState) {
		return nil, badinput.Wrap(err)
	}
	if err != nil {
		return nil, err
	}
	// A killed reset leaves directories its last entries were in.
	leftovers, err := h.FS.BackupLeftovers()
	if err != nil {
		return nil, err
	}
	var d daemons
	for _, b := range backups {
		d.units = d.units || strings.HasPrefix(b.Path, "/etc/systemd/")
		d.config = d.config || b.Path == s.containerdConfig()
		// eksd-kata's containerd: its unit, or its programs over another's.
		d.ours = d.ours || b.Path == owned.ContainerdUnitPath || b.Path == runtimeinstall.BinDir+"/containerd"
		d.unitCreated = d.unitCreated || b.Path == owned.ContainerdUnitPath && b.Created
	}
	if len(backups) > 0 {
		// A containerd eksd-kata installed where there was none loses its
		// programs and unit: stopped first, not left running deleted files.
		if d.stopped, err = s.planStop(ctx, h, p, d); err != nil {
			return nil, err
		}
	}
	for _, b := range backups {
		p.Add(&restoreFile{b: b})
	}
	if d.unitCreated && !packagedUnit(h) {
		p.Add(removeContainerdOpt())
	}
	if len(backups) > 0 {
		p.Notef("kernel settings made now (sysctls, modules, swap off, SELinux) stay until the next boot, which reads the restored files")
		s.planDaemons(ctx, h, p, d)
	}
	if dirs := existingOwnDirs(h); len(backups) > 0 && len(dirs) > 0 || len(leftovers) > 0 || emptyOwnDir(h) {
		p.Add(&removeDirs{dirs: dirs})
	}
	return p, nil
}

func (s *RestoreStep) containerdConfig() string {
	if s.ContainerdConfig != "" {
		return s.ContainerdConfig
	}
	return "/etc/containerd/config.toml"
}

// daemons is what the restore means for systemd and containerd.
type daemons struct {
	units       bool // unit files or links are restored
	config      bool // containerd's config.toml is restored
	ours        bool // eksd-kata's containerd goes (its programs or unit)
	unitCreated bool // and its unit was the only one in /etc/systemd/system
	stopped     bool // so it is stopped, for good
}

// packagedUnits are where a distribution's package puts containerd's unit.
var packagedUnits = []string{"/lib/systemd/system/" + containerd.Unit, "/usr/lib/systemd/system/" + containerd.Unit}

// packagedUnit reports whether a distribution's containerd unit is there.
func packagedUnit(h *host.Host) bool {
	for _, u := range packagedUnits {
		if ok, _ := h.FS.Exists(u); ok {
			return true
		}
	}
	return false
}

// containerdOptDirs are what containerd's opt plugin makes the first time
// it runs: a containerd eksd-kata installed where there was none leaves
// them behind unless reset takes them, once empty.
var containerdOptDirs = []string{"/opt/containerd/bin", "/opt/containerd/lib", "/opt/containerd"}

func removeContainerdOpt() plan.Change {
	return &plan.Func{
		Text: "remove containerd's " + strings.Join(containerdOptDirs, ", ") + " once empty (made by eksd-kata's containerd)",
		Do: func(_ context.Context, h *host.Host) error {
			for _, d := range containerdOptDirs {
				if fi, err := h.FS.Lstat(d); err != nil || !fi.IsDir() {
					continue // not there, or not containerd's
				}
				if _, err := h.FS.RemoveEmptyDir(d); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// planStop stops eksd-kata's containerd before its files go, when no
// other containerd takes its place: no packaged unit to fall back on.
func (s *RestoreStep) planStop(ctx context.Context, h *host.Host, p *plan.Plan, d daemons) (bool, error) {
	if !d.unitCreated || !h.IsLive() || !h.Systemd.Running() || packagedUnit(h) {
		return false, nil
	}
	st, err := h.Systemd.UnitState(ctx, containerd.Unit)
	if err != nil {
		return false, err
	}
	if st.Active != "active" && st.Active != "activating" && st.Active != "reloading" {
		return false, nil
	}
	p.Add(&unitChange{action: "stop", unit: containerd.Unit})
	return true, nil
}

// planDaemons makes systemd and containerd read the restored files now:
// a restored config.toml, or the host's own containerd back in place of
// eksd-kata's.
func (s *RestoreStep) planDaemons(ctx context.Context, h *host.Host, p *plan.Plan, d daemons) {
	switch {
	case !d.units && !d.config && !d.ours:
		return
	case !h.IsLive():
		p.Notef("daemon-reload and containerd restart: skipped (--root)")
		return
	case !h.Systemd.Running():
		p.Notef("daemon-reload and containerd restart: skipped, systemd is not running as PID 1")
		return
	}
	if d.units {
		p.Add(&plan.UnitAction{Action: "daemon-reload"})
	}
	if !d.config && !d.ours || d.stopped {
		return
	}
	if st, err := h.Systemd.UnitState(ctx, containerd.Unit); err == nil && st.Active == "active" && st.Load != "not-found" {
		why := ""
		if d.ours {
			why = "the host's own containerd in place of eksd-kata's"
		}
		p.Add(&plan.UnitAction{Action: "restart", Unit: containerd.Unit, Why: why})
	}
}

// existingOwnDirs are those of our directories that exist. A symlink in
// the place of one is someone else's, and is left alone.
func existingOwnDirs(h *host.Host) []string {
	var out []string
	for _, d := range ownDirs(h) {
		if fi, err := h.FS.Lstat(d); err == nil && fi.IsDir() {
			out = append(out, d)
		}
	}
	return out
}

// emptyOwnDir reports whether one of our directories is left, empty.
func emptyOwnDir(h *host.Host) bool {
	for _, d := range existingOwnDirs(h) {
		entries, err := h.FS.ReadDir(d)
		if err == nil && len(entries) == 0 {
			return true
		}
	}
	return false
}

// restoreFile brings back one original, or removes a file we created.
type restoreFile struct{ b host.Backup }

func (c *restoreFile) Summary() string {
	if c.b.Dir {
		return "remove directory " + c.b.Path + " once empty (created by eksd-kata)"
	}
	if c.b.Created {
		return "remove " + c.b.Path + " (created by eksd-kata)"
	}
	return fmt.Sprintf("restore %s (original content, mode %s)", c.b.Path, c.b.Mode)
}

func (c *restoreFile) Apply(_ context.Context, h *host.Host) error { return h.FS.Restore(c.b.Path) }

// removeDirs removes what is left of the backup tree, then those of dirs
// that are empty.
type removeDirs struct{ dirs []string }

func (c *removeDirs) Summary() string {
	return "remove eksd-kata's directories once empty: " + strings.Join(c.dirs, ", ")
}

func (c *removeDirs) Apply(_ context.Context, h *host.Host) error {
	if err := h.FS.PruneBackups(); err != nil {
		return err
	}
	for _, d := range c.dirs {
		removed, err := h.FS.RemoveEmptyDir(d)
		if err != nil {
			return err
		}
		if removed {
			h.FaultPoint("removed " + d)
		}
	}
	return nil
}
