package host

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Route is the default route and the address the node advertises.
type Route struct {
	Iface   string
	Addr    netip.Addr
	Gateway netip.Addr // zero for an on-link default route
}

// Network answers questions about the host's network.
type Network interface {
	DefaultRoute() (Route, error)
}

// Netlink reads routes and addresses over netlink. A nil Handle means the
// network namespace of the calling thread.
type Netlink struct{ Handle *netlink.Handle }

// DefaultRoute picks the interface of the IPv4 default route with the lowest
// metric and its first global address, else the same for IPv6: the address
// kubeadm would choose to advertise.
func (n Netlink) DefaultRoute() (Route, error) {
	h := n.Handle
	if h == nil {
		h = &netlink.Handle{}
	}
	var errs []error
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		r, err := defaultRoute(h, family)
		if err == nil {
			return r, nil
		}
		errs = append(errs, err)
	}
	return Route{}, fmt.Errorf("default route: %w", errors.Join(errs...))
}

func defaultRoute(h *netlink.Handle, family int) (Route, error) {
	name := map[int]string{netlink.FAMILY_V4: "IPv4", netlink.FAMILY_V6: "IPv6"}[family]
	routes, err := h.RouteList(nil, family)
	if err != nil {
		return Route{}, fmt.Errorf("list %s routes: %w", name, err)
	}
	sort.SliceStable(routes, func(i, j int) bool { return routes[i].Priority < routes[j].Priority })
	for _, r := range routes {
		if r.Type != unix.RTN_UNICAST || !isDefault(r.Dst) {
			continue
		}
		index, gw := r.LinkIndex, r.Gw
		if index == 0 && len(r.MultiPath) > 0 { // ECMP: take the first hop
			index, gw = r.MultiPath[0].LinkIndex, r.MultiPath[0].Gw
		}
		link, err := h.LinkByIndex(index)
		if err != nil {
			return Route{}, fmt.Errorf("link %d of %s default route: %w", index, name, err)
		}
		addrs, err := h.AddrList(link, family)
		if err != nil {
			return Route{}, fmt.Errorf("addresses of %s: %w", link.Attrs().Name, err)
		}
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok || !ip.Unmap().IsGlobalUnicast() {
				continue
			}
			out := Route{Iface: link.Attrs().Name, Addr: ip.Unmap()}
			if g, ok := netip.AddrFromSlice(gw); ok {
				out.Gateway = g.Unmap()
			}
			return out, nil
		}
	}
	return Route{}, fmt.Errorf("no %s default route with a global address", name)
}

// isDefault: netlink reports the default route as 0.0.0.0/0 or ::/0 (older
// versions as nil).
func isDefault(dst *net.IPNet) bool {
	if dst == nil {
		return true
	}
	ones, _ := dst.Mask.Size()
	return ones == 0
}

// offlineNetwork stands in for Network under --root: this machine's routes
// say nothing about the image's.
type offlineNetwork struct{}

func (offlineNetwork) DefaultRoute() (Route, error) {
	return Route{}, fmt.Errorf("default route: %w", ErrNotLive)
}
