package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Overrides are the command-line flags that override the file. Only flags
// the user set are applied.
type Overrides struct {
	flags *pflag.FlagSet

	release            string
	releaseManifest    string
	nodeName           string
	role               string
	advertiseAddress   string
	podCIDR            string
	serviceCIDR        string
	cgroupDriver       string
	kata               bool
	hypervisors        []string
	runtimeHandler     string
	guestKernel        string
	imageMirror        string
	insecureRegistries []string
	cniManifest        string
	untaint            bool
	allowCgroupV1      bool
	containerdConfig   string
	containerdSocket   string
	// controlPlaneEndpoint is bootstrap's own flag (BindInit): join has a
	// flag of the same name for spec.join.
	initFlags            bool
	controlPlaneEndpoint string
}

// Bind registers the override flags on fs.
func (o *Overrides) Bind(fs *pflag.FlagSet) {
	o.BindRelease(fs)
	fs.StringVar(&o.nodeName, "node-name", "", "node name (default: host name)")
	fs.StringVar(&o.role, "role", "", "control-plane or worker")
	fs.StringVar(&o.advertiseAddress, "advertise-address", "", "API server advertise address (default: address of the default-route interface)")
	fs.StringVar(&o.podCIDR, "pod-cidr", "", "pod network CIDR")
	fs.StringVar(&o.serviceCIDR, "service-cidr", "", "service network CIDR")
	fs.StringVar(&o.cgroupDriver, "cgroup-driver", "", "systemd or cgroupfs (default: systemd when systemd is PID 1)")
	fs.BoolVar(&o.kata, "kata", true, "configure Kata Containers runtimes")
	fs.StringSliceVar(&o.hypervisors, "hypervisors", nil, "Kata hypervisors: qemu, clh, fc (comma separated; the first backs the generic handler)")
	fs.StringVar(&o.runtimeHandler, "kata-handler", "", "name of the generic Kata runtime handler and RuntimeClass")
	fs.StringVar(&o.guestKernel, "kata-guest-kernel", "", "guest kernel image Kata VMs boot instead of the release's (a PVM guest kernel where KVM comes from kvm_pvm)")
	fs.StringVar(&o.imageMirror, "image-mirror", "", "registry host[:port][/path] that stands in for public.ecr.aws")
	fs.StringSliceVar(&o.insecureRegistries, "insecure-registry", nil, "registry host[:port] that eksd-kata and the kubelet (a hosts.toml for containerd) may reach over plain HTTP (repeatable)")
	fs.StringVar(&o.cniManifest, "cni-manifest", "", `CNI manifest file or https URL ("none" for no CNI)`)
	fs.BoolVar(&o.untaint, "untaint", true, "remove the control-plane NoSchedule taint (single-node cluster)")
	fs.BoolVar(&o.allowCgroupV1, "allow-cgroup-v1", false, "let the kubelet of Kubernetes 1.35+ run on a cgroup v1 host (failCgroupV1: false)")
	fs.StringVar(&o.containerdConfig, "containerd-config", "", "path of containerd's config.toml")
	fs.StringVar(&o.containerdSocket, "containerd-socket", "", "path of containerd's socket")
}

// BindRelease registers only --release and --release-manifest: a verb
// that keeps the node's recorded configuration (upgrade) takes these alone.
func (o *Overrides) BindRelease(fs *pflag.FlagSet) {
	o.flags = fs
	fs.StringVar(&o.release, "release", "", `EKS-D release as CHANNEL or CHANNEL-NUMBER, e.g. "1-36" or "1-36-7"`)
	fs.StringVar(&o.releaseManifest, "release-manifest", "", "EKS-D release manifest file or https URL to use instead of the embedded release data")
}

// BindInit registers the flags only kubeadm init reads (bootstrap).
func (o *Overrides) BindInit(fs *pflag.FlagSet) {
	o.initFlags = true
	fs.StringVar(&o.controlPlaneEndpoint, "control-plane-endpoint", "", "stable host[:port] of the cluster's API servers (DNS name or load balancer); lets more control planes join")
}

func (o *Overrides) set(name string) bool {
	return o.flags != nil && o.flags.Changed(name)
}

// Changed reports whether the user set the override flag name, so that an
// error can name the flag rather than the field.
func (o *Overrides) Changed(name string) bool { return o.set(name) }

// Apply writes the flags the user set into cfg. A malformed --release is
// reported by field path like every other problem.
func (o *Overrides) Apply(cfg *NodeConfig) error {
	s := &cfg.Spec
	if o.set("release") {
		ch, num, err := ParseRelease(o.release)
		if err != nil {
			return &Error{Source: "flags", Errs: field.ErrorList{field.Invalid(field.NewPath("--release"), o.release, err.Error())}}
		}
		s.Release.Channel, s.Release.Number, s.Release.Manifest = ch, num, ""
	}
	if o.set("release-manifest") {
		s.Release.Manifest = o.releaseManifest
	}
	for _, f := range []struct {
		name string
		val  string
		dst  *string
	}{
		{"node-name", o.nodeName, &s.Node.Name},
		{"advertise-address", o.advertiseAddress, &s.Node.AdvertiseAddress},
		{"pod-cidr", o.podCIDR, &s.Network.PodCIDR},
		{"service-cidr", o.serviceCIDR, &s.Network.ServiceCIDR},
		{"cgroup-driver", o.cgroupDriver, &s.Node.CgroupDriver},
		{"kata-handler", o.runtimeHandler, &s.Kata.RuntimeHandler},
		{"kata-guest-kernel", o.guestKernel, &s.Kata.GuestKernel},
		{"image-mirror", o.imageMirror, &s.Images.Mirror},
		{"cni-manifest", o.cniManifest, &s.Addons.CNIManifest},
		{"containerd-config", o.containerdConfig, &s.Containerd.ConfigPath},
		{"containerd-socket", o.containerdSocket, &s.Containerd.Socket},
	} {
		if o.set(f.name) {
			*f.dst = f.val
		}
	}
	if o.initFlags && o.set("control-plane-endpoint") {
		s.Network.ControlPlaneEndpoint = o.controlPlaneEndpoint
	}
	if o.set("role") {
		s.Node.Role = Role(o.role)
	}
	if o.set("kata") {
		s.Kata.Enabled = o.kata
	}
	if o.set("hypervisors") {
		s.Kata.Hypervisors = o.hypervisors
	}
	if o.set("insecure-registry") {
		s.Images.InsecureRegistries = o.insecureRegistries
	}
	if o.set("allow-cgroup-v1") {
		s.Node.AllowCgroupV1 = o.allowCgroupV1
	}
	if o.set("untaint") {
		s.Addons.UntaintControlPlane = o.untaint
	}
	return nil
}

// ParseRelease reads "1-36" (newest of the channel) or "1-36-7".
func ParseRelease(s string) (channel string, number int, err error) {
	parts := strings.Split(s, "-")
	switch len(parts) {
	case 2:
		return s, 0, nil
	case 3:
		n, err := strconv.Atoi(parts[2])
		if err != nil || n <= 0 {
			return "", 0, fmt.Errorf("release number %q is not a positive integer", parts[2])
		}
		return parts[0] + "-" + parts[1], n, nil
	}
	return "", 0, fmt.Errorf(`want CHANNEL or CHANNEL-NUMBER, such as "1-36" or "1-36-7"`)
}
