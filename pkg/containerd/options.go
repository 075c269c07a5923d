package containerd

import (
	"fmt"
	"path"
	"regexp"
)

// DefaultKataDir is where the kata-static release tarball installs.
const DefaultKataDir = "/opt/kata"

// Options says what Render writes.
type Options struct {
	// Version is the installed containerd version ("1.6.20", "2.4.2"); it
	// picks config version 2 (1.6/1.7) or 3 (2.x).
	Version string
	// SystemdCgroup sets runc's options.SystemdCgroup; it must match the
	// kubelet's cgroupDriver (systemd -> true).
	SystemdCgroup bool
	// SandboxImage is the pause reference kubeadm expects; empty leaves the
	// file's value alone.
	SandboxImage string
	// KataHandler names the generic Kata runtime; default "kata". It uses
	// the configuration of the first hypervisor (qemu when none).
	KataHandler string
	// Hypervisors adds one handler "kata-<hv>" each ("qemu", "clh", "fc").
	Hypervisors []string
	// KataShims tells which containerd-shim-kata-<hv>-v2 binaries exist;
	// only those get runtime_type io.containerd.kata-<hv>.v2.
	KataShims map[string]bool
	// KataDir is the Kata install prefix; default /opt/kata. Shims are
	// taken from KataDir/bin, configurations from
	// KataDir/share/defaults/kata-containers.
	KataDir string
	// InsecureHosts are registries (host[:port], not loopback) the kubelet
	// must reach over plain HTTP: on 1.6/1.7 the CRI plugin is pointed at
	// hosts.toml files, which the step then writes.
	InsecureHosts []string
	// SkipKata writes no Kata runtime at all (Kata disabled in the node config).
	SkipKata bool
	// KataCLI writes the 2020 tutorial's katacli runtime (kata-runtime as
	// an OCI runtime under the runc shim). Only Kata 1.x can run it.
	KataCLI bool
	// RestrictOOMScoreAdj sets restrict_oom_score_adj = true, for hosts
	// that refuse negative oom_score_adj; false leaves the file's value.
	RestrictOOMScoreAdj bool
	// KataPrivilegedWithoutHostDevices is written on every Kata runtime
	// (kata-deploy uses true so privileged pods do not get the host's
	// devices inside the VM).
	KataPrivilegedWithoutHostDevices bool
}

// Result is what Render produced.
type Result struct {
	Data          []byte   // the new config.toml, ending in a newline
	Notes         []string // what a human should know about the change
	ConfigVersion int      // version key of Data
	// HostsDir is where the CRI plugin reads hosts.toml files, when
	// Options.InsecureHosts asked for them ("" when it reads none).
	HostsDir string
}

// DefaultOptions returns the settings bootstrap uses unless told otherwise.
func DefaultOptions(containerdVersion string) Options {
	return Options{
		Version:                          containerdVersion,
		SystemdCgroup:                    true,
		KataHandler:                      "kata",
		Hypervisors:                      []string{"qemu"},
		KataDir:                          DefaultKataDir,
		KataPrivilegedWithoutHostDevices: true,
	}
}

var hypervisorRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// normalize fills defaults and rejects names containerd cannot take.
func (o Options) normalize() (Options, error) {
	if o.KataHandler == "" {
		o.KataHandler = "kata"
	}
	if o.KataDir == "" {
		o.KataDir = DefaultKataDir
	}
	if !path.IsAbs(o.KataDir) {
		return o, fmt.Errorf("KataDir %q must be an absolute path", o.KataDir)
	}
	if o.KataHandler == "runc" || o.KataHandler == "katacli" {
		return o, fmt.Errorf("KataHandler %q clashes with the %s runtime", o.KataHandler, o.KataHandler)
	}
	seen := map[string]bool{}
	var hvs []string
	for _, hv := range o.Hypervisors {
		if !hypervisorRE.MatchString(hv) {
			return o, fmt.Errorf("hypervisor %q: want lower-case letters, digits and '-' (qemu, clh, fc)", hv)
		}
		if !seen[hv] {
			seen[hv] = true
			hvs = append(hvs, hv)
		}
	}
	o.Hypervisors = hvs
	return o, nil
}

// defaultHypervisor is the one the generic Kata handler uses.
func (o Options) defaultHypervisor() string {
	if len(o.Hypervisors) > 0 {
		return o.Hypervisors[0]
	}
	return "qemu"
}

// KataConfigPath is the Kata configuration file of a hypervisor.
func (o Options) KataConfigPath(hv string) string {
	return path.Join(o.KataDir, "share/defaults/kata-containers", "configuration-"+hv+".toml")
}
