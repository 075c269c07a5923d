package host

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// TreeEntry maps a tar entry name to a path inside the installed tree; ok
// false skips the entry.
type TreeEntry func(name string) (rel string, ok bool)

// UnsafeEntryError refuses a whole archive because of one entry: a path or
// link that leaves the tree or goes through a symlink, an entry that would
// replace one made before it, or a kind of file an install tree must not
// hold. A checksum proves only which archive this is, not that it is safe.
type UnsafeEntryError struct {
	Entry  string // the entry's name in the archive
	Reason string
}

func (e *UnsafeEntryError) Error() string {
	return fmt.Sprintf("archive entry %q %s: refusing the archive", e.Entry, e.Reason)
}

func unsafeEntry(name, format string, a ...any) error {
	return &UnsafeEntryError{Entry: name, Reason: fmt.Sprintf(format, a...)}
}

// maxLinkHops is the kernel's limit on the symlinks one lookup follows.
const maxLinkHops = 40

// InstallTree replaces the directory p with the contents of a tar stream,
// atomically: the tree is unpacked into a temporary directory beside p and
// swapped in with one rename(2) (RENAME_EXCHANGE when p exists, so p is
// never missing). The previous tree is kept at p+".eksd-kata-previous".
// An archive with an unsafe entry (see unpack) is refused as a whole with
// an *UnsafeEntryError before anything is swapped in. Leftovers of a
// crashed install are removed.
//
// extra files (path inside the tree -> content) are written into the tree
// before the swap, so a marker of what was installed is swapped in with it.
func (f *FS) InstallTree(p string, tr *tar.Reader, entry TreeEntry, extra map[string][]byte) error {
	p = path.Clean(p)
	if !path.IsAbs(p) || p == "/" {
		return fmt.Errorf("install tree %q: want an absolute path below /", p)
	}
	parent, err := f.openDirAll(path.Dir(p))
	if err != nil {
		return err
	}
	defer parent.Close()
	base := path.Base(p)
	prefix := "." + base + tmpInfix
	if err := removeStale(parent, prefix); err != nil {
		return err
	}
	tmp, top, err := mkdirTemp(parent, prefix)
	if err != nil {
		return err
	}
	// After a successful swap tmp holds nothing of ours.
	defer func() { _ = removeAllAt(parent, tmp) }()
	defer top.Close()
	t := &tree{top: osDir{top}}
	if err := t.unpack(tr, entry); err != nil {
		return fmt.Errorf("unpacking into %s: %w", p, err)
	}
	for rel, data := range extra {
		if err := t.replaceFile(rel, data); err != nil {
			return err
		}
	}
	if err := syncTree(top); err != nil {
		return err
	}
	f.FaultPoint("before-swap " + f.real(p))
	pfd := int(parent.Fd())
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); errors.Is(err, unix.ENOENT) {
		if err := unix.Renameat(pfd, tmp, pfd, base); err != nil {
			return fmt.Errorf("moving in %s: %w", p, err)
		}
		return syncAt(parent)
	}
	if err := unix.Renameat2(pfd, tmp, pfd, base, unix.RENAME_EXCHANGE); err != nil {
		return fmt.Errorf("swapping in %s: %w", p, err)
	}
	previous := base + ".eksd-kata-previous"
	if err := removeAllAt(parent, previous); err != nil {
		return err
	}
	if err := unix.Renameat(pfd, tmp, pfd, previous); err != nil {
		return fmt.Errorf("keeping the previous %s: %w", p, err)
	}
	return syncAt(parent)
}

