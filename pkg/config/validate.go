package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/owned"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validate lists every problem of cfg by field path; nil means usable.
func Validate(cfg *NodeConfig) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if cfg.APIVersion != APIVersion {
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), cfg.APIVersion, []string{APIVersion}))
	}
	if cfg.Kind != Kind {
		errs = append(errs, field.NotSupported(field.NewPath("kind"), cfg.Kind, []string{Kind}))
	}
	errs = append(errs, validateRelease(&cfg.Spec.Release, spec.Child("release"))...)
	errs = append(errs, validateHost(&cfg.Spec.Host, spec.Child("host"))...)
	errs = append(errs, validateNode(&cfg.Spec.Node, spec.Child("node"))...)
	errs = append(errs, validateNetwork(&cfg.Spec.Network, spec.Child("network"))...)
	errs = append(errs, validateContainerd(&cfg.Spec.Containerd, spec.Child("containerd"))...)
	errs = append(errs, validateKata(&cfg.Spec.Kata, spec.Child("kata"))...)
	errs = append(errs, validateImages(&cfg.Spec.Images, spec.Child("images"))...)
	errs = append(errs, validateAddons(&cfg.Spec.Addons, spec.Child("addons"))...)
	errs = append(errs, validateKubeadm(&cfg.Spec.Kubeadm, spec.Child("kubeadm"))...)
	if cfg.Spec.Join != (Join{}) {
		errs = append(errs, ValidateJoin(&cfg.Spec.Join, spec.Child("join"))...)
	}
	return errs
}

func validateRelease(r *Release, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.Number < 0 {
		errs = append(errs, field.Invalid(p.Child("number"), r.Number, "must be 0 (newest) or a release number"))
	}
	if r.Channel == "" && r.Number != 0 {
		errs = append(errs, field.Required(p.Child("channel"), "a release number belongs to a channel: set both (--release 1-36-7)"))
	}
	if r.Channel != "" && !eksd.IsChannel(r.Channel) {
		errs = append(errs, field.Invalid(p.Child("channel"), r.Channel, `want a channel such as "1-36"`))
	}
	if r.Manifest != "" {
		// The manifest names its own channel and number; a channel or
		// number given too is checked against it when it is read.
		errs = append(errs, validateSource(r.Manifest, p.Child("manifest"))...)
		return errs
	}
	if len(errs) == 0 && r.Channel != "" {
		if _, err := eksd.Lookup(r.Channel, r.Number); err != nil {
			errs = append(errs, field.Invalid(p, field.OmitValueType{}, err.Error()))
		}
	}
	return errs
}

func validateHost(h *Host, p *field.Path) field.ErrorList {
	if h.SELinux != SELinuxPermissive && h.SELinux != SELinuxDisabled {
		return field.ErrorList{field.NotSupported(p.Child("selinux"), h.SELinux, []string{SELinuxPermissive, SELinuxDisabled})}
	}
	return nil
}

func validateNode(n *Node, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if n.Name != "" {
		for _, msg := range validation.IsDNS1123Subdomain(n.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), n.Name, msg))
		}
	}
	if n.Role != RoleControlPlane && n.Role != RoleWorker {
		errs = append(errs, field.NotSupported(p.Child("role"), n.Role, []Role{RoleControlPlane, RoleWorker}))
	}
	if n.AdvertiseAddress != "" {
		if a, err := netip.ParseAddr(n.AdvertiseAddress); err != nil || a.IsUnspecified() || a.Zone() != "" {
			errs = append(errs, field.Invalid(p.Child("advertiseAddress"), n.AdvertiseAddress, "is not a unicast IP address"))
		}
	}
	switch n.CgroupDriver {
	case "", CgroupDriverSystemd, CgroupDriverCgroupfs:
	default:
		errs = append(errs, field.NotSupported(p.Child("cgroupDriver"), n.CgroupDriver, []string{CgroupDriverSystemd, CgroupDriverCgroupfs}))
	}
	return errs
}

