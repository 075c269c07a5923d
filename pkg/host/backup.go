package host

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// backupDir holds the originals of everything we changed, for reset:
// files/<path> is the original (bytes, mode, owner; or the symlink itself),
// created/<path> is an empty marker for a path that did not exist before.
const backupDir = "/var/lib/eksd-kata/backup"

// Backup is one recorded original.
type Backup struct {
	Path    string      // host path
	Created bool        // the path did not exist before our first change
	Mode    fs.FileMode // original mode (with fs.ModeSymlink for a symlink)
}

// BackupDir is the host path backups live under.
func (f *FS) BackupDir() string { return backupDir }

// backupEntries returns the real paths of the two possible backup entries of
// host path hp. The last component is not followed: an entry may be a symlink.
func (f *FS) backupEntries(hp string) (files, created string, err error) {
	if files, err = f.resolveParent(filepath.Join(backupDir, "files", hp)); err != nil {
		return "", "", err
	}
	if created, err = f.resolveParent(filepath.Join(backupDir, "created", hp)); err != nil {
		return "", "", err
	}
	return files, created, nil
}

// backupOnce records the original of real (fi == nil: it does not exist yet)
// unless a backup of it already exists: the first original is the one reset
// must bring back, later states are ours.
func (f *FS) backupOnce(real string, fi fs.FileInfo) error {
	hp := f.hostPath(real)
	if hp == backupDir || strings.HasPrefix(hp, backupDir+"/") {
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

// Backups lists every recorded original, sorted by path.
func (f *FS) Backups() ([]Backup, error) {
	var out []Backup
	for _, kind := range []string{"files", "created"} {
		top, err := f.Resolve(filepath.Join(backupDir, kind))
		if err != nil {
			return nil, err
		}
		err = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == top && isNotExist(err) {
					return nil
				}
				return err
			}
			if d.IsDir() || isTempName(d.Name()) { // a crashed backup write
				return nil
			}
			b := Backup{Path: strings.TrimPrefix(p, top), Created: kind == "created"}
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
			return nil, fmt.Errorf("list backups: %w", err)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
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
	top, err := f.Resolve(filepath.Join(backupDir, kind))
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