// openDirAll opens host directory p for reading, creating it and its
// parents (0755 less the umask) when missing; symlinks on the way resolve
// inside the root.
func (f *FS) openDirAll(p string) (*dir, error) {
	root, err := os.OpenFile(f.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	h, err := pathrs.MkdirAllHandle(root, p, 0o755)
	if err != nil {
		return nil, fmt.Errorf("mkdir %s under %s: %w", p, f.root, err)
	}
	defer h.Close()
	// The handle is O_PATH: reopen it to list and fsync the directory.
	return openDirAt(&dir{File: h, host: p}, ".")
}

// removeStale removes what crashed installs left in dir: names starting
// with prefix.
func removeStale(d *dir, prefix string) error {
	names, err := d.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			if err := removeAllAt(d, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// mkdirTemp makes and opens a new directory prefix+random in dir.
func mkdirTemp(d *dir, prefix string) (string, *dir, error) {
	for try := 0; ; try++ {
		name := prefix + strconv.FormatUint(rand.Uint64(), 36)
		sub, err := mkdirAt(d, name, true)
		if errors.Is(err, unix.EEXIST) && try < 100 {
			continue
		}
		return name, sub, err
	}
}

// mkdirAt makes directory name in dir, 0755 whatever the umask, and opens
// it, never through a symlink. Unless excl, a directory already there is
// opened as it is.
func mkdirAt(d *dir, name string, excl bool) (*dir, error) {
	err := unix.Mkdirat(d.fd(), name, 0o700)
	made := err == nil
	if err != nil && (excl || !errors.Is(err, unix.EEXIST)) {
		return nil, err
	}
	sub, err := openDirAt(d, name)
	if err != nil || !made {
		return sub, err
	}
	if err := sub.Chmod(0o755); err != nil {
		sub.Close()
		return nil, err
	}
	return sub, nil
}

// removeAllAt removes name in dir and everything below it; a symlink is
// removed, never followed. A missing name is not an error.
func removeAllAt(d *dir, name string) error {
	err := unix.Unlinkat(d.fd(), name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	sub, err := openDirAt(d, name)
	if err != nil {
		return err
	}
	names, err := sub.Readdirnames(-1)
	for _, n := range names {
		if err == nil {
			err = removeAllAt(sub, n)
		}
	}
	sub.Close()
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(d.fd(), name, unix.AT_REMOVEDIR); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// CheckArchive reads an archive as InstallTree would unpack it, into a
// model of the tree, writing nothing: the *UnsafeEntryError InstallTree
// would refuse it with, or an error reading it. An archive can so be
// refused before a run changes anything.
func CheckArchive(tr *tar.Reader, entry TreeEntry) error {
	t := &tree{top: memDir{}}
	return t.unpack(tr, entry)
}

// tree is a directory being built from an archive. Each entry is made
// relative to a handle of the directory that holds it, reached from the
// top through real directories only, so nothing an earlier entry made (a
// symlink above all) can send a later one elsewhere.
type tree struct {
	top   treeDir
	links []madeLink
}

// treeDir is a directory of a tree: a handle of a real one (osDir) or a
// model (memDir). Both fail as the kernel does: EEXIST for a name already
// there, ENOTDIR opening a symlink or a file as a directory, ENOENT for a
// missing name, EINVAL reading a link that is not one.
type treeDir interface {
	mkdir(name string) (treeDir, error) // a directory already there is opened
	open(name string) (treeDir, error)
	create(name string, r io.Reader, perm fs.FileMode) error
	symlink(target, name string) error
	link(name string, from treeDir, fromName string) error
	kind(name string) (uint32, error) // unix.S_IFMT bits, not followed
	readlink(name string) (string, error)
	removeAll(name string) error
	Close() error
}

// osDir is a real directory, through its handle.
type osDir struct{ *dir }

func (d osDir) mkdir(name string) (treeDir, error) { return wrapDir(mkdirAt(d.dir, name, false)) }
func (d osDir) open(name string) (treeDir, error)  { return wrapDir(openDirAt(d.dir, name)) }
func (d osDir) create(name string, r io.Reader, perm fs.FileMode) error {
	return createAt(d.dir, name, r, perm)
}
func (d osDir) symlink(target, name string) error { return unix.Symlinkat(target, d.fd(), name) }
func (d osDir) link(name string, from treeDir, fromName string) error {
	return unix.Linkat(from.(osDir).fd(), fromName, d.fd(), name, 0)
}
func (d osDir) kind(name string) (uint32, error) {
	var st unix.Stat_t
	err := unix.Fstatat(d.fd(), name, &st, unix.AT_SYMLINK_NOFOLLOW)
	return st.Mode & unix.S_IFMT, err
}
func (d osDir) readlink(name string) (string, error) { return readlinkAt(d.dir, name) }
func (d osDir) removeAll(name string) error          { return removeAllAt(d.dir, name) }

func wrapDir(d *dir, err error) (treeDir, error) {
	if err != nil {
		return nil, err
	}
	return osDir{d}, nil
}

// memDir models a directory: names to what they are.
type memDir map[string]*memNode

type memNode struct {
	kind   uint32 // unix.S_IFDIR, S_IFREG or S_IFLNK
	target string // of a symlink
	dir    memDir
}

func (d memDir) mkdir(name string) (treeDir, error) {
	if d[name] == nil {
		d[name] = &memNode{kind: unix.S_IFDIR, dir: memDir{}}
	}
	return d.open(name)
}
func (d memDir) open(name string) (treeDir, error) {
	if name == "." {
		return d, nil
	}
	switch n := d[name]; {
	case n == nil:
		return nil, unix.ENOENT
	case n.kind != unix.S_IFDIR:
		return nil, unix.ENOTDIR
	default:
		return n.dir, nil
	}
}
func (d memDir) create(name string, _ io.Reader, _ fs.FileMode) error {
	return d.add(name, &memNode{kind: unix.S_IFREG})
}
func (d memDir) symlink(target, name string) error {
	return d.add(name, &memNode{kind: unix.S_IFLNK, target: target})
}
func (d memDir) link(name string, from treeDir, fromName string) error {
	n := from.(memDir)[fromName]
	if n == nil {
		return unix.ENOENT
	}
	return d.add(name, n)
}
func (d memDir) add(name string, n *memNode) error {
	if d[name] != nil {
		return unix.EEXIST
	}
	d[name] = n
	return nil
}
func (d memDir) kind(name string) (uint32, error) {
	if n := d[name]; n != nil {
		return n.kind, nil
	}
	return 0, unix.ENOENT
}
func (d memDir) readlink(name string) (string, error) {
	switch n := d[name]; {
	case n == nil:
		return "", unix.ENOENT
	case n.kind != unix.S_IFLNK:
		return "", unix.EINVAL
	default:
		return n.target, nil
	}
}
func (d memDir) removeAll(name string) error { delete(d, name); return nil }
func (d memDir) Close() error                { return nil }

type madeLink struct{ name, rel, target string }

// unpack makes the archive's entries in the tree. An entry is refused,
// and with it the archive, when its name (or a hard link's target) is
// absolute or names "..", goes through a symlink or a file, or would
// replace something an earlier entry made; and when it is not a regular
// file, directory, symlink or hard link to a regular file.
//
// A symlink is made with its target as written, and is refused when that
// target is absolute or resolves outside the tree, through the tree's own
// links, as the kernel will follow it once installed: the tree is swapped
// in at its place on the host, where such a link would point at the
// host's files. Relative links that stay inside, ".." included (kata-static
// has them), are kept.
//
// Directories are 0755; files keep their permission bits only, as nothing
// installed this way needs setuid, setgid or sticky bits.
func (t *tree) unpack(tr *tar.Reader, entry TreeEntry) error {
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if why := badPath(hdr.Name); why != "" {
			return unsafeEntry(hdr.Name, "%s", why)
		}
		rel, ok := entry(hdr.Name)
		if !ok {
			continue
		}
		if why := badPath(rel); why != "" {
			return unsafeEntry(hdr.Name, "%s", why)
		}
		if err := t.add(tr, hdr, path.Clean(rel), entry); err != nil {
			return entryError(hdr.Name, err)
		}
	}
	// A link checked when made may run through links made after it.
	for _, l := range t.links {
		if err := t.checkLink(l.name, path.Dir(l.rel), l.target); err != nil {
			return entryError(l.name, err)
		}
	}
	return nil
}

// badPath says why p cannot name a place in the tree, or "".
func badPath(p string) string {
	if path.IsAbs(p) {
		return "is an absolute path"
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return `names ".."`
		}
	}
	return ""
}

// entryError names the entry in err. Making a name that is there already
// fails with EEXIST, or for a directory ENOTDIR (ELOOP on some kernels).
func entryError(name string, err error) error {
	var unsafe *UnsafeEntryError
	switch {
	case err == nil || errors.As(err, &unsafe):
		return err
	case errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR):
		return unsafeEntry(name, "would replace what an earlier entry made")
	default:
		return fmt.Errorf("archive entry %q: %w", name, err)
	}
}

// add makes one entry in the tree.
func (t *tree) add(tr *tar.Reader, hdr *tar.Header, rel string, entry TreeEntry) error {
	name := hdr.Name
	switch hdr.Typeflag {
	case tar.TypeDir, tar.TypeReg, tar.TypeSymlink, tar.TypeLink:
	case tar.TypeChar, tar.TypeBlock:
		return unsafeEntry(name, "is a device")
	case tar.TypeFifo:
		return unsafeEntry(name, "is a FIFO")
	default:
		return unsafeEntry(name, "has type %q, which an install tree does not hold", string(hdr.Typeflag))
	}
	if rel == "." {
		if hdr.Typeflag == tar.TypeDir {
			return nil // the top, made 0755 already
		}
		return unsafeEntry(name, "would replace the tree itself")
	}
	if hdr.Typeflag == tar.TypeSymlink {
		// Refused before anything is made for it.
		if err := t.checkLink(name, path.Dir(rel), hdr.Linkname); err != nil {
			return err
		}
	}
	dir, err := t.dir(name, path.Dir(rel), true)
	if err != nil {
		return err
	}
	defer dir.Close()
	base := path.Base(rel)
	switch hdr.Typeflag {
	case tar.TypeDir:
		var d treeDir
		if d, err = dir.mkdir(base); err == nil {
			d.Close()
		}
	case tar.TypeReg:
		err = dir.create(base, tr, fs.FileMode(hdr.Mode)&fs.ModePerm)
	case tar.TypeSymlink:
		if err = dir.symlink(hdr.Linkname, base); err == nil {
			t.links = append(t.links, madeLink{name: name, rel: rel, target: hdr.Linkname})
		}
	case tar.TypeLink:
		err = t.hardLink(name, hdr.Linkname, dir, base, entry)
	}
	return err
}

// dir opens directory rel of the tree one name at a time, each a real
// directory, creating the missing ones when create is set.
func (t *tree) dir(name, rel string, create bool) (treeDir, error) {
	d, err := t.top.open(".")
	if err != nil {
		return nil, err
	}
	if rel == "." {
		return d, nil
	}
	parts := strings.Split(rel, "/")
	for i, c := range parts {
		var next treeDir
		if create {
			next, err = d.mkdir(c)
		} else {
			next, err = d.open(c)
		}
		at := path.Join(parts[:i+1]...)
		switch {
		case err == nil:
		case (errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR)) && isSymlink(d, c):
			err = unsafeEntry(name, "goes through the symlink %s", at)
		case errors.Is(err, unix.ENOTDIR):
			err = unsafeEntry(name, "goes through %s, which is not a directory", at)
		case errors.Is(err, unix.ENOENT) && !create:
			err = unsafeEntry(name, "needs %s, which is not in the tree", at)
		default:
			err = fmt.Errorf("%s: %w", at, err)
		}
		d.Close()
		if err != nil {
			return nil, err
		}
		d = next
	}
	return d, nil
}

func isSymlink(dir treeDir, name string) bool {
	k, err := dir.kind(name)
	return err == nil && k == unix.S_IFLNK
}

// createAt makes a new file name in dir with what r holds and mode perm,
// whatever the umask.
func createAt(d *dir, name string, r io.Reader, perm fs.FileMode) error {
	fd, err := unix.Openat(d.fd(), name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	out := os.NewFile(uintptr(fd), name)
	_, err = io.Copy(out, r)
	if err == nil {
		err = out.Chmod(perm)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// hardLink links base in dir to the regular file target names, found in
// the tree the same way as an entry's parent.
func (t *tree) hardLink(name, target string, dir treeDir, base string, entry TreeEntry) error {
	if why := badPath(target); why != "" {
		return unsafeEntry(name, "links to %q, which %s", target, why)
	}
	src, ok := entry(target)
	if !ok {
		return unsafeEntry(name, "links to %q, which is outside the tree", target)
	}
	if why := badPath(src); why != "" {
		return unsafeEntry(name, "links to %q, which %s", target, why)
	}
	src = path.Clean(src)
	sdir, err := t.dir(name, path.Dir(src), false)
	var unsafe *UnsafeEntryError
	if errors.As(err, &unsafe) {
		return unsafeEntry(name, "links to %q, which %s", target, unsafe.Reason)
	}
	if err != nil {
		return err
	}
	defer sdir.Close()
	k, err := sdir.kind(path.Base(src))
	if errors.Is(err, unix.ENOENT) {
		return unsafeEntry(name, "links to %q, which is not in the tree", target)
	}
	if err != nil {
		return err
	}
	if k != unix.S_IFREG {
		// A symlink linked elsewhere would resolve from another directory.
		return unsafeEntry(name, "links to %q, which is not a regular file", target)
	}
	return dir.link(base, sdir, path.Base(src))
}

// checkLink refuses a symlink in directory dir of the tree whose target
// leaves the tree, following the links the tree holds as the kernel will
// once it is installed: each ".." from where the walk really is. A name
// not in the tree is taken as a directory, as something may make it later.
func (t *tree) checkLink(name, dir, target string) error {
	if path.IsAbs(target) {
		return unsafeEntry(name, "is a symlink to %q, outside the tree", target)
	}
	var at []string
	if dir != "." {
		at = strings.Split(dir, "/")
	}
	todo := strings.Split(target, "/")
	for hops := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(at) == 0 {
				return unsafeEntry(name, "is a symlink to %q, which resolves outside the tree", target)
			}
			at = at[:len(at)-1]
			continue
		}
		next, err := t.readlink(path.Join(path.Join(at...), c))
		if err != nil {
			return err
		}
		if next == "" {
			at = append(at, c)
			continue
		}
		if hops++; hops > maxLinkHops {
			return unsafeEntry(name, "is a symlink to %q, which goes through more than %d links", target, maxLinkHops)
		}
		if path.IsAbs(next) {
			return unsafeEntry(name, "is a symlink to %q, which resolves outside the tree", target)
		}
		todo = append(strings.Split(next, "/"), todo...)
	}
	return nil
}

// readlink returns the target of rel in the tree when it is a symlink,
// "" when it is anything else or missing.
func (t *tree) readlink(rel string) (string, error) {
	d, err := t.dir(rel, path.Dir(rel), false)
	var unsafe *UnsafeEntryError
	if errors.As(err, &unsafe) {
		return "", nil // a parent is missing or not a directory
	}
	if err != nil {
		return "", err
	}
	defer d.Close()
	target, err := d.readlink(path.Base(rel))
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return "", nil
	}
	return target, err
}

// replaceFile writes a file of ours at rel in the tree, 0644, in place of
// anything the archive put there.
func (t *tree) replaceFile(rel string, data []byte) error {
	rel = strings.TrimPrefix(path.Clean("/"+rel), "/")
	dir, err := t.dir(rel, path.Dir(rel), true)
	if err != nil {
		return err
	}
	defer dir.Close()
	if err := dir.removeAll(path.Base(rel)); err != nil {
		return err
	}
	if err := dir.create(path.Base(rel), bytes.NewReader(data), 0o644); err != nil {
		return fmt.Errorf("write %s in the new tree: %w", rel, err)
	}
	return nil
}

// syncTree flushes the file system holding the new tree, so that the swap
// never exposes a tree whose contents are still only in the page cache:
// one syncfs(2) instead of an fsync per file.
func syncTree(top *dir) error {
	if err := unix.Syncfs(int(top.Fd())); err != nil {
		return fmt.Errorf("syncfs: %w", err)
	}
	return nil
}