func validateNetwork(n *Network, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	pod, perr := parseCIDR(n.PodCIDR, p.Child("podCIDR"))
	svc, serr := parseCIDR(n.ServiceCIDR, p.Child("serviceCIDR"))
	errs = append(errs, perr...)
	errs = append(errs, serr...)
	if perr == nil && serr == nil && pod.Overlaps(svc) {
		errs = append(errs, field.Invalid(p.Child("serviceCIDR"), n.ServiceCIDR, "overlaps spec.network.podCIDR "+n.PodCIDR))
	}
	if n.ControlPlaneEndpoint != "" {
		if msg := validateEndpoint(n.ControlPlaneEndpoint, false); msg != "" {
			errs = append(errs, field.Invalid(p.Child("controlPlaneEndpoint"), n.ControlPlaneEndpoint, msg))
		}
	}
	if c := n.ConntrackMaxPerCore; c != nil && *c < 0 {
		errs = append(errs, field.Invalid(p.Child("conntrackMaxPerCore"), *c, "must be 0 (leave nf_conntrack_max alone) or positive"))
	}
	// kube-apiserver refuses a service range with more than 2^20 addresses.
	if serr == nil && svc.Addr().BitLen()-svc.Bits() > 20 {
		errs = append(errs, field.Invalid(p.Child("serviceCIDR"), n.ServiceCIDR, "is larger than the API server allows (at most 2^20 addresses, e.g. /12 for IPv4)"))
	}
	return errs
}

func parseCIDR(s string, p *field.Path) (netip.Prefix, field.ErrorList) {
	if s == "" {
		return netip.Prefix{}, field.ErrorList{field.Required(p, "a CIDR such as 10.244.0.0/16")}
	}
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, field.ErrorList{field.Invalid(p, s, "is not a CIDR")}
	}
	if pfx.Masked() != pfx {
		return netip.Prefix{}, field.ErrorList{field.Invalid(p, s, "has host bits set; did you mean "+pfx.Masked().String()+"?")}
	}
	return pfx, nil
}

func validateContainerd(c *Containerd, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	cp := absPath(c.ConfigPath, p.Child("configPath"))
	if o, ok := owned.Owner(c.ConfigPath); ok && cp == nil {
		what := "is " + o.Path
		if o.Path != c.ConfigPath {
			what = "lies in " + o.Path
		}
		cp = field.ErrorList{field.Invalid(p.Child("configPath"), c.ConfigPath, what+", which eksd-kata's "+o.Step+" step writes: give containerd a file of its own (default "+DefaultContainerdConfig+")")}
	}
	errs = append(errs, cp...)
	errs = append(errs, absPath(c.Socket, p.Child("socket"))...)
	return errs
}

// controlChars is the problem of a path or URL holding a control
// character: a newline or NUL would cut it in two wherever it is written.
func controlChars(s string, p *field.Path) field.ErrorList {
	if strings.ContainsFunc(s, unicode.IsControl) {
		return field.ErrorList{field.Invalid(p, s, "contains a control character (a newline, tab, NUL…): remove it")}
	}
	return nil
}

func absPath(s string, p *field.Path) field.ErrorList {
	if errs := controlChars(s, p); errs != nil {
		return errs
	}
	switch {
	case s == "":
		return field.ErrorList{field.Required(p, "an absolute path")}
	case !path.IsAbs(s):
		return field.ErrorList{field.Invalid(p, s, "must be an absolute path")}
	case path.Clean(s) != s:
		return field.ErrorList{field.Invalid(p, s, "must be a clean path (no '..', '//' or trailing '/'): "+path.Clean(s))}
	}
	return nil
}

