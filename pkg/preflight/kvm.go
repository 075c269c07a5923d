package preflight

import (
	"fmt"

	"golang.org/x/sys/unix"
)

const kvmDevice = "/dev/kvm"

// KVMInfo is what opening /dev/kvm told us.
type KVMInfo struct {
	APIVersion int  // KVM_GET_API_VERSION; 12 since Linux 2.6.22
	CreateVM   bool // KVM_CREATE_VM succeeded
}

// KVMProber opens the KVM device at a real path and asks it to create a VM:
// the one test that says KVM is usable (kata-check does the same). Tests fake it.
type KVMProber interface {
	Probe(device string) (KVMInfo, error)
}

// kvmAPIVersion is the only KVM API version there has ever been.
const kvmAPIVersion = 12

// ioctl numbers of linux/kvm.h: _IO(KVMIO=0xAE, 0x00) and _IO(0xAE, 0x01).
const (
	ioctlKVMGetAPIVersion = 0xAE00
	ioctlKVMCreateVM      = 0xAE01
)

// DeviceKVM probes the real device with ioctls.
type DeviceKVM struct{}

// Probe implements KVMProber. The VM it creates has no memory or vCPUs and
// is gone when its descriptor is closed.
func (DeviceKVM) Probe(device string) (KVMInfo, error) {
	var info KVMInfo
	fd, err := unix.Open(device, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return info, fmt.Errorf("open %s: %w", device, err)
	}
	defer unix.Close(fd)
	v, err := unix.IoctlRetInt(fd, ioctlKVMGetAPIVersion)
	if err != nil {
		return info, fmt.Errorf("KVM_GET_API_VERSION: %w", err)
	}
	info.APIVersion = v
	if v != kvmAPIVersion {
		return info, fmt.Errorf("KVM API version %d, want %d", v, kvmAPIVersion)
	}
	vm, err := unix.IoctlRetInt(fd, ioctlKVMCreateVM) // machine type 0: the default
	if err != nil {
		return info, fmt.Errorf("KVM_CREATE_VM: %w", err)
	}
	unix.Close(vm)
	info.CreateVM = true
	return info, nil
}
