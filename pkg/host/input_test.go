package host

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestReadInputRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for path, kind := range map[string]string{dir: "directory", fifo: "FIFO", sock: "socket", "/dev/zero": "device"} {
		_, err := ReadInput(path, 10)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Path != path || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), kind) {
			t.Errorf("ReadInput(%s) = %v, want an InputError naming the %s", path, err, kind)
		}
		if f, err := OpenInput(path); err == nil {
			f.Close()
			t.Errorf("OpenInput(%s) opened a %s", path, kind)
		}
	}
}

func TestReadInputRefusesALargeFileUnread(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sparse")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	// 8 GiB of nothing: reading it would take long, its size says no at once.
	if err := f.Truncate(8 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = ReadInput(p, 1<<20)
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "too large (8589934592 bytes, the limit is 1 MiB)") {
		t.Fatalf("ReadInput of an 8 GiB file: %v", err)
	}
}

func TestReadInputStopsAtTheLimitWhenTheSizeIsUnknown(t *testing.T) {
	// /proc files report size 0 and still have content.
	_, err := ReadInput("/proc/self/status", 16)
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "too large (more, the limit is 16 bytes)") {
		t.Fatalf("ReadInput of /proc/self/status with a 16-byte limit: %v", err)
	}
	if b, err := ReadInput("/proc/self/status", MaxText); err != nil || !strings.Contains(string(b), "Name:") {
		t.Fatalf("ReadInput of /proc/self/status: %q, %v", b, err)
	}
}

func TestFSReadTextNamesTheHostPath(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc", "fstab"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := NewFS(root).ReadText("/etc/fstab")
	if err == nil || !strings.HasPrefix(err.Error(), "/etc/fstab: not a regular file (a directory)") {
		t.Fatalf("ReadText of a directory: %v", err)
	}
	if _, err := NewFS(root).ReadText("/etc/missing"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadText of a missing file: %v, want ErrNotExist", err)
	}
}

// TestFSReadFileIsAnInput: every host file read whole is an input: under
// --root a FIFO or device where /proc/cpuinfo or a kernel config is
// expected is refused at once, naming the host path.
func TestFSReadFileIsAnInput(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "proc/cpuinfo"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := NewFS(root).ReadFile("/proc/cpuinfo")
	var ie *InputError
	if !errors.As(err, &ie) || ie.Path != "/proc/cpuinfo" || !strings.Contains(err.Error(), "FIFO") {
		t.Fatalf("ReadFile of a FIFO = %v, want an InputError naming /proc/cpuinfo", err)
	}
	// The real /proc tells no size and is read all the same.
	if b, err := NewFS("/").ReadFile("/proc/self/status"); err != nil || !strings.Contains(string(b), "Pid:") {
		t.Fatalf("ReadFile(/proc/self/status) = %.40q, %v", b, err)
	}
}
