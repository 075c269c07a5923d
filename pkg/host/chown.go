package host

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Owner returns the numeric owner of fi, or -1, -1 when the platform has none.
func Owner(fi fs.FileInfo) (uid, gid int) { return owner(fi) }

// Chown makes p (symlinks followed inside the root) owned by uid:gid and
// reports whether anything changed. A regular file is backed up once first,
// so reset brings the old owner back; directories are not backed up.
func (f *FS) Chown(p string, uid, gid int) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.locate(p, true)
	if err != nil {
		return false, err
	}
	defer s.close()
	// The entry itself, opened without following a symlink swapped in:
	// the changes go to what was checked. O_NONBLOCK: a FIFO must not hang.
	fh, err := s.open(unix.O_RDONLY | unix.O_NONBLOCK)
	if err != nil {
		return false, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return false, err
	}
	if u, g := owner(fi); u == uid && g == gid {
		return false, nil
	}
	if fi.Mode().IsRegular() {
		if err := f.backupOnce(s, fi); err != nil {
			return false, err
		}
	}
	if err := fh.Chown(uid, gid); err != nil {
		return false, fmt.Errorf("chown %s: %w", p, err)
	}
	// chown clears setuid/setgid: put the mode back as it was.
	if fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
		if err := fh.Chmod(fi.Mode() & modeBits); err != nil {
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
	s, err := f.locate(p, false)
	if isNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer s.close()
	fi, err := s.lstat()
	if isNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("remove %s: not a directory", p)
	}
	d, err := openDirAt(s.dir, s.name)
	if err != nil {
		return false, err
	}
	entries, err := d.ReadDir(1)
	d.Close()
	if len(entries) > 0 || (err != nil && !errors.Is(err, io.EOF)) {
		return false, err
	}
	if err := unix.Unlinkat(s.dir.fd(), s.name, unix.AT_REMOVEDIR); err != nil {
		return false, &os.PathError{Op: "remove", Path: s.host(), Err: err}
	}
	return true, nil
}
