// Package detect fills in what a node configuration leaves to the host:
// the node name, the advertise address and the cgroup driver.
package detect

import (
	"errors"
	"fmt"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// Resolve returns a copy of cfg with the host-dependent defaults filled in
// from h: node name, advertise address (control plane only) and cgroup driver.
// Under --root what cannot be detected stays empty; the steps that need it
// (kubeadm) say so.
func Resolve(cfg *config.NodeConfig, h *host.Host) (*config.NodeConfig, error) {
	out := *cfg
	n := &out.Spec.Node
	if n.Name == "" {
		name, err := hostname(h)
		if err != nil && !h.IsLive() {
			name, err = "", nil
		}
		if err != nil {
			return nil, fmt.Errorf("detecting the node name: %w (set spec.node.name or --node-name)", err)
		}
		n.Name = name
	}
	if n.AdvertiseAddress == "" && n.Role == config.RoleControlPlane {
		r, err := h.Net.DefaultRoute()
		switch {
		case errors.Is(err, host.ErrNotLive):
		case err != nil:
			return nil, fmt.Errorf("detecting the advertise address: %w (set spec.node.advertiseAddress or --advertise-address)", err)
		default:
			n.AdvertiseAddress = r.Addr.String()
		}
	}
	if n.CgroupDriver == "" {
		n.CgroupDriver = config.CgroupDriverCgroupfs
		if h.Systemd.Running() {
			n.CgroupDriver = config.CgroupDriverSystemd
		}
	}
	return &out, nil
}

// hostname is what kubeadm would name the node: the host name, lower case.
// Under --root it is the image's /etc/hostname, not this machine's.
func hostname(h *host.Host) (string, error) {
	var name string
	if h.IsLive() {
		n, err := h.Sysctl("kernel.hostname")
		if err != nil {
			return "", err
		}
		name = n
	} else {
		b, err := h.FS.ReadText("/etc/hostname")
		if err != nil {
			return "", err
		}
		name = strings.TrimSpace(string(b))
	}
	if name == "" {
		return "", fmt.Errorf("the host name is empty")
	}
	return strings.ToLower(name), nil
}
