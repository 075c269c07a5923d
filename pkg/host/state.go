package host

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrUntrustedState marks eksd-kata's own state (its state directory, the
// backup tree, an entry in it) holding something eksd-kata never writes
// there: a symlink where it keeps a directory, a device, a FIFO. Followed,
// it would make reset restore onto, or delete, files it never backed up.
var ErrUntrustedState = errors.New("refused: eksd-kata follows no symlink and trusts no special file in its own state")

// The backup tree is read through directory handles opened without
// following symlinks, from the state directory down: a path checked once
// and opened again by name could be swapped for a symlink in between.

// stateDirAt opens directory name of the state in d (openDirAt: not
// through a symlink); nil when there is nothing by that name.
func stateDirAt(d *dir, name string) (*dir, error) {
	sub, err := openDirAt(d, name)
	switch {
	case err == nil:
		return sub, nil
	case errors.Is(err, unix.ENOENT):
		return nil, nil
	case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR):
		return nil, untrusted(path.Join(d.host, name), describeAt(d, name), "a directory")
	default:
		return nil, err
	}
}

// untrusted is the error for hp found to be what instead of want.
func untrusted(hp, what, want string) error {
	return fmt.Errorf("%s is %s, where eksd-kata keeps %s of its own: %w", hp, what, want, ErrUntrustedState)
}

// describeAt says what name in d is, for an error message.
func describeAt(d *dir, name string) string {
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd(), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return "unreadable (" + err.Error() + ")"
	}
	return describe(d, name, st.Mode)
}

func describe(d *dir, name string, mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFLNK:
		target, err := readlinkAt(d, name)
		if err != nil {
			return "a symlink"
		}
		return "a symlink to " + target
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFCHR, unix.S_IFBLK:
		return "a device"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFSOCK:
		return "a socket"
	}
	return "of unknown type"
}

// openState opens the state directory's backup directory (nil: there is
// none) and, for pruning it, the state directory holding it.
func (f *FS) openState() (state, backup *dir, err error) {
	sd := f.stateDir()
	// The parents of the state directory are the host's own and resolve
	// like any host path, inside the root.
	parent, missing, err := f.lookup(path.Dir(sd))
	if err != nil {
		return nil, nil, err
	}
	defer parent.Close()
	if len(missing) > 0 {
		return nil, nil, nil
	}
	if state, err = stateDirAt(parent, path.Base(sd)); state == nil || err != nil {
		return nil, nil, err
	}
	if backup, err = stateDirAt(state, "backup"); backup == nil || err != nil {
		state.Close()
		return nil, nil, err
	}
	return state, backup, nil
}

// checkState verifies that the state directory, its backup directory and
// the backup's files/, created/ and dirs/ are real directories or absent.
// It runs before each backup record is looked up too: through a symlink
// the record would be wrong (files/ -> / makes every file its own
// backup), and reset would refuse it, so the change it is for is refused
// first.
func (f *FS) checkState() error {
	state, backup, err := f.openState()
	if backup == nil || err != nil {
		return err
	}
	defer state.Close()
	defer backup.Close()
	for _, kind := range backupKinds {
		d, err := stateDirAt(backup, kind)
		if err != nil {
			return err
		}
		if d != nil {
			d.Close()
		}
	}
	return nil
}

// backupKinds are the trees of the backup directory (see backupDir).
var backupKinds = []string{"files", "created", "dirs"}

// backupScan is what the backup tree holds.
type backupScan struct {
	fs      *FS      // for its fault points
	entries []Backup // files/ and created/, then dirs/
	// leftovers are temp files of crashed backup writes and directories
	// with nothing recorded below them, deepest first: what a killed
	// reset or backup write leaves.
	leftovers []string
}

