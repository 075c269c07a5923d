package host

import (
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// newTestNetns gives the test a fresh network namespace and a handle in it,
// with the calling thread moved back to its own namespace afterwards.
func newTestNetns(t *testing.T) *netlink.Handle {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creating a network namespace needs root")
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	ns, err := netns.New() // also switches this thread into it
	if err != nil {
		orig.Close()
		runtime.UnlockOSThread()
		t.Skipf("cannot create a network namespace here: %v", err)
	}
	h, err := netlink.NewHandleAt(ns)
	// Back to the original namespace right away: the handle keeps its own socket in ns.
	if serr := netns.Set(orig); serr != nil {
		t.Fatalf("restore netns: %v", serr) // thread stays locked and dies with the goroutine
	}
	runtime.UnlockOSThread()
	t.Cleanup(func() {
		if h != nil {
			h.Close()
		}
		ns.Close()
		orig.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// addLink adds an up link called name: a dummy, or where the kernel has no
// dummy driver (as here) one end of a veth pair whose peer is up too.
func addLink(t *testing.T, h *netlink.Handle, name string) netlink.Link {
	t.Helper()
	var link netlink.Link = &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := h.LinkAdd(link); err != nil {
		link = &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "p"}
		if err := h.LinkAdd(link); err != nil {
			t.Fatalf("add dummy or veth %s: %v", name, err)
		}
		peer, err := h.LinkByName(name + "p")
		if err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(peer); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		t.Fatal(err)
	}
	return link
}

func TestDefaultRouteNetns(t *testing.T) {
	h := newTestNetns(t)
	n := Netlink{Handle: h}
	if _, err := n.DefaultRoute(); err == nil {
		t.Fatal("DefaultRoute in an empty namespace succeeded")
	}

	link := addLink(t, h, "eksd0")
	addr, _ := netlink.ParseAddr("192.0.2.10/24")
	if err := h.AddrAdd(link, addr); err != nil {
		t.Fatal(err)
	}
	if err := h.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Gw: net.ParseIP("192.0.2.1"), Priority: 100}); err != nil {
		t.Fatal(err)
	}

	got, err := n.DefaultRoute()
	if err != nil {
		t.Fatal(err)
	}
	want := Route{Iface: "eksd0", Addr: netip.MustParseAddr("192.0.2.10"), Gateway: netip.MustParseAddr("192.0.2.1")}
	if got != want {
		t.Fatalf("DefaultRoute = %+v, want %+v", got, want)
	}

	// A second default route with a lower metric wins, as the kernel would use it.
	link2 := addLink(t, h, "eksd1")
	addr2, _ := netlink.ParseAddr("198.51.100.10/24")
	if err := h.AddrAdd(link2, addr2); err != nil {
		t.Fatal(err)
	}
	if err := h.RouteAdd(&netlink.Route{LinkIndex: link2.Attrs().Index, Gw: net.ParseIP("198.51.100.1"), Priority: 10}); err != nil {
		t.Fatal(err)
	}
	got, err = n.DefaultRoute()
	if err != nil || got.Iface != "eksd1" || got.Addr != netip.MustParseAddr("198.51.100.10") {
		t.Fatalf("with a lower metric on eksd1: %+v, %v", got, err)
	}
}

func TestDefaultRouteIPv6Fallback(t *testing.T) {
	h := newTestNetns(t)
	link := addLink(t, h, "eksd6")
	addr, _ := netlink.ParseAddr("2001:db8::10/64")
	addr.Flags = 0x80 // IFA_F_NODAD: usable at once, no duplicate detection wait
	if err := h.AddrAdd(link, addr); err != nil {
		t.Fatal(err)
	}
	if err := h.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Gw: net.ParseIP("2001:db8::1")}); err != nil {
		t.Fatal(err)
	}
	got, err := Netlink{Handle: h}.DefaultRoute()
	if err != nil {
		t.Fatal(err)
	}
	if got.Iface != "eksd6" || got.Addr != netip.MustParseAddr("2001:db8::10") || got.Gateway != netip.MustParseAddr("2001:db8::1") {
		t.Fatalf("DefaultRoute = %+v", got)
	}
}
