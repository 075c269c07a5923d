package host

import (
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Symlink makes link point at target, backing up what was at link once
// (or recording that nothing was). A link already right is not touched.
func (f *FS) Symlink(target, link string) (changed bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.locate(link, false)
	if err != nil {
		return false, err
	}
	defer s.close()
	fi, err := s.lstat()
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		if cur, _ := readlinkAt(s.dir, s.name); cur == target {
			return false, nil
		}
	case err == nil && fi.IsDir():
		return false, fmt.Errorf("symlink %s: a directory is in the way", link)
	case err != nil && !isNotExist(err):
		return false, err
	}
	if isNotExist(err) {
		fi = nil
	}
	if err := f.backupOnce(s, fi); err != nil {
		return false, err
	}
	if err := f.makeParents(s, true); err != nil {
		return false, err
	}
	// Made beside and renamed over: atomic, like WriteFile.
	return true, symlinkAt(s.dir, s.name, target)
}

// Readlink returns the target of the symlink at p (not followed).
func (f *FS) Readlink(p string) (string, error) {
	s, err := f.locate(p, false)
	if err != nil {
		return "", err
	}
	defer s.close()
	if len(s.missing) > 0 {
		return "", &os.PathError{Op: "readlink", Path: s.host(), Err: unix.ENOENT}
	}
	return readlinkAt(s.dir, s.name)
}
