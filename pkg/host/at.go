package host

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"
)

// maxHops bounds the symlinks followed in one lookup, as the kernel does.
const maxHops = 40

// dir is a directory opened inside the root. Changes are made relative to
// it, never by path: a directory on the way swapped for a symlink after the
// lookup cannot redirect them. host is its host path when it was opened, for
// records and messages.
type dir struct {
	*os.File
	host string
}

func (d *dir) fd() int { return int(d.File.Fd()) }

// spot is where a host path lives: an open directory, the directories
// still missing below it, and the name of the entry in the last of them.
type spot struct {
	dir     *dir
	missing []string
	name    string
}

func (s *spot) close() { s.dir.Close() }

// host is the host path of the entry.
func (s *spot) host() string {
	return path.Join(append(append([]string{s.dir.host}, s.missing...), s.name)...)
}

// real is the path of host path hp on this machine, for fault points and
// lock keys; nothing is opened by it.
func (f *FS) real(hp string) string { return filepath.Join(f.root, hp) }

// lookup opens the deepest existing directory on host path p inside the
// root (openat2 RESOLVE_IN_ROOT through filepath-securejoin, or its O_PATH
// walk on kernels without it) and returns it with the names below it that
// do not exist yet. A dangling symlink among those is followed, as creating
// through it would.
func (f *FS) lookup(p string) (*dir, []string, error) {
	if !filepath.IsAbs(p) {
		return nil, nil, fmt.Errorf("host path %q: not absolute", p)
	}
	root, err := os.OpenFile(f.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	rootReal, err := procfs.ProcSelfFdReadlink(root)
	if err != nil {
		return nil, nil, fmt.Errorf("root %s: %w", f.root, err)
	}
	p = filepath.Clean(p)
	for range maxHops {
		var missing []string
		prefix := p
		h, err := pathrs.OpenatInRoot(root, prefix)
		for errors.Is(err, unix.ENOENT) && prefix != "/" {
			missing = append([]string{path.Base(prefix)}, missing...)
			prefix = path.Dir(prefix)
			h, err = pathrs.OpenatInRoot(root, prefix)
		}
		if err != nil {
			return nil, nil, err
		}
		d, err := reopenDir(h, rootReal)
		h.Close()
		if err != nil {
			return nil, nil, err
		}
		if len(missing) == 0 {
			return d, nil, nil
		}
		target, err := readlinkAt(d, missing[0])
		if err != nil { // missing indeed, or made meanwhile
			return d, missing, nil
		}
		if !path.IsAbs(target) {
			target = path.Join(d.host, target)
		}
		d.Close()
		p = path.Join(append([]string{"/", target}, missing[1:]...)...)
	}
	return nil, nil, &os.PathError{Op: "lookup", Path: p, Err: unix.ELOOP}
}

// reopenDir turns the O_PATH handle h into a directory that can be listed
// and fsynced, and finds its host path: where the kernel says it is, which
// must still be inside the root.
func reopenDir(h *os.File, rootReal string) (*dir, error) {
	fd, err := unix.Openat(int(h.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: h.Name(), Err: err}
	}
	file := os.NewFile(uintptr(fd), h.Name())
	real, err := procfs.ProcSelfFdReadlink(file)
	if err != nil {
		file.Close()
		return nil, err
	}
	host := real
	if rootReal != "/" {
		rel, ok := strings.CutPrefix(real, rootReal)
		if !ok || (rel != "" && rel[0] != '/') {
			file.Close()
			return nil, fmt.Errorf("%s: not below %s", real, rootReal)
		}
		host = "/" + strings.TrimPrefix(rel, "/")
	}
	return &dir{File: file, host: host}, nil
}

// locate finds where host path p lives. With follow, a symlink in the last
// component is followed inside the root, as a write through it goes.
func (f *FS) locate(p string, follow bool) (*spot, error) {
	if !filepath.IsAbs(p) {
		return nil, fmt.Errorf("host path %q: not absolute", p)
	}
	p = filepath.Clean(p)
	for range maxHops {
		if p == "/" {
			return nil, fmt.Errorf("host path /: not a file")
		}
		d, missing, err := f.lookup(path.Dir(p))
		if err != nil {
			return nil, err
		}
		s := &spot{dir: d, missing: missing, name: path.Base(p)}
		if !follow || len(missing) > 0 {
			return s, nil
		}
		target, err := readlinkAt(d, s.name)
		if err != nil { // not a symlink
			return s, nil
		}
		if !path.IsAbs(target) {
			target = path.Join(d.host, target)
		}
		d.Close()
		p = path.Join("/", target)
	}
	return nil, &os.PathError{Op: "lookup", Path: p, Err: unix.ELOOP}
}

// locateLocked is locate with the entry locked against other writes and
// removes of it; what was missing is looked up again under the lock, since
// another write may have made it meanwhile.
func (f *FS) locateLocked(p string, follow bool) (*spot, func(), error) {
	s, err := f.locate(p, follow)
	if err != nil {
		return nil, nil, err
	}
	unlock := f.lockPath(f.real(s.host()))
	if len(s.missing) > 0 {
		s.close()
		if s, err = f.locate(p, follow); err != nil {
			unlock()
			return nil, nil, err
		}
	}
	return s, unlock, nil
}

// open opens the entry of s that exists (nothing missing) with flags, never
// through a symlink.
func (s *spot) open(flags int) (*os.File, error) {
	if len(s.missing) > 0 {
		return nil, &os.PathError{Op: "open", Path: s.host(), Err: unix.ENOENT}
	}
	fd, err := unix.Openat(s.dir.fd(), s.name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: s.host(), Err: err}
	}
	return os.NewFile(uintptr(fd), s.host()), nil
}

