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
func (f *FS) Lock(p string) (release func(), err error) {
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
