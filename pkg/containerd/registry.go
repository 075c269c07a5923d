package containerd

import (
	"fmt"
	"net"
	"strings"
)

// DefaultHostsDir is where the CRI plugin reads per-registry hosts.toml
// (the config_path of `containerd config default`, which eksd-kata sets
// when it needs it and the file names none).
const DefaultHostsDir = "/etc/containerd/certs.d"

// hostsHeader marks the hosts.toml files eksd-kata writes; one without it
// is the operator's and is left alone.
const hostsHeader = "# written by eksd-kata for spec.images.insecureRegistries"

// IsLoopbackHost reports whether host[:port] is this machine: containerd
// and eksd-kata reach such a registry over plain HTTP without being told.
func IsLoopbackHost(host string) bool {
	name, _, err := net.SplitHostPort(host)
	if err != nil {
		name = host
	}
	if name == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(name, "[]"))
	return ip != nil && ip.IsLoopback()
}

// HostsTOML is the hosts.toml that lets the CRI plugin (the kubelet's
// pulls) reach host[:port] over plain HTTP.
func HostsTOML(host string) []byte {
	return fmt.Appendf(nil, "%s\nserver = \"http://%s\"\n\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", hostsHeader, host, host)
}

// ownHostsFile reports whether data is a hosts.toml eksd-kata wrote.
func ownHostsFile(data []byte) bool {
	return strings.HasPrefix(string(data), hostsHeader+"\n")
}

// setRegistryHosts makes the CRI plugin read hosts.toml files, unless the
// file already says where, or configures registries the deprecated way,
// all of which config_path would switch off. It returns the directory the CRI
// plugin reads them from, or "" when it reads none.
func setRegistryHosts(doc table, l layout, path string) (dir string, notes []string, err error) {
	reg, _ := lookup(doc, l.registry...)
	if p, ok := reg["config_path"].(string); ok && p != "" {
		first, _, _ := strings.Cut(p, ":")
		return first, nil, nil
	}
	if deprecatedRegistry(reg) {
		return "", []string{fmt.Sprintf("%s: registries are configured with the deprecated registry.mirrors/configs/auths, so containerd reads no hosts.toml: the kubelet cannot pull from spec.images.insecureRegistries over plain HTTP until you add them there (or move to registry.config_path)", path)}, nil
	}
	// Without config_path the CRI plugin reads no hosts.toml, on 2.x as on
	// 1.x (only `containerd config default` writes one).
	t, err := ensure(doc, l.registry...)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	t["config_path"] = DefaultHostsDir
	return DefaultHostsDir, nil, nil
}

// deprecatedRegistry reports whether a CRI registry table configures
// registries the pre-hosts.toml way (mirrors, configs, auths).
func deprecatedRegistry(reg table) bool {
	return reg["mirrors"] != nil || reg["configs"] != nil || reg["auths"] != nil
}
