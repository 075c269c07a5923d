package host

import (
	"fmt"
	"io/fs"
	"os"
)

// Owner returns the numeric owner of fi, or -1, -1 when the platform has none.
func Owner(fi fs.FileInfo) (uid, gid int) { return owner(fi) }

// Chown makes p (symlinks followed inside the root) owned by uid:gid and
// reports whether anything changed. A regular file is backed up once first,
// so reset brings the old owner back; directories are not backed up.
func (f *FS) Chown(p string, uid, gid int) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	real, err := f.Resolve(p)
	if err != nil {
		return false, err
	}
	fi, err := os.Lstat(real)
	if err != nil {
		return false, err
	}
	if u, g := owner(fi); u == uid && g == gid {
		return false, nil
	}
	if fi.Mode().IsRegular() {
		if err := f.backupOnce(real, fi); err != nil {
			return false, err
		}
	}
	if err := os.Chown(real, uid, gid); err != nil {
		return false, fmt.Errorf("chown %s: %w", p, err)
	}
	// chown clears setuid/setgid: put the mode back as it was.
	if fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
		if err := os.Chmod(real, fi.Mode()&modeBits); err != nil {
			return false, fmt.Errorf("chown %s: %w", p, err)
		}
	}
	return true, nil
}

// RemoveEmptyDir removes directory p if it is empty and reports whether it
// did; a missing or non-empty directory is left alone without error.
// Directories are not backed up: reset uses this to tidy its own.
func (f *FS) RemoveEmptyDir(p string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	real, err := f.resolveParent(p)
	if err != nil {
		return false, err
	}
	fi, err := os.Lstat(real)
	if isNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("remove %s: not a directory", p)
	}
	entries, err := os.ReadDir(real)
	if err != nil || len(entries) > 0 {
		return false, err
	}
	if err := os.Remove(real); err != nil {
		return false, err
	}
	return true, nil
}
