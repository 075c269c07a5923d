package host

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// defaultStateDir is eksd-kata's own state (the backup among it): reset
// removes it by name, so the directories made in it are not recorded.
const defaultStateDir = "/var/lib/eksd-kata"

// stateDir is the host path of eksd-kata's state (SetStateDir).
func (f *FS) stateDir() string {
	if f.state != "" {
		return f.state
	}
	return defaultStateDir
}

// backupDir holds the originals of everything we changed, for reset:
// files/<path> is the original (bytes, mode, owner; or the symlink itself),
// created/<path> is an empty marker for a path that did not exist before,
// dirs/<path>/.created one for a directory we created.
func (f *FS) backupDir() string { return path.Join(f.stateDir(), "backup") }

// SetStateDir keeps eksd-kata's state, the backups among it, in dir (a
// host path) instead of /var/lib/eksd-kata: for tests that change real
// paths of this machine without leaving records in its state.
func (f *FS) SetStateDir(dir string) { f.state = dir }

// dirMarker names the marker of a created directory in dirs/<path>/.
const dirMarker = ".created"

// Backup is one recorded original.
type Backup struct {
	Path    string      // host path
	Created bool        // the path did not exist before our first change
	Dir     bool        // a directory we created (Created is set too)
	Mode    fs.FileMode // original mode (with fs.ModeSymlink for a symlink)
}

// BackupDir is the host path backups live under.
func (f *FS) BackupDir() string { return f.backupDir() }

// backupEntries returns the host paths of the two possible backup entries
// of host path hp.
func (f *FS) backupEntries(hp string) (files, created string) {
	return path.Join(f.backupDir(), "files", hp), path.Join(f.backupDir(), "created", hp)
}

// backupOnce records the original at s (fi == nil: it does not exist yet)
// unless a backup of it already exists: the first original is the one reset
// must bring back, later states are ours.
func (f *FS) backupOnce(s *spot, fi fs.FileInfo) error {
	hp := s.host()
	if b := f.backupDir(); hp == b || strings.HasPrefix(hp, b+"/") {
		return nil
	}
	if err := f.checkState(); err != nil {
		return err
	}
	files, created := f.backupEntries(hp)
	for _, e := range []string{files, created} {
		if _, err := f.Lstat(e); err == nil {
			return nil
		} else if !isNotExist(err) {
			return fmt.Errorf("back up %s: %w", hp, err)
		}
	}
	if fi == nil {
		return f.writeMarker(created)
	}
	switch {
	case fi.Mode().IsRegular():
		data, err := s.readFile()
		if err != nil {
			return fmt.Errorf("back up %s: %w", hp, err)
		}
		uid, gid := owner(fi)
		return f.writeEntry(files, func(d *dir, name string) error {
			return f.writeAtomic(d, name, data, fi.Mode()&modeBits, uid, gid)
		})
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := readlinkAt(s.dir, s.name)
		if err != nil {
			return fmt.Errorf("back up %s: %w", hp, err)
		}
		// Creating a symlink is atomic already.
		return f.writeEntry(files, func(d *dir, name string) error {
			if err := unix.Symlinkat(target, d.fd(), name); err != nil {
				return &os.PathError{Op: "symlink", Path: path.Join(d.host, name), Err: err}
			}
			return nil
		})
	default:
		return fmt.Errorf("back up %s: not a regular file or symlink (%s)", hp, fi.Mode().Type())
	}
}

// writeMarker writes the empty backup entry at host path entry.
func (f *FS) writeMarker(entry string) error {
	return f.writeEntry(entry, func(d *dir, name string) error { return f.writeAtomic(d, name, nil, 0o600, -1, -1) })
}

// writeEntry makes the directories of backup entry (a host path) and calls
// write with the directory and name of the entry.
func (f *FS) writeEntry(entry string, write func(d *dir, name string) error) error {
	s, err := f.locate(entry, false)
	if err != nil {
		return fmt.Errorf("back up: %w", err)
	}
	defer s.close()
	// 0755 like any /var/lib directory: each entry keeps the original's mode.
	if err := f.makeParents(s, false); err != nil {
		return fmt.Errorf("back up: %w", err)
	}
	if err := write(s.dir, s.name); err != nil {
		return fmt.Errorf("back up: %w", err)
	}
	return nil
}

// mkdirRecorded opens directory p, creating it and its missing parents
// with perm, and recording each directory it creates before creating it (so
// a crash in between still leaves reset knowing it is ours): reset removes
// them once they are empty.
func (f *FS) mkdirRecorded(p string, perm fs.FileMode) (*dir, error) {
	// One at a time: two writes into the same new directory would race
	// to record it.
	f.dirsMu.Lock()
	defer f.dirsMu.Unlock()
	d, missing, err := f.lookup(p)
	if err != nil {
		return nil, err
	}
	return mkdirs(d, missing, perm, f.recordCreatedDir)
}

// makeParents creates the directories missing above the entry of s, 0755,
// and leaves s on the last of them; record records them as mkdirRecorded
// does.
func (f *FS) makeParents(s *spot, record bool) error {
	if len(s.missing) == 0 {
		return nil
	}
	var rec func(string) error
	if record {
		f.dirsMu.Lock()
		defer f.dirsMu.Unlock()
		rec = f.recordCreatedDir
	}
	d, err := mkdirs(s.dir, s.missing, 0o755, rec)
	if err != nil {
		return err
	}
	s.dir, s.missing = d, nil
	return nil
}

// recordCreatedDir records host directory hp as created by eksd-kata.
func (f *FS) recordCreatedDir(hp string) error {
	if sd := f.stateDir(); hp == sd || strings.HasPrefix(hp, sd+"/") {
		return nil
	}
	if err := f.checkState(); err != nil {
		return err
	}
	marker := f.createdDirMarker(hp)
	if _, err := f.Lstat(marker); err == nil {
		return nil
	}
	return f.writeMarker(marker)
}

// RecordCreated records p, made by something other than this FS (systemd
// linking a unit it enabled), as created by eksd-kata, so that reset
// removes it. A path with a recorded original keeps that record.
func (f *FS) RecordCreated(p string) error { return f.record(p, true) }

// RecordOriginal backs p up as it is now (a file, a symlink, or nothing),
// before something other than this FS changes it (systemd masking a unit
// by a link in its place), so that reset brings it back.
func (f *FS) RecordOriginal(p string) error { return f.record(p, false) }

func (f *FS) record(p string, created bool) error {
	s, err := f.locate(p, false)
	if err != nil {
		return err
	}
	defer s.close()
	var fi fs.FileInfo
	if !created {
		fi, err = s.lstat()
		switch {
		case isNotExist(err):
			fi = nil
		case err != nil:
			return err
		}
	}
	return f.backupOnceLocked(s, fi)
}

// createdDirMarker is the host path of the marker that records host
// directory hp as created by eksd-kata.
func (f *FS) createdDirMarker(hp string) string {
	return path.Join(f.backupDir(), "dirs", hp, dirMarker)
}
