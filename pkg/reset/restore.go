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
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// ownDirs are directories only eksd-kata puts files in, deepest first:
// removed once the restore left them empty.
func ownDirs(h *host.Host) []string {
	b := h.FS.BackupDir()
	return []string{
		path.Join(b, "files"), path.Join(b, "created"), path.Join(b, "dirs"), b, path.Dir(b),
		"/etc/eksd-kata", "/var/log/eksd-kata",
	}
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
	units, ctrd := false, false
	for _, b := range backups {
		p.Add(&restoreFile{b: b})
		units = units || strings.HasPrefix(b.Path, "/etc/systemd/")
		ctrd = ctrd || b.Path == s.containerdConfig()
	}
	if len(backups) > 0 {
		p.Notef("kernel settings made now (sysctls, modules, swap off, SELinux) stay until the next boot, which reads the restored files")
		s.planDaemons(ctx, h, p, units, ctrd)
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

// planDaemons makes systemd and containerd read the restored files now.
func (s *RestoreStep) planDaemons(ctx context.Context, h *host.Host, p *plan.Plan, units, ctrd bool) {
	switch {
	case !units && !ctrd:
		return
	case !h.IsLive():
		p.Notef("daemon-reload and containerd restart: skipped (--root)")
		return
	case !h.Systemd.Running():
		p.Notef("daemon-reload and containerd restart: skipped, systemd is not running as PID 1")
		return
	}
	if units {
		p.Add(&plan.UnitAction{Action: "daemon-reload"})
	}
	if !ctrd {
		return
	}
	if st, err := h.Systemd.UnitState(ctx, containerd.Unit); err == nil && st.Active == "active" {
		p.Add(&plan.UnitAction{Action: "restart", Unit: containerd.Unit})
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
