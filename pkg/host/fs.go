package host

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// modeBits are the parts of a mode a write keeps or sets; type bits are not ours.
const modeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// tmpInfix marks our temp files so that leftovers of a crashed write can be
// recognised and removed by the next write to the same target.
const tmpInfix = ".eksd-kata-"

// SetFault makes f call fault at every point where a crash must leave the
// host recoverable: between the fsync of a temp file and its rename
// ("before-rename TMP"), after the rename ("after-rename PATH"), before a
// tree swap, at step boundaries, between reset's removals. Fault-injection
// tests set it to kill the process there; a run has none.
func (f *FS) SetFault(fault func(point string)) { f.fault = fault }

// FaultPoint marks such a point.
func (f *FS) FaultPoint(point string) {
	if f.fault != nil {
		f.fault(point)
	}
}

// searchPath is where LookPath looks, under the root: the usual PATH of root
// plus the Kata static install.
var searchPath = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", "/opt/kata/bin"}

// FS reads and writes files of the host, given as absolute host paths
// ("/etc/fstab"), below a root directory. Symlinks resolve inside the root.
type FS struct {
	fault func(point string) // SetFault
	root  string
	state string // host path of eksd-kata's state; "": /var/lib/eksd-kata
	// mu serialises the backup records so that "back up once" holds within
	// the process, and the changes other than WriteFile and Remove.
	mu sync.Mutex
	// paths holds a lock per file being written or removed: changes to
	// different files (the node binaries) write and fsync at once.
	paths sync.Map // real path → *sync.Mutex
	// dirsMu serialises creating directories and recording them.
	dirsMu sync.Mutex
}

// lockPath locks real against other writes and removes of it.
func (f *FS) lockPath(real string) (unlock func()) {
	m, _ := f.paths.LoadOrStore(real, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// backupOnceLocked is backupOnce under mu.
func (f *FS) backupOnceLocked(s *spot, fi fs.FileInfo) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.backupOnce(s, fi)
}

// NewFS returns an FS below root, made absolute and cleaned. The root should
// not itself contain symlinks (New resolves them).
func NewFS(root string) *FS {
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	return &FS{root: filepath.Clean(root)}
}

// Root is the directory host paths live under.
func (f *FS) Root() string { return f.root }

// Resolve returns the real path of host path p on this machine, following
// symlinks as if root were "/": they can never lead out of the root.
func (f *FS) Resolve(p string) (string, error) {
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("host path %q: not absolute", p)
	}
	real, err := securejoin.SecureJoin(f.root, p)
	if err != nil {
		return "", fmt.Errorf("resolve %s under %s: %w", p, f.root, err)
	}
	return real, nil
}

// ReadFile reads host path p.
// Like every input, it must be a regular file (a FIFO or device under
// --root would block or never end) of at most MaxRead bytes; a /proc file,
// which tells no size, is read up to that.
func (f *FS) ReadFile(p string) ([]byte, error) {
	return f.ReadInput(p, MaxRead)
}

// Open opens host path p for reading.
func (f *FS) Open(p string) (*os.File, error) {
	real, err := f.Resolve(p)
	if err != nil {
		return nil, err
	}
	return os.Open(real)
}

// Stat follows symlinks (inside the root).
func (f *FS) Stat(p string) (fs.FileInfo, error) {
	real, err := f.Resolve(p)
	if err != nil {
		return nil, err
	}
	return os.Stat(real)
}

// Lstat does not follow a symlink in the last component.
func (f *FS) Lstat(p string) (fs.FileInfo, error) {
	if filepath.Clean(p) == "/" {
		return os.Lstat(f.root)
	}
	s, err := f.locate(p, false)
	if err != nil {
		return nil, err
	}
	defer s.close()
	return s.lstat()
}

