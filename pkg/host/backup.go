package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

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

// Backups lists every recorded original: files sorted by path, then the
// directories we created, deepest first, so that restoring them in this
// order empties each directory before it is removed.
func (f *FS) Backups() ([]Backup, error) {
	var out []Backup
	for _, kind := range []string{"files", "created"} {
		err := f.walkBackups(kind, func(hp string, d fs.DirEntry) error {
			if d.IsDir() || isTempName(d.Name()) { // a crashed backup write
				return nil
			}
			b := Backup{Path: hp, Created: kind == "created"}
			if !b.Created {
				fi, err := d.Info()
				if err != nil {
					return err
				}
				b.Mode = fi.Mode() & (modeBits | fs.ModeSymlink)
			}
			out = append(out, b)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	var dirs []Backup
	err := f.walkBackups("dirs", func(hp string, d fs.DirEntry) error {
		if !d.IsDir() && d.Name() == dirMarker {
			dirs = append(dirs, Backup{Path: path.Dir(hp), Created: true, Dir: true})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(dirs, func(i, j int) bool { return dirs[i].Path > dirs[j].Path })
	return append(out, dirs...), nil
}

// walkBackups calls fn for every entry under the backup's kind/ tree (a
// missing tree has none), with the host path the entry stands for.
func (f *FS) walkBackups(kind string, fn func(hp string, d fs.DirEntry) error) error {
	top, err := f.Resolve(filepath.Join(f.backupDir(), kind))
	if err != nil {
		return err
	}
	err = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == top && isNotExist(err) {
				return nil
			}
			return err
		}
		return fn(strings.TrimPrefix(p, top), d)
	})
	if err != nil {
		return fmt.Errorf("list backups: %w", err)
	}
	return nil
}

// Restore puts the original of p back (bytes, mode and owner, or the symlink),
// or deletes p if we created it, then drops the backup entry. p is a path as
// Backups lists it; its last component is not followed.
func (f *FS) Restore(p string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.locate(p, false)
	if err != nil {
		return err
	}
	defer s.close()
	hp := s.host()
	if marker := f.createdDirMarker(hp); f.exists(marker) {
		// A directory we created goes once empty; what someone else put
		// in it stays, and so does the directory.
		if err := s.remove(); err != nil && !isNotExist(err) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("restore %s: %w", hp, err)
		}
		return f.dropEntry(marker, "dirs")
	}
	files, created := f.backupEntries(hp)
	if f.exists(created) {
		if err := s.remove(); err != nil && !isNotExist(err) {
			return fmt.Errorf("restore %s: %w", hp, err)
		}
		return f.dropEntry(created, "created")
	}
	e, err := f.locate(files, false)
	if err != nil {
		return fmt.Errorf("restore %s: %w", hp, err)
	}
	defer e.close()
	fi, err := e.lstat()
	if isNotExist(err) {
		return fmt.Errorf("restore %s: no backup: %w", hp, fs.ErrNotExist)
	}
	if err != nil {
		return fmt.Errorf("restore %s: %w", hp, err)
	}
	if err := f.makeParents(s, false); err != nil {
		return fmt.Errorf("restore %s: %w", hp, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		var target string
		if target, err = readlinkAt(e.dir, e.name); err == nil {
			err = symlinkAt(s.dir, s.name, target)
		}
	} else {
		var data []byte
		if data, err = e.readFile(); err == nil {
			uid, gid := owner(fi)
			err = f.writeAtomic(s.dir, s.name, data, fi.Mode()&modeBits, uid, gid)
		}
	}
	if err != nil {
		return fmt.Errorf("restore %s: %w", hp, err)
	}
	return f.dropEntry(files, "files")
}

// exists reports whether host path p is there, not following a last symlink.
func (f *FS) exists(p string) bool {
	_, err := f.Lstat(p)
	return err == nil
}

// remove removes the entry of s as os.Remove would; nothing to remove is
// ErrNotExist.
func (s *spot) remove() error {
	if len(s.missing) > 0 {
		return &os.PathError{Op: "remove", Path: s.host(), Err: unix.ENOENT}
	}
	return removeAt(s.dir, s.name)
}

// dropEntry removes a backup entry (a host path) and the directories it
// leaves empty.
func (f *FS) dropEntry(entry, kind string) error {
	s, err := f.locate(entry, false)
	if err == nil {
		err = s.remove()
		s.close()
	}
	if err != nil {
		return fmt.Errorf("drop backup %s: %w", entry, err)
	}
	top := path.Join(f.backupDir(), kind)
	for d := path.Dir(entry); d != top && strings.HasPrefix(d, top+"/"); d = path.Dir(d) {
		if f.rmdir(d) != nil {
			break // not empty: pruning is tidiness only
		}
	}
	return nil
}

// rmdir removes the empty directory at host path p, not following a last
// symlink.
func (f *FS) rmdir(p string) error {
	s, err := f.locate(p, false)
	if err != nil {
		return err
	}
	defer s.close()
	if len(s.missing) > 0 {
		return &os.PathError{Op: "rmdir", Path: s.host(), Err: unix.ENOENT}
	}
	if err := unix.Unlinkat(s.dir.fd(), s.name, unix.AT_REMOVEDIR); err != nil {
		return &os.PathError{Op: "rmdir", Path: s.host(), Err: err}
	}
	return nil
}
