package host

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"golang.org/x/term"
)

// MaxText bounds a host configuration file eksd-kata reads (fstab,
// containerd's config.toml, a sysctl file): real ones are a few KB.
const MaxText = 1 << 20

// MaxRead bounds any other host file eksd-kata reads whole: the largest are
// /proc/cpuinfo of a many-CPU machine and a kernel's config, under 1 MB.
const MaxRead = 16 << 20

// InputError is a file that cannot be read as an input: not a regular file
// (a FIFO would block the read, a device never ends) or larger than its
// limit. It comes wrapped as bad input (badinput.Error): the command
// changes nothing and exits 2.
type InputError struct {
	Path   string
	Reason string
}

func (e *InputError) Error() string { return e.Path + ": " + e.Reason }

// ReadInput reads a file the operator names on the command line (a path on
// this machine, relative to the working directory), at most limit bytes.
func ReadInput(path string, limit int64) ([]byte, error) {
	return readRegular(path, path, limit)
}

// OpenInput opens a file the operator names (an archive) for streaming: it
// must be a regular file, and opening it never blocks.
func OpenInput(path string) (*os.File, error) {
	return openRegular(path, path)
}

// InputExists reports whether a path the operator names (on this machine,
// relative to the working directory) exists: a command-line argument that
// may be a file or a name is then a file.
func InputExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// ReadText reads host path p, a configuration file of at most MaxText bytes.
func (f *FS) ReadText(p string) ([]byte, error) {
	return f.ReadInput(p, MaxText)
}

// ReadInput reads host path p, a regular file of at most limit bytes.
func (f *FS) ReadInput(p string, limit int64) ([]byte, error) {
	real, err := f.Resolve(p)
	if err != nil {
		return nil, err
	}
	return readRegular(real, p, limit)
}

// OpenInput opens host path p, a regular file, for reading without blocking.
func (f *FS) OpenInput(p string) (*os.File, error) {
	real, err := f.Resolve(p)
	if err != nil {
		return nil, err
	}
	return openRegular(real, p)
}

// openRegular opens real, named name in errors. The stat before the open
// refuses a FIFO or device without touching it; O_NONBLOCK and the fstat
// after it catch one swapped in between, since opening a FIFO for reading
// would otherwise wait for a writer.
func openRegular(real, name string) (*os.File, error) {
	fi, err := os.Stat(real)
	if err != nil {
		return nil, err
	}
	if err := checkRegular(fi, name); err != nil {
		return nil, err
	}
	file, err := os.OpenFile(real, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if fi, err = file.Stat(); err == nil {
		err = checkRegular(fi, name)
	}
	if err != nil {
		file.Close()
		return nil, err
	}
	return file, nil
}

// readRegular reads real (named name in errors), refusing it unread when
// its size is over limit and stopping at limit+1 bytes when it grows or
// reports no size (/proc).
func readRegular(real, name string, limit int64) ([]byte, error) {
	file, err := openRegular(real, name)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, tooLarge(name, fi.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(file, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(name, -1, limit)
	}
	return data, nil
}

func checkRegular(fi fs.FileInfo, name string) error {
	if fi.Mode().IsRegular() {
		return nil
	}
	kind := "a special file"
	switch t := fi.Mode().Type(); {
	case t&fs.ModeDir != 0:
		kind = "a directory"
	case t&fs.ModeNamedPipe != 0:
		kind = "a FIFO"
	case t&fs.ModeSocket != 0:
		kind = "a socket"
	case t&fs.ModeDevice != 0:
		kind = "a device"
	}
	return badinput.Wrap(&InputError{Path: name, Reason: "not a regular file (" + kind + "): give a file"})
}

func tooLarge(name string, size, limit int64) error {
	have := "more"
	if size >= 0 {
		have = fmt.Sprintf("%d bytes", size)
	}
	return badinput.Wrap(&InputError{Path: name, Reason: fmt.Sprintf("too large (%s, the limit is %s): not the file meant", have, sizeText(limit))})
}

// sizeText says a limit in the unit people think of it in.
func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// StatInput stats a file the operator names on the command line.
func StatInput(path string) (fs.FileInfo, error) { return os.Stat(path) }

// Identity tells whether a file changed since it was looked at: any change
// of its content changes its ctime. Zero when the file system says nothing.
type Identity struct {
	Dev, Ino, Size, MtimeNs, CtimeNs int64
}

// IdentityOf is the identity of the file fi describes, and whether there is one.
func IdentityOf(fi fs.FileInfo) (Identity, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Identity{}, false
	}
	return Identity{
		Dev: int64(st.Dev), Ino: int64(st.Ino), Size: st.Size,
		MtimeNs: st.Mtim.Nano(), CtimeNs: st.Ctim.Nano(),
	}, true
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