// scanBackups reads the backup tree, refusing anything in it that eksd-kata
// does not write there; with prune, it removes the leftovers as it goes.
func (f *FS) scanBackups(prune bool) (*backupScan, error) {
	state, backup, err := f.openState()
	if backup == nil || err != nil {
		return &backupScan{fs: f}, err
	}
	defer state.Close()
	defer backup.Close()
	s := &backupScan{fs: f}
	keep := false
	for _, kind := range backupKinds {
		k, err := s.scanSub(f, backup, kind, kind, "", prune)
		if err != nil {
			return nil, err
		}
		keep = keep || k
	}
	names, err := readNames(backup)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if n != "files" && n != "created" && n != "dirs" {
			keep = true // not ours: it stays, and so does the directory
		}
	}
	if !keep {
		if err := s.leftover(state, "backup", prune); err != nil {
			return nil, err
		}
	}
	sort.Slice(s.entries, func(i, j int) bool {
		a, b := s.entries[i], s.entries[j]
		if a.Dir != b.Dir {
			return b.Dir
		}
		if a.Dir {
			return a.Path > b.Path // deepest first: emptied before removed
		}
		return a.Path < b.Path
	})
	return s, nil
}

// scanSub scans directory name in parent, standing for host path hp in
// the kind/ tree, and reports whether anything in it is kept; if not, it
// is a leftover itself.
func (s *backupScan) scanSub(f *FS, parent *dir, name, kind, hp string, prune bool) (keep bool, err error) {
	d, err := stateDirAt(parent, name)
	if d == nil || err != nil {
		return false, err
	}
	keep, err = s.scanDir(f, d, kind, hp, prune)
	d.Close()
	if err != nil || keep {
		return keep, err
	}
	return false, s.leftover(parent, name, prune)
}

// scanDir scans directory d of the kind/ tree, standing for host path hp
// ("" for the top), and reports whether anything in it is kept.
func (s *backupScan) scanDir(f *FS, d *dir, kind, hp string, prune bool) (keep bool, err error) {
	names, err := readNames(d)
	if err != nil {
		return false, err
	}
	for _, n := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(d.fd(), n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return false, fmt.Errorf("list backups: %s: %w", path.Join(d.host, n), err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			k, err := s.scanSub(f, d, n, kind, hp+"/"+n, prune)
			if err != nil {
				return false, err
			}
			keep = keep || k
			continue
		}
		if st.Mode&unix.S_IFMT == unix.S_IFREG && isTempName(n) {
			if err := s.leftover(d, n, prune); err != nil {
				return false, err
			}
			continue
		}
		keep = true
		b, err := f.backupAt(d, n, kind, hp+"/"+n, st.Mode)
		if err != nil {
			return false, err
		}
		if b != nil {
			s.entries = append(s.entries, *b)
		}
	}
	return keep, nil
}

// backupAt checks one entry of the kind/ tree (hp: the host path it
// stands for) and returns what it records; nil for a file eksd-kata does
// not write there but that is harmless left alone.
func (f *FS) backupAt(d *dir, name, kind, hp string, mode uint32) (*Backup, error) {
	typ := mode & unix.S_IFMT
	switch {
	case kind == "files" && (typ == unix.S_IFREG || typ == unix.S_IFLNK):
		return &Backup{Path: hp, Mode: fileMode(mode)}, f.restorable(hp)
	case kind == "created" && typ == unix.S_IFREG:
		return &Backup{Path: hp, Created: true}, f.restorable(hp)
	case kind == "dirs" && typ == unix.S_IFREG && name == dirMarker:
		dir := path.Dir(hp)
		return &Backup{Path: dir, Created: true, Dir: true}, f.restorable(dir)
	case kind == "dirs" && typ == unix.S_IFREG:
		return nil, nil
	}
	return nil, untrusted(path.Join(d.host, name), describe(d, name, mode), entryKind(kind))
}

// entryKind says what an entry of the kind/ tree is.
func entryKind(kind string) string {
	if kind == "files" {
		return "a regular file or a symlink"
	}
	return "a regular file"
}

// fileMode turns a stat mode into the fs.FileMode Backups reports: the
// permission bits, with fs.ModeSymlink for a symlink.
func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	if m&unix.S_IFMT == unix.S_IFLNK {
		mode |= fs.ModeSymlink
	}
	return mode
}

// leftover notes name in d as a leftover and, with prune, removes it: a
// directory only while empty, never what it points to.
func (s *backupScan) leftover(d *dir, name string, prune bool) error {
	hp := path.Join(d.host, name)
	s.leftovers = append(s.leftovers, hp)
	if !prune {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd(), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("remove %s: %w", hp, err)
	}
	flags := 0
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		flags = unix.AT_REMOVEDIR
	}
	if err := unix.Unlinkat(d.fd(), name, flags); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %s: %w", hp, err)
	}
	s.fs.FaultPoint("pruned " + hp)
	return nil
}

