package preflight

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"strings"
	"sync"
	"syscall"

	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// facts are read once and shared by several checks.
type facts struct {
	cpuOnce sync.Once
	cpu     cpuInfo
	cpuErr  error

	kvmOnce sync.Once
	kvm     kvmState

	releaseOnce sync.Once

	ctr  ctrFacts
	kata kataFacts
}

// cpuInfo is what /proc/cpuinfo says.
type cpuInfo struct {
	Count  int             // "processor" entries
	Vendor string          // GenuineIntel, AuthenticAMD, ...
	Flags  map[string]bool // x86 "flags" (arm64 "Features") of the first CPU
	X86    bool
}

func (e *Env) cpuInfo() (cpuInfo, error) {
	e.facts.cpuOnce.Do(func() {
		b, err := e.Host.FS.ReadFile("/proc/cpuinfo")
		if err != nil {
			e.facts.cpuErr = err
			return
		}
		e.facts.cpu = parseCPUInfo(b)
	})
	return e.facts.cpu, e.facts.cpuErr
}

func parseCPUInfo(b []byte) cpuInfo {
	ci := cpuInfo{Flags: map[string]bool{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	seenFlags := false
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "processor":
			ci.Count++
		case "vendor_id":
			ci.Vendor, ci.X86 = v, true
		case "flags", "Features":
			if seenFlags {
				continue
			}
			seenFlags = true
			for _, f := range strings.Fields(v) {
				ci.Flags[f] = true
			}
		}
	}
	return ci
}

// kvmState is where KVM comes from and whether /dev/kvm works.
type kvmState struct {
	Module  string // kvm_intel, kvm_amd, kvm_pvm, or "" when none is present
	Present bool   // /dev/kvm exists under the root
	Probed  bool   // the device was opened (running system only)
	Info    host.KVMInfo
	Err     error // from the probe
}

// kvmVendorModules are the KVM back ends, in the order we report them:
// hardware first, PVM (page-table based, no VMX/SVM needed) last.
var kvmVendorModules = []string{"kvm_intel", "kvm_amd", "kvm_pvm"}

func (e *Env) kvmState() kvmState {
	e.facts.kvmOnce.Do(func() {
		s := &e.facts.kvm
		// A KVM vendor module has parameters, so when loaded or built in it
		// always has /sys/module/<name>: no need for Host.Module's slower
		// sources (it may gunzip /proc/config.gz).
		for _, m := range kvmVendorModules {
			if ok, _ := e.Host.FS.Exists("/sys/module/" + m); ok {
				s.Module = m
				break
			}
		}
		s.Present, _ = e.Host.FS.Exists(kvmDevice)
		if !s.Present || e.KVM == nil {
			return
		}
		real, err := e.Host.FS.Resolve(kvmDevice)
		if err != nil {
			s.Err = err
			return
		}
		s.Probed = true
		s.Info, s.Err = e.KVM.Probe(real)
	})
	return e.facts.kvm
}

// kvmUsable reports whether /dev/kvm was opened and could create a VM.
func (s kvmState) usable() bool { return s.Probed && s.Err == nil && s.Info.CreateVM }

// readTrim reads a small host file, trimmed; ok is false when it is missing.
func (e *Env) readTrim(p string) (string, bool, error) {
	b, err := e.Host.FS.ReadFile(p)
	if notExist(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return strings.TrimSpace(string(b)), true, nil
}

func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

func permission(err error) bool { return errors.Is(err, fs.ErrPermission) }
