// Package owned names the files and directories eksd-kata's steps write
// themselves. The steps take their paths from here, and validation uses
// the list, so that a setting pointing one step at another's file
// (containerd's config path at /etc/fstab) is refused before anything
// changes. It imports nothing of eksd-kata, so every package can use it.
package owned

import "strings"

// Files of the host step.
const (
	ModulesFile = "/etc/modules-load.d/eksd-kata.conf"
	SysctlFile  = "/etc/sysctl.d/99-eksd-kata.conf"
	FstabFile   = "/etc/fstab"
	// ZramGeneratorFile, empty, turns off systemd's zram swap generator.
	ZramGeneratorFile = "/etc/systemd/zram-generator.conf"
)

// SELinuxConfigs are where the boot-time SELinux mode lives.
var SELinuxConfigs = []string{"/etc/selinux/config", "/etc/sysconfig/selinux"}

// Files of the binaries and kubeadm steps.
const (
	KubeletUnitPath   = "/etc/systemd/system/kubelet.service"
	KubeadmDropIn     = "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"
	KubeletFlagsEnv   = "/var/lib/kubelet/kubeadm-flags.env"
	KubeadmConfigFile = "/etc/eksd-kata/kubeadm.yaml"
	KubeadmJoinFile   = "/etc/eksd-kata/kubeadm-join.yaml"
	// KubeadmUpgradeFile is the UpgradeConfiguration of eksd-kata upgrade.
	KubeadmUpgradeFile = "/etc/eksd-kata/kubeadm-upgrade.yaml"
)

// ContainerdUnitPath is the unit the runtime step installs with
// containerd's release.
const ContainerdUnitPath = "/etc/systemd/system/containerd.service"

// Path is a file or directory a step writes.
type Path struct {
	Path string
	Step string
	Dir  bool // everything below Path is the step's
}

// Paths lists every owned path.
func Paths() []Path {
	ps := []Path{
		{ModulesFile, "host", false},
		{SysctlFile, "host", false},
		{FstabFile, "host", false},
		{ZramGeneratorFile, "host", false},
		{ContainerdUnitPath, "runtime", false},
		{KubeletUnitPath, "binaries", false},
		{KubeadmDropIn, "binaries", false},
		{KubeletFlagsEnv, "binaries", false},
		{"/etc/eksd-kata", "kubeadm", true},
		{"/etc/kubernetes", "kubeadm", true},
		{"/var/lib/eksd-kata", "eksd-kata's state", true},
		{"/opt/kata", "kata", true},
		{"/etc/containerd/certs.d", "containerd (registry hosts)", true},
	}
	for _, p := range SELinuxConfigs {
		ps = append(ps, Path{p, "host", false})
	}
	return ps
}

// Owner returns the owned path p is or lies below, if any. p is a clean
// absolute path.
func Owner(p string) (Path, bool) {
	for _, o := range Paths() {
		if p == o.Path || o.Dir && strings.HasPrefix(p, o.Path+"/") {
			return o, true
		}
	}
	return Path{}, false
}