// readNames lists the names in directory d, sorted.
func readNames(d *dir) ([]string, error) {
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list backups: %s: %w", d.host, err)
	}
	sort.Strings(names)
	return names, nil
}

// Backups lists every recorded original: files sorted by path, then the
// directories we created, deepest first, so that restoring them in this
// order empties each directory before it is removed. Anything in the
// backup tree that eksd-kata does not write there (a symlink for a
// directory, a device, a FIFO) is refused with ErrUntrustedState.
func (f *FS) Backups() ([]Backup, error) {
	s, err := f.scanBackups(false)
	if err != nil {
		return nil, err
	}
	return s.entries, nil
}

// BackupLeftovers lists, as host paths deepest first, what a killed reset
// or backup write left in the backup tree with nothing recorded in it.
func (f *FS) BackupLeftovers() ([]string, error) {
	s, err := f.scanBackups(false)
	if err != nil {
		return nil, err
	}
	return s.leftovers, nil
}

// PruneBackups removes the backup tree's leftovers (BackupLeftovers),
// the backup directory itself once nothing is left in it.
func (f *FS) PruneBackups() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err := f.scanBackups(true)
	return err
}

// restorable checks hp, a host path a backup entry stands for: clean,
// absolute, not the root and not inside the backup tree, which never
// records itself.
func (f *FS) restorable(hp string) error {
	if !path.IsAbs(hp) || path.Clean(hp) != hp || hp == "/" {
		return fmt.Errorf("restore %q: not a clean absolute path below /: %w", hp, ErrUntrustedState)
	}
	if b := f.backupDir(); hp == b || strings.HasPrefix(hp, b+"/") {
		return fmt.Errorf("restore %s: inside the backup tree: %w", hp, ErrUntrustedState)
	}
	return nil
}

// backupEntry is an open backup entry: the directories from kind/ down to
// the entry's, each opened without following a symlink.
type backupEntry struct {
	fs    *FS // for its fault points
	dirs  []*dir
	names []string // names[i] is the name of dirs[i+1] in dirs[i]; the last one the entry's
	mode  uint32
}

func (e *backupEntry) close() {
	for _, d := range e.dirs {
		d.Close()
	}
}

func (e *backupEntry) dir() *dir    { return e.dirs[len(e.dirs)-1] }
func (e *backupEntry) name() string { return e.names[len(e.names)-1] }

// path is the entry's host path, for messages.
func (e *backupEntry) path() string { return path.Join(e.dir().host, e.name()) }

// openEntry opens the kind/ entry of host path hp (rel: below hp, for a
// directory's marker); nil when there is none.
func (f *FS) openEntry(kind, hp, rel string) (*backupEntry, error) {
	state, backup, err := f.openState()
	if backup == nil || err != nil {
		return nil, err
	}
	state.Close()
	defer backup.Close()
	top, err := stateDirAt(backup, kind)
	if top == nil || err != nil {
		return nil, err
	}
	e := &backupEntry{fs: f, dirs: []*dir{top}}
	parts := strings.Split(strings.TrimPrefix(path.Join(hp, rel), "/"), "/")
	for _, n := range parts[:len(parts)-1] {
		d, err := stateDirAt(e.dir(), n)
		if d == nil || err != nil {
			e.close()
			return nil, err
		}
		e.dirs, e.names = append(e.dirs, d), append(e.names, n)
	}
	e.names = append(e.names, parts[len(parts)-1])
	var st unix.Stat_t
	if err := unix.Fstatat(e.dir().fd(), e.name(), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		e.close()
		if errors.Is(err, unix.ENOENT) {
			return nil, nil
		}
		return nil, fmt.Errorf("restore %s: %w", hp, err)
	}
	e.mode = st.Mode
	if typ := st.Mode & unix.S_IFMT; typ != unix.S_IFREG && (kind != "files" || typ != unix.S_IFLNK) {
		err := untrusted(e.path(), describe(e.dir(), e.name(), st.Mode), entryKind(kind))
		e.close()
		return nil, err
	}
	return e, nil
}

