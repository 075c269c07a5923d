// Package config is the node configuration of eksd-kata: its versioned API
// type, defaults, loading (strict) and validation.
package config

// Group, version and kind of the node configuration, versioned like
// kubeadm's and nodeadm's so that later versions can convert from this one.
const (
	APIVersion = "eksd-kata.io/v1alpha1"
	Kind       = "NodeConfig"
)

// Role is what kubeadm makes of this node.
type Role string

const (
	RoleControlPlane Role = "control-plane"
	RoleWorker       Role = "worker"
)

// Cgroup drivers the kubelet and containerd's runc must agree on.
const (
	CgroupDriverSystemd  = "systemd"
	CgroupDriverCgroupfs = "cgroupfs"
)

// Hypervisors Kata can use; each becomes a runtime handler kata-<name>.
var Hypervisors = []string{"qemu", "clh", "fc"}

// NodeConfig is the whole configuration of one node.
type NodeConfig struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       Spec   `json:"spec"`
}

// Spec groups the settings by the part of the node they shape.
type Spec struct {
	Release    Release    `json:"release"`
	Host       Host       `json:"host"`
	Node       Node       `json:"node"`
	Network    Network    `json:"network"`
	Containerd Containerd `json:"containerd"`
	Kata       Kata       `json:"kata"`
	Images     Images     `json:"images"`
	Addons     Addons     `json:"addons"`
	// Kubeadm passes settings through to kubeadm's own configuration.
	Kubeadm Kubeadm `json:"kubeadm,omitzero"`
	// Join is how a node joins an existing cluster (eksd-kata join).
	Join Join `json:"join,omitzero"`
}

// Release selects the EKS Distro release the node runs. Empty, it is the
// manifest's release when Manifest is set, else the newest embedded one.
type Release struct {
	// Channel is the Kubernetes minor line, "1-36".
	Channel string `json:"channel,omitempty"`
	// Number is the EKS-D release within the channel; 0 means the newest known.
	Number int `json:"number,omitempty"`
	// Manifest is a release manifest file or https URL to use instead of the
	// embedded release data (a newer release, or one with binary checksums).
	Manifest string `json:"manifest,omitempty"`
}

// SELinux modes bootstrap can leave a host in.
const (
	SELinuxPermissive = "permissive"
	SELinuxDisabled   = "disabled"
)

// Host holds how bootstrap tunes the operating system.
type Host struct {
	// SELinux is what an enforcing SELinux becomes: permissive (default) or
	// disabled (from the next boot; permissive until then).
	SELinux string `json:"selinux"`
}

// Node identifies this host in the cluster.
type Node struct {
	// Name defaults to the host name.
	Name string `json:"name,omitempty"`
	Role Role   `json:"role"`
	// AdvertiseAddress defaults to the address of the default-route interface.
	AdvertiseAddress string `json:"advertiseAddress,omitempty"`
	// CgroupDriver defaults to systemd when systemd is PID 1, else cgroupfs.
	CgroupDriver string `json:"cgroupDriver,omitempty"`
	// AllowCgroupV1 lets the kubelet of Kubernetes 1.35+ start on a cgroup v1
	// host (kubelet failCgroupV1: false); cgroup v2 is the real fix.
	AllowCgroupV1 bool `json:"allowCgroupV1,omitempty"`
}

// Network holds the cluster's address ranges.
type Network struct {
	PodCIDR     string `json:"podCIDR"`
	ServiceCIDR string `json:"serviceCIDR"`
	// ControlPlaneEndpoint is a stable address for the cluster's API
	// servers (a DNS name or a load balancer's address, host[:port]). With
	// it, kubeadm init uploads the control-plane certificates so that more
	// control planes can join; it cannot be added to a running cluster.
	ControlPlaneEndpoint string `json:"controlPlaneEndpoint,omitempty"`
	// ConntrackMaxPerCore is kube-proxy's conntrack.maxPerCore; 0 leaves the
	// kernel's nf_conntrack_max alone, which a node in a container or a
	// network namespace must (kube-proxy may not set it there). Unset:
	// kube-proxy's default.
	ConntrackMaxPerCore *int32 `json:"conntrackMaxPerCore,omitempty"`
}

// Containerd locates the container runtime.
type Containerd struct {
	ConfigPath string `json:"configPath"`
	Socket     string `json:"socket"`
}

// Kata configures the Kata Containers runtime handlers.
type Kata struct {
	Enabled bool `json:"enabled"`
	// Hypervisors each get a handler kata-<name>; the first also backs RuntimeHandler.
	Hypervisors []string `json:"hypervisors"`
	// RuntimeHandler is the name of the generic Kata handler and RuntimeClass.
	RuntimeHandler string `json:"runtimeHandler"`
	// GuestKernel is the kernel image (a host path) Kata VMs boot instead
	// of the release's: where /dev/kvm comes from kvm_pvm, a kernel built
	// with PVM guest support (CONFIG_PVM_GUEST=y). Empty: the release's.
	GuestKernel string `json:"guestKernel,omitempty"`
}

// Images says where the EKS-D images come from.
type Images struct {
	// Mirror is a registry (host[:port][/path]) that stands in for public.ecr.aws.
	Mirror string `json:"mirror,omitempty"`
	// InsecureRegistries may be reached over plain HTTP; loopback always may.
	InsecureRegistries []string `json:"insecureRegistries,omitempty"`
}

// UntaintsThisNode: the node leaves kubeadm's control-plane NoSchedule taint
// off, which only a control plane carries.
func (s *Spec) UntaintsThisNode() bool {
	return s.Addons.UntaintControlPlane && s.Node.Role == RoleControlPlane
}

// Addons are applied to the cluster after kubeadm.
type Addons struct {
	// CNIManifest is a file or https URL of a CNI manifest; empty or "none": no CNI.
	CNIManifest string `json:"cniManifest,omitempty"`
	// UntaintControlPlane lets pods schedule on a single control-plane node.
	UntaintControlPlane bool `json:"untaintControlPlane"`
}
