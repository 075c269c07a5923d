package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Load builds the configuration in order: defaults, then the file (if
// path is not empty; "-" is stdin), then the flags the user set, and
// validates the result. Any problem is an *Error.
func Load(path string, in Input, o *Overrides) (*NodeConfig, error) {
	cfg, source := Default(), "defaults"
	// The file's unknown fields are listed with the validation's problems:
	// every problem at once.
	var errs field.ErrorList
	if path != "" {
		data, err := readFile(path, in)
		if err != nil {
			return nil, err
		}
		if cfg, errs, err = decode(data, path); err != nil {
			return nil, err
		}
		source = path
	}
	if o != nil {
		if err := o.Apply(cfg); err != nil {
			return nil, err
		}
		if o.flags != nil && o.flags.NFlag() > 0 {
			source += " and flags"
		}
	}
	if errs = append(errs, Validate(cfg)...); len(errs) > 0 {
		return nil, &Error{Source: source, Errs: errs}
	}
	return cfg, nil
}

// Resolve returns a copy of cfg with the host-dependent defaults filled in
// from h: node name, advertise address (control plane only) and cgroup driver.
// Under --root what cannot be detected stays empty; the steps that need it
// (kubeadm) say so.
func Resolve(cfg *NodeConfig, h *host.Host) (*NodeConfig, error) {
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
	if n.AdvertiseAddress == "" && n.Role == RoleControlPlane {
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
		n.CgroupDriver = CgroupDriverCgroupfs
		if h.Systemd.Running() {
			n.CgroupDriver = CgroupDriverSystemd
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
		b, err := h.FS.ReadFile("/etc/hostname")
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
