package host

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Live changes the running kernel. Under --root every method returns ErrNotLive.
type Live interface {
	SetSysctl(key, value string) error // writes /proc/sys/...
	Swapoff(path string) error         // swapoff(2)
	SetEnforce(enforcing bool) error   // writes /sys/fs/selinux/enforce
	LoadModule(name string) error      // modprobe NAME
}

const selinuxEnforce = "/sys/fs/selinux/enforce"

// sysctlPath maps "net.ipv4.ip_forward" (or "net/ipv4/ip_forward") to
// /proc/sys/net/ipv4/ip_forward, refusing keys that would leave /proc/sys.
func sysctlPath(key string) (string, error) {
	k := key
	if !strings.Contains(k, "/") {
		k = strings.ReplaceAll(k, ".", "/")
	}
	for _, part := range strings.Split(k, "/") {
		if part == "" || part == "." || part == ".." {
			return "", fmt.Errorf("sysctl %q: invalid key", key)
		}
	}
	return "/proc/sys/" + k, nil
}

// Sysctl reads a sysctl under the root, trimmed.
func (h *Host) Sysctl(key string) (string, error) {
	p, err := sysctlPath(key)
	if err != nil {
		return "", err
	}
	b, err := h.FS.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("sysctl %s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// KernelRelease is the running kernel's release ("uname -r").
func (h *Host) KernelRelease() (string, error) {
	b, err := h.FS.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "", fmt.Errorf("kernel release: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Swap is one active swap area from /proc/swaps.
type Swap struct {
	Path    string
	Type    string // partition, file
	SizeKiB int64
}

// Swaps lists the active swap areas.
func (h *Host) Swaps() ([]Swap, error) {
	b, err := h.FS.ReadFile("/proc/swaps")
	if err != nil {
		return nil, fmt.Errorf("swaps: %w", err)
	}
	var out []Swap
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 0; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if line == 0 || len(fields) == 0 { // header
			continue
		}
		if len(fields) < 3 {
			return nil, fmt.Errorf("/proc/swaps line %d: %q: too few fields", line+1, sc.Text())
		}
		size, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("/proc/swaps line %d: size: %w", line+1, err)
		}
		out = append(out, Swap{Path: unescapeOctal(fields[0]), Type: fields[1], SizeKiB: size})
	}
	return out, sc.Err()
}

// unescapeOctal undoes the kernel's \040-style escaping of spaces, tabs,
// newlines and backslashes in paths (as in /proc/swaps and /proc/mounts).
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// SELinuxMode is the current SELinux mode.
type SELinuxMode int

const (
	SELinuxDisabled SELinuxMode = iota
	SELinuxPermissive
	SELinuxEnforcing
)

func (m SELinuxMode) String() string {
	switch m {
	case SELinuxPermissive:
		return "permissive"
	case SELinuxEnforcing:
		return "enforcing"
	default:
		return "disabled"
	}
}

// SELinux reads the mode from selinuxfs; no selinuxfs means disabled.
func (h *Host) SELinux() (SELinuxMode, error) {
	b, err := h.FS.ReadFile(selinuxEnforce)
	if isNotExist(err) {
		return SELinuxDisabled, nil
	}
	if err != nil {
		return SELinuxDisabled, fmt.Errorf("selinux: %w", err)
	}
	switch v := strings.TrimSpace(string(b)); v {
	case "1":
		return SELinuxEnforcing, nil
	case "0":
		return SELinuxPermissive, nil
	default:
		return SELinuxDisabled, fmt.Errorf("selinux: %s: unexpected %q", selinuxEnforce, v)
	}
}

// liveKernel changes the kernel of this machine (root "/").
type liveKernel struct{ run Runner }

func (liveKernel) SetSysctl(key, value string) error {
	p, err := sysctlPath(key)
	if err != nil {
		return err
	}
	// /proc/sys files take a plain write; there is nothing to make atomic.
	if err := os.WriteFile(p, []byte(value), 0); err != nil {
		return fmt.Errorf("set sysctl %s=%s: %w", key, value, err)
	}
	return nil
}

func (liveKernel) Swapoff(path string) error {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return fmt.Errorf("swapoff %s: %w", path, err)
	}
	if _, _, errno := unix.Syscall(unix.SYS_SWAPOFF, uintptr(unsafe.Pointer(p)), 0, 0); errno != 0 {
		return fmt.Errorf("swapoff %s: %w", path, errno)
	}
	return nil
}

func (liveKernel) SetEnforce(enforcing bool) error {
	v := "0"
	if enforcing {
		v = "1"
	}
	if err := os.WriteFile(selinuxEnforce, []byte(v), 0); err != nil {
		return fmt.Errorf("setenforce %s: %w", v, err)
	}
	return nil
}

func (k liveKernel) LoadModule(name string) error {
	if name == "" || strings.HasPrefix(name, "-") {
		return fmt.Errorf("load module %q: invalid name", name)
	}
	if err := k.run.Run(context.Background(), Cmd{Argv: []string{"modprobe", name}}); err != nil {
		return fmt.Errorf("load module %s: %w", name, err)
	}
	return nil
}

// offlineKernel stands in for Live under --root.
type offlineKernel struct{}

func (offlineKernel) SetSysctl(key, value string) error {
	return fmt.Errorf("set sysctl %s=%s: %w", key, value, ErrNotLive)
}

func (offlineKernel) Swapoff(path string) error {
	return fmt.Errorf("swapoff %s: %w", path, ErrNotLive)
}

func (offlineKernel) SetEnforce(bool) error {
	return fmt.Errorf("setenforce: %w", ErrNotLive)
}

func (offlineKernel) LoadModule(name string) error {
	return fmt.Errorf("load module %s: %w", name, ErrNotLive)
}