// lstat is Lstat of the entry of s.
func (s *spot) lstat() (fs.FileInfo, error) {
	fh, err := s.open(unix.O_PATH)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return fh.Stat()
}

// readFile reads the regular file of s.
func (s *spot) readFile() ([]byte, error) {
	// O_NONBLOCK: a FIFO swapped in must not hang the read.
	fh, err := s.open(unix.O_RDONLY | unix.O_NONBLOCK)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	if fi, err := fh.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: not a regular file", s.host())
	}
	return io.ReadAll(fh)
}

// readlinkAt reads the symlink name in d.
func readlinkAt(d *dir, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(d.fd(), name, buf)
		if err != nil {
			return "", &os.PathError{Op: "readlink", Path: path.Join(d.host, name), Err: err}
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// openDirAt opens the directory name in d, not through a symlink.
func openDirAt(d *dir, name string) (*dir, error) {
	fd, err := unix.Openat(d.fd(), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path.Join(d.host, name), Err: err}
	}
	host := path.Join(d.host, name)
	return &dir{File: os.NewFile(uintptr(fd), host), host: host}, nil
}

// mkdirs makes the directories names below d, each inside the last, and
// returns the last one open; d is closed. A directory made gets perm
// whatever the umask. record, when set, runs for each before it is made.
func mkdirs(d *dir, names []string, perm fs.FileMode, record func(hp string) error) (*dir, error) {
	for _, name := range names {
		hp := path.Join(d.host, name)
		if record != nil {
			if err := record(hp); err != nil {
				d.Close()
				return nil, err
			}
		}
		err := unix.Mkdirat(d.fd(), name, 0o700)
		made := err == nil
		if err != nil && !errors.Is(err, unix.EEXIST) { // EEXIST: made meanwhile
			d.Close()
			return nil, &os.PathError{Op: "mkdir", Path: hp, Err: err}
		}
		next, err := openDirAt(d, name)
		d.Close()
		if err != nil {
			return nil, err
		}
		if made {
			if err := next.Chmod(perm); err != nil {
				next.Close()
				return nil, err
			}
		}
		d = next
	}
	return d, nil
}

// createTemp creates a new temp file beside name in d, for an atomic
// replace of name; its name marks it as ours (see isTempName).
func createTemp(d *dir, name string) (*os.File, string, error) {
	for range 100 {
		tmp := "." + name + tmpInfix + strconv.FormatUint(uint64(rand.Uint32()), 10) + ".tmp"
		fd, err := unix.Openat(d.fd(), tmp, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return nil, "", &os.PathError{Op: "create", Path: path.Join(d.host, tmp), Err: err}
		}
		return os.NewFile(uintptr(fd), path.Join(d.host, tmp)), tmp, nil
	}
	return nil, "", &os.PathError{Op: "create", Path: path.Join(d.host, "."+name+tmpInfix+"*.tmp"), Err: unix.EEXIST}
}

// removeAt removes name in d as os.Remove would: a file or symlink, or an
// empty directory.
func removeAt(d *dir, name string) error {
	err := unix.Unlinkat(d.fd(), name, 0)
	if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EPERM) {
		if rerr := unix.Unlinkat(d.fd(), name, unix.AT_REMOVEDIR); !errors.Is(rerr, unix.ENOTDIR) {
			err = rerr
		}
	}
	if err != nil {
		return &os.PathError{Op: "remove", Path: path.Join(d.host, name), Err: err}
	}
	return nil
}

// symlinkAt makes name in d a symlink to target, through a temp name and a
// rename so that name is never missing in between.
func symlinkAt(d *dir, name, target string) error {
	tmp := "." + name + tmpInfix + "link.tmp"
	if err := unix.Unlinkat(d.fd(), tmp, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "remove", Path: path.Join(d.host, tmp), Err: err}
	}
	if err := unix.Symlinkat(target, d.fd(), tmp); err != nil {
		return &os.PathError{Op: "symlink", Path: path.Join(d.host, tmp), Err: err}
	}
	if err := unix.Renameat(d.fd(), tmp, d.fd(), name); err != nil {
		_ = unix.Unlinkat(d.fd(), tmp, 0)
		return &os.PathError{Op: "rename", Path: path.Join(d.host, name), Err: err}
	}
	return syncAt(d)
}

// syncAt makes a rename or unlink in d durable.
func syncAt(d *dir) error {
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", d.host, err)
	}
	return nil
}
