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
	real, err := f.resolveParent(p)
	if err != nil {
		return err
	}
	hp := f.hostPath(real)
	if marker, err := f.createdDirMarker(hp); err != nil {
		return err
	} else if _, err := os.Lstat(marker); err == nil {
		// A directory we created goes once empty; what someone else put
		// in it stays, and so does the directory.
		if err := os.Remove(real); err != nil && !isNotExist(err) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("restore %s: %w", hp, err)
		}
		return f.dropEntry(marker, "dirs")
	}
	files, created, err := f.backupEntries(hp)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(created); err == nil {
		if err := os.Remove(real); err != nil && !isNotExist(err) {
			return fmt.Errorf("restore %s: %w", hp, err)
		}
		return f.dropEntry(created, "created")
	}
	fi, err := os.Lstat(files)
	if isNotExist(err) {
		return fmt.Errorf("restore %s: no backup: %w", hp, fs.ErrNotExist)
	}
	if err != nil {
		return fmt.Errorf("restore %s: %w", hp, err)
	}
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		return fmt.Errorf("restore %s: %w", hp, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		err = restoreSymlink(files, real)
	} else {
		var data []byte
		if data, err = os.ReadFile(files); err == nil {
			uid, gid := owner(fi)
			err = writeAtomic(real, data, fi.Mode()&modeBits, uid, gid)
		}
	}
	if err != nil {
		return fmt.Errorf("restore %s: %w", hp, err)
	}
	return f.dropEntry(files, "files")
}

// restoreSymlink recreates the symlink entry at real via a temp name and a
// rename, so that real is never missing in between.
func restoreSymlink(entry, real string) error {
	target, err := os.Readlink(entry)
	if err != nil {
		return err
	}
	dir, base := filepath.Split(real)
	tmp := filepath.Join(dir, "."+base+tmpInfix+"link.tmp")
	if err := os.Remove(tmp); err != nil && !isNotExist(err) {
		return err
	}
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, real); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// dropEntry removes a backup entry and the directories it leaves empty.
func (f *FS) dropEntry(entry, kind string) error {
	if err := os.Remove(entry); err != nil {
		return fmt.Errorf("drop backup %s: %w", entry, err)
	}
	top, err := f.Resolve(filepath.Join(f.backupDir(), kind))
	if err != nil {
		return err
	}
	for dir := filepath.Dir(entry); dir != top && strings.HasPrefix(dir, top+"/"); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break // not empty: pruning is tidiness only
		}
	}
	return nil
}
