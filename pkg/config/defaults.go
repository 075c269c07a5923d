package config

// Defaults every node starts from. Host-dependent values (node name,
// advertise address, cgroup driver) stay empty here and are detected by
// Resolve, so that `config print` shows the same thing on every machine.
const (
	DefaultPodCIDR          = "10.244.0.0/16"
	DefaultServiceCIDR      = "10.96.0.0/12"
	DefaultContainerdConfig = "/etc/containerd/config.toml"
	DefaultContainerdSocket = "/run/containerd/containerd.sock"
	DefaultKataHandler      = "kata"
	DefaultKataHypervisor   = "qemu"
)

// Default returns the configuration used when no file and no flag says otherwise.
func Default() *NodeConfig {
	return &NodeConfig{
		APIVersion: APIVersion,
		Kind:       Kind,
		Spec: Spec{
			Host:    Host{SELinux: SELinuxPermissive},
			Node:    Node{Role: RoleControlPlane},
			Network: Network{PodCIDR: DefaultPodCIDR, ServiceCIDR: DefaultServiceCIDR},
			Containerd: Containerd{
				ConfigPath: DefaultContainerdConfig,
				Socket:     DefaultContainerdSocket,
			},
			Kata: Kata{
				Enabled:        true,
				Hypervisors:    []string{DefaultKataHypervisor},
				RuntimeHandler: DefaultKataHandler,
			},
			Addons: Addons{UntaintControlPlane: true},
		},
	}
}
