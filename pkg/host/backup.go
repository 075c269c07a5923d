package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
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

// backupEntries returns the real paths of the two possible backup entries of
// host path hp. The last component is not followed: an entry may be a symlink.
func (f *FS) backupEntries(hp string) (files, created string, err error) {
	if files, err = f.resolveParent(filepath.Join(f.backupDir(), "files", hp)); err != nil {
		return "", "", err
	}
	if created, err = f.resolveParent(filepath.Join(f.backupDir(), "created", hp)); err != nil {
		return "", "", err
	}
	return files, created, nil
}

// backupOnce records the original of real (fi == nil: it does not exist yet)
// unless a backup of it already exists: the first original is the one reset
// must bring back, later states are ours.
func (f *FS) backupOnce(real string, fi fs.FileInfo) error {
	hp := f.hostPath(real)
	if b := f.backupDir(); hp == b || strings.HasPrefix(hp, b+"/") {
		return nil
	}
	files, created, err := f.backupEntries(hp)
	if err != nil {
		return err
	}
	for _, e := range []string{files, created} {
		if _, err := os.Lstat(e); err == nil {
			return nil
		} else if !isNotExist(err) {
			return fmt.Errorf("back up %s: %w", hp, err)
		}
	}
	if err := f.CheckState(); err != nil {
		return err
	}
	if fi == nil {
		return writeEntry(created, func() error { return writeAtomic(created, nil, 0o600, -1, -1) })
	}
	switch {
	case fi.Mode().IsRegular():
		data, err := os.ReadFile(real)
		if err != nil {
			return fmt.Errorf("back up %s: %w", hp, err)
		}
		uid, gid := owner(fi)
		return writeEntry(files, func() error { return writeAtomic(files, data, fi.Mode()&modeBits, uid, gid) })
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(real)
		if err != nil {
			return fmt.Errorf("back up %s: %w", hp, err)
		}
		// Creating a symlink is atomic already.
		return writeEntry(files, func() error { return os.Symlink(target, files) })
	default:
		return fmt.Errorf("back up %s: not a regular file or symlink (%s)", hp, fi.Mode().Type())
	}
}

func writeEntry(entry string, write func() error) error {
	// 0755 like any /var/lib directory: each entry keeps the original's mode.
	if err := os.MkdirAll(filepath.Dir(entry), 0o755); err != nil {
		return fmt.Errorf("back up: %w", err)
	}
	if err := write(); err != nil {
		return fmt.Errorf("back up: %w", err)
	}
	return nil
}

// mkdirRecorded creates directory real and its missing parents with perm,
// recording each directory it creates before creating it (so a crash in
// between still leaves reset knowing it is ours): reset removes them once
// they are empty.
func (f *FS) mkdirRecorded(real string, perm fs.FileMode) error {
	// One at a time: two writes into the same new directory would race
	// to record it.
	f.dirsMu.Lock()
	defer f.dirsMu.Unlock()
	var missing []string
	for d := real; ; d = filepath.Dir(d) {
		_, err := os.Lstat(d)
		if err == nil {
			break
		}
		if !isNotExist(err) {
			return err
		}
		missing = append(missing, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := f.recordCreatedDir(d); err != nil {
			return err
		}
		if err := os.Mkdir(d, perm); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

func (f *FS) recordCreatedDir(real string) error {
	hp := f.hostPath(real)
	if sd := f.stateDir(); hp == sd || strings.HasPrefix(hp, sd+"/") {
		return nil
	}
	marker, err := f.createdDirMarker(hp)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(marker); err == nil {
		return nil
	}
	if err := f.CheckState(); err != nil {
		return err
	}
	return writeEntry(marker, func() error { return writeAtomic(marker, nil, 0o600, -1, -1) })
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
	real, err := f.resolveParent(p)
	if err != nil {
		return err
	}
	var fi fs.FileInfo
	if !created {
		fi, err = os.Lstat(real)
		switch {
		case isNotExist(err):
			fi = nil
		case err != nil:
			return err
		}
	}
	return f.backupOnceLocked(real, fi)
}

// createdDirMarker is the real path of the marker that records host
// directory hp as created by eksd-kata.
func (f *FS) createdDirMarker(hp string) (string, error) {
	return f.resolveParent(filepath.Join(f.backupDir(), "dirs", hp, dirMarker))
}
