package host

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

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

// TreeEntry maps a tar entry name to a path inside the installed tree; ok
// false skips the entry.
type TreeEntry func(name string) (rel string, ok bool)

// InstallTree replaces the directory p with the contents of a tar stream,
// atomically: the tree is unpacked into a temporary directory beside p and
// swapped in with one rename(2) (RENAME_EXCHANGE when p exists, so p is
// never missing). The previous tree is kept at p+".eksd-kata-previous".
// Entries that would leave the tree (absolute, "..", links pointing out)
// and device files are refused. Leftovers of a crashed install are removed.
//
// extra files (path inside the tree -> content) are written into the tree
// before the swap, so a marker of what was installed is swapped in with it.
func (f *FS) InstallTree(p string, tr *tar.Reader, entry TreeEntry, extra map[string][]byte) error {
	real, err := f.resolveParent(p)
	if err != nil {
		return err
	}
	parent := filepath.Dir(real)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	stale, _ := filepath.Glob(filepath.Join(parent, "."+filepath.Base(real)+".eksd-kata-*"))
	for _, s := range stale {
		os.RemoveAll(s)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(real)+".eksd-kata-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // after a successful swap it holds nothing of ours
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := unpack(tr, tmp, entry); err != nil {
		return fmt.Errorf("unpacking into %s: %w", p, err)
	}
	for rel, data := range extra {
		dst := filepath.Join(tmp, filepath.FromSlash(path.Clean("/"+rel)))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err
		}
	}
	if err := syncTree(tmp); err != nil {
		return err
	}
	FaultPoint("before-swap " + real)
	if _, err := os.Lstat(real); isNotExist(err) {
		if err := os.Rename(tmp, real); err != nil {
			return err
		}
		return syncDir(parent)
	}
	if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, real, unix.RENAME_EXCHANGE); err != nil {
		return fmt.Errorf("swapping in %s: %w", p, err)
	}
	previous := real + ".eksd-kata-previous"
	os.RemoveAll(previous)
	if err := os.Rename(tmp, previous); err != nil {
		return err
	}
	return syncDir(parent)
}

func unpack(tr *tar.Reader, dir string, entry TreeEntry) error {
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, ok := entry(hdr.Name)
		if !ok {
			continue
		}
		rel = path.Clean(rel)
		if rel == "." {
			continue
		}
		if path.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
			return fmt.Errorf("entry %q leaves the tree", hdr.Name)
		}
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		mode := fs.FileMode(hdr.Mode) & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			if err := os.Chmod(dst, mode|0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			target := hdr.Linkname
			resolved := path.Clean(path.Join(path.Dir(rel), target))
			if path.IsAbs(target) || resolved == ".." || strings.HasPrefix(resolved, "../") {
				return fmt.Errorf("symlink %q -> %q points out of the tree", hdr.Name, target)
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(target, dst); err != nil {
				return err
			}
		case tar.TypeLink:
			src, ok := entry(hdr.Linkname)
			src = path.Clean(src)
			if !ok || path.IsAbs(src) || src == ".." || strings.HasPrefix(src, "../") {
				return fmt.Errorf("hard link %q -> %q points out of the tree", hdr.Name, hdr.Linkname)
			}
			if err := os.Link(filepath.Join(dir, filepath.FromSlash(src)), dst); err != nil {
				return err
			}
		default:
			return fmt.Errorf("entry %q: type %q is not allowed in an install tree", hdr.Name, string(hdr.Typeflag))
		}
	}
}

// syncTree flushes every file so that the swap never exposes a tree whose
// contents are still only in the page cache.
func syncTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		fh, err := os.Open(p)
		if err != nil {
			return err
		}
		defer fh.Close()
		return fh.Sync()
	})
}