func validateKata(k *Kata, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if k.Enabled && len(k.Hypervisors) == 0 {
		errs = append(errs, field.Required(p.Child("hypervisors"), "at least one of qemu, clh, fc when Kata is enabled"))
	}
	seen := map[string]bool{}
	for i, hv := range k.Hypervisors {
		hp := p.Child("hypervisors").Index(i)
		if !slices.Contains(Hypervisors, hv) {
			errs = append(errs, field.NotSupported(hp, hv, Hypervisors))
		}
		if seen[hv] {
			errs = append(errs, field.Duplicate(hp, hv))
		}
		seen[hv] = true
	}
	// The handler is a RuntimeClass handler and a containerd runtime name.
	for _, msg := range validation.IsDNS1123Label(k.RuntimeHandler) {
		errs = append(errs, field.Invalid(p.Child("runtimeHandler"), k.RuntimeHandler, msg))
	}
	if k.RuntimeHandler == "runc" || strings.HasPrefix(k.RuntimeHandler, "kata-") && seen[strings.TrimPrefix(k.RuntimeHandler, "kata-")] {
		errs = append(errs, field.Invalid(p.Child("runtimeHandler"), k.RuntimeHandler, "clashes with a handler eksd-kata defines itself"))
	}
	if k.GuestKernel != "" {
		gp := p.Child("guestKernel")
		errs = append(errs, absPath(k.GuestKernel, gp)...)
		if len(k.Hypervisors) > 1 {
			// Kata merges a drop-in into every configuration of its
			// directory: one for two hypervisors gives each a second,
			// incomplete hypervisor table (docs/decisions/2026-12-05-kata-guest-kernel.md).
			errs = append(errs, field.Invalid(gp, k.GuestKernel, fmt.Sprintf("is set for one hypervisor only, and spec.kata.hypervisors lists %d (%s): keep one (--hypervisors)", len(k.Hypervisors), strings.Join(k.Hypervisors, ", "))))
		}
	}
	return errs
}

func validateImages(im *Images, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if im.Mirror != "" {
		mp := p.Child("mirror")
		merrs := validateRegistry(im.Mirror, true, mp)
		// The image references are built by eksd: what it refuses later
		// (a first element that is no registry host) is refused here.
		if err := eksd.CheckMirror(im.Mirror); err != nil && merrs == nil {
			merrs = field.ErrorList{field.Invalid(mp, im.Mirror, strings.TrimPrefix(err.Error(), fmt.Sprintf("image mirror %q: ", im.Mirror)))}
		}
		errs = append(errs, merrs...)
	}
	for i, h := range im.InsecureRegistries {
		errs = append(errs, validateRegistry(h, false, p.Child("insecureRegistries").Index(i))...)
	}
	return errs
}

// validateRegistry accepts host[:port] and, for a mirror, a /path after it.
func validateRegistry(s string, withPath bool, p *field.Path) field.ErrorList {
	if strings.Contains(s, "://") {
		return field.ErrorList{field.Invalid(p, s, "must be host[:port] without a scheme (plain HTTP is chosen by spec.images.insecureRegistries)")}
	}
	hostport, rest, hasPath := strings.Cut(s, "/")
	if hasPath && !withPath {
		return field.ErrorList{field.Invalid(p, s, "must be host[:port] without a path")}
	}
	if hasPath && (rest == "" || strings.Contains(rest, "//") || strings.HasSuffix(rest, "/")) {
		return field.ErrorList{field.Invalid(p, s, "has an empty path element")}
	}
	host := hostport
	if h, port, err := net.SplitHostPort(hostport); err == nil {
		host = h
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return field.ErrorList{field.Invalid(p, s, "has an invalid port")}
		}
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if msgs := validation.IsDNS1123Subdomain(host); len(msgs) > 0 {
		return field.ErrorList{field.Invalid(p, s, "is not a registry host name: "+strings.Join(msgs, "; "))}
	}
	return nil
}

func validateAddons(a *Addons, p *field.Path) field.ErrorList {
	if a.CNIManifest == "" || a.CNIManifest == "none" {
		return nil
	}
	return validateSource(a.CNIManifest, p.Child("cniManifest"))
}

// validateSource accepts a file path or an https URL (http only to loopback).
func validateSource(s string, p *field.Path) field.ErrorList {
	if errs := controlChars(s, p); errs != nil {
		return errs
	}
	if !strings.Contains(s, "://") {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return field.ErrorList{field.Invalid(p, s, "is not a URL")}
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopback(u.Hostname()) {
			return nil
		}
		return field.ErrorList{field.Invalid(p, s, "plain http is allowed only for loopback; use https")}
	}
	return field.ErrorList{field.NotSupported(p, u.Scheme+"://", []string{"https://", "a file path"})}
}

// IsLoopback reports whether host names this machine itself.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