// drop removes the entry and the directories of kind/ it leaves empty.
func (e *backupEntry) drop() error {
	defer e.close()
	if err := unix.Unlinkat(e.dir().fd(), e.name(), 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("drop backup %s: %w", e.path(), err)
	}
	e.fs.FaultPoint("dropped " + e.path())
	for i := len(e.dirs) - 1; i > 0; i-- {
		if unix.Unlinkat(e.dirs[i-1].fd(), e.names[i-1], unix.AT_REMOVEDIR) != nil {
			break // not empty: another entry is in it
		}
	}
	return nil
}

// Restore puts the original of p back (bytes, mode and owner, or the symlink),
// or deletes p if we created it, then drops the backup entry. p is a path as
// Backups lists it; its last component is not followed. Only what eksd-kata
// recorded as created is deleted, and only while it is what eksd-kata makes
// there: a created file now a directory, a created directory now a file or
// not empty, stays.
func (f *FS) Restore(p string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.restorable(p); err != nil {
		return err
	}
	if err := f.checkState(); err != nil {
		return err
	}
	// Not there (nil) when a parent is not a directory any more.
	s, located := f.locate(p, false)
	if located != nil && !isNotExist(located) {
		return located
	}
	if s != nil {
		defer s.close()
	}
	if e, err := f.openEntry("dirs", p, dirMarker); e != nil || err != nil {
		if err != nil {
			return err
		}
		return removeCreated(e, s, p, unix.AT_REMOVEDIR)
	}
	if e, err := f.openEntry("created", p, ""); e != nil || err != nil {
		if err != nil {
			return err
		}
		return removeCreated(e, s, p, 0)
	}
	e, err := f.openEntry("files", p, "")
	if err != nil {
		return err
	}
	if e == nil {
		return fmt.Errorf("restore %s: no backup: %w", p, fs.ErrNotExist)
	}
	if s == nil {
		e.close()
		return fmt.Errorf("restore %s: %w", p, located)
	}
	if err := f.restoreOriginal(e, s); err != nil {
		e.close()
		return fmt.Errorf("restore %s: %w", p, err)
	}
	return e.drop()
}

// removeCreated removes the entry of s (host path hp; s nil: not there),
// which eksd-kata created: a directory (flags AT_REMOVEDIR) while empty,
// else a file or a symlink; then it drops the record. Anything else
// standing there now is someone else's and stays.
func removeCreated(e *backupEntry, s *spot, hp string, flags int) error {
	var err error = unix.ENOENT
	var st unix.Stat_t
	if s != nil && len(s.missing) == 0 {
		err = unix.Fstatat(s.dir.fd(), s.name, &st, unix.AT_SYMLINK_NOFOLLOW)
	}
	if typ := st.Mode & unix.S_IFMT; err == nil {
		if flags == unix.AT_REMOVEDIR && typ == unix.S_IFDIR || flags == 0 && (typ == unix.S_IFREG || typ == unix.S_IFLNK) {
			err = unix.Unlinkat(s.dir.fd(), s.name, flags)
		}
	}
	switch {
	case err == nil:
		e.fs.FaultPoint("removed " + hp)
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTEMPTY), errors.Is(err, unix.EEXIST):
	default:
		e.close()
		return fmt.Errorf("restore %s: %w", hp, err)
	}
	return e.drop()
}

// restoreOriginal writes the original e holds at s.
func (f *FS) restoreOriginal(e *backupEntry, s *spot) error {
	if err := f.makeParents(s, false); err != nil {
		return err
	}
	if e.mode&unix.S_IFMT == unix.S_IFLNK {
		target, err := readlinkAt(e.dir(), e.name())
		if err != nil {
			return err
		}
		return symlinkAt(s.dir, s.name, target)
	}
	// O_NONBLOCK: a FIFO swapped in must not hang the read.
	fd, err := unix.Openat(e.dir().fd(), e.name(), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: e.path(), Err: err}
	}
	src := os.NewFile(uintptr(fd), e.path())
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() { // swapped since it was checked
		return untrusted(e.path(), "no longer a regular file", "a regular file")
	}
	uid, gid := owner(fi)
	copyFrom := func(tmp *os.File) error {
		_, err := io.Copy(tmp, src)
		return err
	}
	return f.writeAtomicWith(s.dir, s.name, copyFrom, nil, fi.Mode()&modeBits, uid, gid)
}
