package host

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
)

// ModuleState is what the kernel can do with a module.
type ModuleState int

const (
	ModuleMissing  ModuleState = iota // neither built in nor available
	ModuleLoadable                    // a .ko exists (or the config says =m), not loaded
	ModuleLoaded                      // loaded now
	ModuleBuiltin                     // compiled into the kernel
)

func (s ModuleState) String() string {
	switch s {
	case ModuleLoadable:
		return "loadable"
	case ModuleLoaded:
		return "loaded"
	case ModuleBuiltin:
		return "built-in"
	default:
		return "missing"
	}
}

// moduleConfig maps the modules we care about to their Kconfig symbol, for
// kernels that say nothing else about them: a built-in module without
// parameters has no /sys/module entry, and without CONFIG_MODULES there is no
// /lib/modules either.
var moduleConfig = map[string]string{
	"br_netfilter": "BRIDGE_NETFILTER",
	"overlay":      "OVERLAY_FS",
	"bridge":       "BRIDGE",
	"vhost":        "VHOST",
	"vhost_net":    "VHOST_NET",
	"vhost_vsock":  "VHOST_VSOCK",
	"kvm":          "KVM",
	"kvm_intel":    "KVM_INTEL",
	"kvm_amd":      "KVM_AMD",
	"nf_conntrack": "NF_CONNTRACK",
	"ip_tables":    "IP_NF_IPTABLES",
	"veth":         "VETH",
	"vxlan":        "VXLAN",
}

// modName normalises a module name: the kernel treats '-' and '_' alike.
func modName(s string) string { return strings.ReplaceAll(s, "-", "_") }

// koName returns the module name of a path like kernel/net/bridge/br_netfilter.ko.zst.
func koName(p string) (string, bool) {
	base := path.Base(p)
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		base = strings.TrimSuffix(base, ext)
	}
	name, ok := strings.CutSuffix(base, ".ko")
	return modName(name), ok
}

// Module finds out whether module name is loaded, built in, loadable or
// missing, from files under the root only (so it works on fixtures), asking
// the most direct source first.
func (h *Host) Module(name string) (ModuleState, error) {
	name = modName(name)
	if name == "" || strings.Contains(name, "/") {
		return ModuleMissing, fmt.Errorf("module %q: invalid name", name)
	}

	state, err := h.module(name)
	if err != nil {
		return ModuleMissing, fmt.Errorf("module %s: %w", name, err)
	}
	return state, nil
}

func (h *Host) module(name string) (ModuleState, error) {
	found, err := h.scanLines("/proc/modules", func(line string) bool {
		f := strings.Fields(line)
		return len(f) > 0 && modName(f[0]) == name
	})
	if err != nil || found {
		return ModuleLoaded, err
	}

	sysfs, err := h.FS.Exists("/sys/module/" + name)
	if err != nil {
		return ModuleMissing, err
	}
	if sysfs {
		// Only modules that were loaded have an initstate.
		loaded, err := h.FS.Exists("/sys/module/" + name + "/initstate")
		if err != nil || loaded {
			return ModuleLoaded, err
		}
		return ModuleBuiltin, nil
	}

	release, err := h.KernelRelease()
	if err != nil && !isNotExist(err) {
		return ModuleMissing, err
	}
	if release != "" {
		found, err := h.scanLines("/lib/modules/"+release+"/modules.builtin", func(line string) bool {
			n, ok := koName(strings.TrimSpace(line))
			return ok && n == name
		})
		if err != nil || found {
			return ModuleBuiltin, err
		}
	}

	if sym, ok := moduleConfig[name]; ok {
		v, err := h.kernelConfig(release, "CONFIG_"+sym)
		if err != nil {
			return ModuleMissing, err
		}
		switch v {
		case "y":
			return ModuleBuiltin, nil
		case "m":
			return ModuleLoadable, nil
		}
	}

	if release != "" {
		found, err := h.scanLines("/lib/modules/"+release+"/modules.dep", func(line string) bool {
			ko, _, _ := strings.Cut(line, ":")
			n, ok := koName(ko)
			return ok && n == name
		})
		if err != nil || found {
			return ModuleLoadable, err
		}
	}
	return ModuleMissing, nil
}

// scanLines reports whether match accepts a line of host file p; a missing
// file matches nothing.
func (h *Host) scanLines(p string, match func(string) bool) (bool, error) {
	b, err := h.FS.ReadFile(p)
	if isNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return scan(bytes.NewReader(b), p, match)
}

func scan(r io.Reader, name string, match func(string) bool) (bool, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		if match(sc.Text()) {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("read %s: %w", name, err)
	}
	return false, nil
}

// kernelConfig returns the value of symbol ("y", "m", ...) from
// /proc/config.gz, else /boot/config-<release>; "" when neither has it.
func (h *Host) kernelConfig(release, symbol string) (string, error) {
	text, err := h.kernelConfigText(release)
	if err != nil {
		return "", err
	}
	// Every line is "\nSYMBOL=value"; text starts with a newline.
	_, rest, ok := bytes.Cut(text, []byte("\n"+symbol+"="))
	if !ok {
		return "", nil
	}
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i]
	}
	return string(rest), nil
}

// kernelConfigs caches the kernel configuration's text per root and
// release: it does not change while we run, every module check asks it, and
// /proc/config.gz must be decompressed to be read. Concurrent checks wait
// for the one read.
var kernelConfigs sync.Map

func (h *Host) kernelConfigText(release string) ([]byte, error) {
	key := h.Root() + "\x00" + release
	read, _ := kernelConfigs.LoadOrStore(key, sync.OnceValues(func() ([]byte, error) {
		return h.readKernelConfig(release)
	}))
	return read.(func() ([]byte, error))()
}

func (h *Host) readKernelConfig(release string) ([]byte, error) {
	b, err := h.FS.ReadFile("/proc/config.gz")
	switch {
	case err == nil:
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("/proc/config.gz: %w", err)
		}
		text, err := io.ReadAll(zr)
		if err != nil {
			return nil, fmt.Errorf("read /proc/config.gz: %w", err)
		}
		return append([]byte("\n"), text...), nil
	case !isNotExist(err):
		return nil, err
	}
	if release == "" {
		return nil, nil
	}
	text, err := h.FS.ReadFile("/boot/config-" + release)
	if err != nil && !isNotExist(err) {
		return nil, err
	}
	return append([]byte("\n"), text...), nil
}
