package host

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned by Lock when another process holds the lock.
var ErrLocked = errors.New("another eksd-kata is running on this host")

// Lock takes an exclusive, non-blocking flock on p (under the root), so two
// runs never change one host at once. The kernel drops the lock when the
// process dies, so a crash never leaves it stale. release unlocks.
//
// Under any root but /, the flock is on the root directory itself and p is
// not used: that tree is a node image being prepared, and a run must leave
// nothing in it but what it changes on purpose (a lock file and the run/
// it needs would stay after reset). The directory's inode names the tree
// however it is reached (a symlink, a bind mount), and nothing is left
// outside it either. On / the lock file is in /run, a tmpfs.
func (f *FS) Lock(p string) (release func(), err error) {
	if f.root != "/" {
		return lockRoot(f.root)
	}
	s, err := f.locate(p, true)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if err := f.makeParents(s, false); err != nil {
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	fd, err := unix.Openat(s.dir.fd(), s.name, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	file := os.NewFile(uintptr(fd), s.host())
	if err := unix.Flock(int(file.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder, _ := io.ReadAll(io.LimitReader(file, 32))
		file.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(holder))
			return nil, fmt.Errorf("%w (lock %s held by pid %s); wait for it to finish", ErrLocked, p, pid)
		}
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	// The pid is only for the message above; the flock is the lock.
	_ = file.Truncate(0)
	_, _ = file.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = unix.Flock(int(file.Fd()), unix.LOCK_UN)
		file.Close()
	}, nil
}

// lockRoot takes the flock on the root directory (see Lock).
func lockRoot(root string) (release func(), err error) {
	dir, err := os.Open(root)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", root, err)
	}
	if err := unix.Flock(int(dir.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer dir.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (lock on %s held by pid %s); wait for it to finish", ErrLocked, root, flockHolder(dir))
		}
		return nil, fmt.Errorf("lock %s: %w", root, err)
	}
	return func() {
		_ = unix.Flock(int(dir.Fd()), unix.LOCK_UN)
		dir.Close()
	}, nil
}

// flockHolder finds the pid holding a flock on f in /proc/locks, whose
// lines read "1: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE 0 EOF" (major and
// minor in hex); "unknown" when it is not there.
func flockHolder(f *os.File) string {
	var st unix.Stat_t
	locks, err := os.ReadFile("/proc/locks")
	if err != nil || unix.Fstat(int(f.Fd()), &st) != nil {
		return "unknown"
	}
	id := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	for _, line := range strings.Split(string(locks), "\n") {
		if fields := strings.Fields(line); len(fields) >= 6 && fields[1] == "FLOCK" && fields[5] == id {
			return fields[4]
		}
	}
	return "unknown"
}