// Exists reports whether p exists (following symlinks); a missing path or a
// path through a non-directory is false with no error.
func (f *FS) Exists(p string) (bool, error) {
	_, err := f.Stat(p)
	if err == nil {
		return true, nil
	}
	if isNotExist(err) {
		return false, nil
	}
	return false, err
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// ReadDir lists directory p, sorted by name.
func (f *FS) ReadDir(p string) ([]fs.DirEntry, error) {
	real, err := f.Resolve(p)
	if err != nil {
		return nil, err
	}
	return os.ReadDir(real)
}

// Glob matches an absolute pattern (filepath.Match syntax per component) and
// returns host paths. It walks component by component through Resolve, so a
// symlink met on the way cannot lead out of the root. Like filepath.Glob it
// ignores I/O errors.
func (f *FS) Glob(pattern string) ([]string, error) {
	if !filepath.IsAbs(pattern) {
		return nil, fmt.Errorf("glob %q: not absolute", pattern)
	}
	if _, err := filepath.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("glob %q: %w", pattern, err)
	}
	matches := []string{"/"}
	for _, part := range strings.Split(filepath.Clean(pattern), "/") {
		if part == "" {
			continue
		}
		var next []string
		for _, m := range matches {
			if !strings.ContainsAny(part, `*?[\`) {
				next = append(next, filepath.Join(m, part))
				continue
			}
			entries, err := f.ReadDir(m)
			if err != nil {
				continue
			}
			for _, e := range entries {
				if ok, _ := filepath.Match(part, e.Name()); ok {
					next = append(next, filepath.Join(m, e.Name()))
				}
			}
		}
		matches = next
	}
	var out []string
	for _, m := range matches {
		if _, err := f.Lstat(m); err == nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// MkdirAll creates directory p and its parents with perm.
func (f *FS) MkdirAll(p string, perm fs.FileMode) error {
	d, err := f.mkdirRecorded(p, perm)
	if err != nil {
		return err
	}
	return d.Close()
}

// WriteFile replaces p atomically with data and reports whether anything
// changed. An existing file keeps its owner, and its mode unless perm != 0; a
// new file gets perm (0 means 0644) and missing parents 0755. The original is
// backed up before the first change (see Backups). Identical bytes and mode
// write nothing at all, so re-runs on a converged host are free.
func (f *FS) WriteFile(p string, data []byte, perm fs.FileMode) (bool, error) {
	s, unlock, err := f.locateLocked(p, true)
	if err != nil {
		return false, err
	}
	defer unlock()
	defer s.close()
	old, mode, err := s.target(perm)
	if err != nil {
		return false, err
	}
	if old != nil {
		cur, err := s.readFile()
		if err != nil {
			return false, err
		}
		if bytes.Equal(cur, data) && old.Mode()&modeBits == mode {
			return false, nil
		}
	}
	return true, f.replace(s, old, mode, writeBytes(data), nil)
}

// CopyFile writes what src holds from its offset on to p, atomically and
// with the same backups as WriteFile, without holding it in memory: from a
// file on the same filesystem the kernel copies (copy_file_range), which
// costs a third of the CPU of reading the bytes in and writing them out.
// check, when set, runs once the copy is on disk and before the rename; an
// error from it leaves p as it was. CopyFile always writes: the caller has
// found that p must change.
func (f *FS) CopyFile(p string, src *os.File, perm fs.FileMode, check func() error) error {
	s, unlock, err := f.locateLocked(p, true)
	if err != nil {
		return err
	}
	defer unlock()
	defer s.close()
	old, mode, err := s.target(perm)
	if err != nil {
		return err
	}
	write := func(tmp *os.File) error {
		_, err := io.Copy(tmp, src) // *os.File to *os.File: copy_file_range
		return err
	}
	return f.replace(s, old, mode, write, check)
}

// target returns what stands at s (nil: nothing) and the mode new content
// there gets: perm, or when perm is 0 the old file's mode (0644 for a new
// file).
func (s *spot) target(perm fs.FileMode) (fs.FileInfo, fs.FileMode, error) {
	perm &= modeBits
	old, err := s.lstat()
	switch {
	case err == nil:
		if !old.Mode().IsRegular() {
			return nil, 0, fmt.Errorf("write %s: not a regular file (%s)", s.host(), old.Mode().Type())
		}
		if perm == 0 {
			perm = old.Mode() & modeBits
		}
		return old, perm, nil
	case errors.Is(err, fs.ErrNotExist):
		if perm == 0 {
			perm = 0o644
		}
		return nil, perm, nil
	default:
		return nil, 0, err
	}
}

// replace backs up old (or records s as created, when old is nil) and
// writes s atomically with write, keeping old's owner.
func (f *FS) replace(s *spot, old fs.FileInfo, mode fs.FileMode, write func(*os.File) error, check func() error) error {
	if old != nil {
		if err := f.backupOnceLocked(s, old); err != nil {
			return err
		}
		uid, gid := owner(old)
		return f.writeAtomicWith(s.dir, s.name, write, check, mode, uid, gid)
	}
	// Record "created" before creating, so a crash in between still
	// leaves reset knowing the file is ours.
	if err := f.backupOnceLocked(s, nil); err != nil {
		return err
	}
	if err := f.makeParents(s, true); err != nil {
		return err
	}
	return f.writeAtomicWith(s.dir, s.name, write, check, mode, -1, -1)
}

// Remove backs p up (once) and removes it; a symlink is removed, not its
// target. A missing p is not an error.
func (f *FS) Remove(p string) error {
	s, unlock, err := f.locateLocked(p, false)
	if isNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unlock()
	defer s.close()
	fi, err := s.lstat()
	if isNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := f.backupOnceLocked(s, fi); err != nil {
		return err
	}
	if err := removeAt(s.dir, s.name); err != nil {
		return err
	}
	return syncAt(s.dir)
}

// LookPath finds an executable regular file called name in the usual PATH
// directories below the root and returns its host path. A name with a slash
// must be an absolute host path and is only checked.
func (f *FS) LookPath(name string) (string, error) {
	candidates := make([]string, 0, len(searchPath))
	if strings.Contains(name, "/") {
		if !filepath.IsAbs(name) {
			return "", fmt.Errorf("look up %q: relative path", name)
		}
		candidates = append(candidates, name)
	} else {
		for _, dir := range searchPath {
			candidates = append(candidates, filepath.Join(dir, name))
		}
	}
	for _, c := range candidates {
		fi, err := f.Stat(c)
		if err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return c, nil
		}
	}
	return "", fmt.Errorf("%s: no executable in %s under %s: %w", name, strings.Join(searchPath, ":"), f.root, exec.ErrNotFound)
}

// writeAtomic writes data to a temp file beside name in d, sets owner (uid
// < 0: leave as created) and mode, fsyncs, renames it over name and fsyncs
// d: a crash leaves either the old or the new file, never a torn one.
func (f *FS) writeAtomic(d *dir, name string, data []byte, mode fs.FileMode, uid, gid int) error {
	return f.writeAtomicWith(d, name, writeBytes(data), nil, mode, uid, gid)
}

// writeBytes writes data to a temp file.
func writeBytes(data []byte) func(*os.File) error {
	return func(tmp *os.File) error {
		_, err := tmp.Write(data)
		return err
	}
}

// writeAtomicWith is writeAtomic with the content written by write, and
// check, when set, run before the rename: its error leaves name as it was.
// Everything happens relative to d, so the file and its temp file stay in
// that directory whatever is done to the path that led to it.
func (f *FS) writeAtomicWith(d *dir, name string, write func(*os.File) error, check func() error, mode fs.FileMode, uid, gid int) (err error) {
	real := f.real(path.Join(d.host, name))
	removeStaleTemps(d, name)
	tmp, tmpName, err := createTemp(d, name)
	if err != nil {
		return fmt.Errorf("write %s: %w", real, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = unix.Unlinkat(d.fd(), tmpName, 0)
			err = fmt.Errorf("write %s: %w", real, err)
		}
	}()
	if err = write(tmp); err != nil {
		return err
	}
	if uid >= 0 {
		fi, err := tmp.Stat()
		if err != nil {
			return err
		}
		if u, g := owner(fi); u != uid || g != gid {
			if err := tmp.Chown(uid, gid); err != nil {
				return err
			}
		}
	}
	// Chmod after chown: chown clears setuid/setgid.
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	f.FaultPoint("before-rename " + f.real(path.Join(d.host, tmpName)))
	if check != nil {
		if err = check(); err != nil {
			return err
		}
	}
	if err = unix.Renameat(d.fd(), tmpName, d.fd(), name); err != nil {
		return err
	}
	if err = syncAt(d); err != nil {
		return err
	}
	f.FaultPoint("after-rename " + real)
	return nil
}

// removeStaleTemps deletes temp files that crashed writes to name left in d.
func removeStaleTemps(d *dir, name string) {
	// A handle of its own: listing moves the offset of the one it reads.
	list, err := openDirAt(d, ".")
	if err != nil {
		return
	}
	defer list.Close()
	entries, err := list.ReadDir(-1)
	if err != nil {
		return
	}
	prefix := "." + name + tmpInfix
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, prefix) && isTempName(n) {
			_ = unix.Unlinkat(d.fd(), n, 0)
		}
	}
}

// isTempName reports whether a file name is one of our temp files.
func isTempName(n string) bool {
	return strings.HasPrefix(n, ".") && strings.Contains(n, tmpInfix) && strings.HasSuffix(n, ".tmp")
}

func owner(fi fs.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}
