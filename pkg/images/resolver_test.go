package images

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestPlainHTTPOnlyForLoopbackOrListed(t *testing.T) {
	r := Registries{Insecure: []string{"registry.lan", "10.0.0.5:5000"}}
	for host, want := range map[string]bool{
		"127.0.0.1:5000":      true,
		"localhost:5000":      true,
		"[::1]:5000":          true,
		"registry.lan":        true,
		"registry.lan:443":    true, // a listed host name covers its ports
		"10.0.0.5:5000":       true,
		"10.0.0.5:6000":       false, // a listed host:port covers only that port
		"public.ecr.aws":      false,
		"192.168.1.10:5000":   false,
		"127.0.0.1.nip.io:80": false,
	} {
		if got := r.PlainHTTP(host); got != want {
			t.Errorf("PlainHTTP(%q) = %v, want %v", host, got, want)
		}
	}
}

// nonLoopbackIP is an address of this machine that is not loopback.
func nonLoopbackIP(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("no interface addresses: %v", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Skip("this machine has no non-loopback IPv4 address to serve plain HTTP on")
	return ""
}

func TestNonLoopbackPlainHTTPMirrorIsRefused(t *testing.T) {
	ip := nonLoopbackIP(t)
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	srv := httptest.NewUnstartedServer(newTestRegistry())
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	defer srv.Close()
	host := l.Addr().String()
	ref := host + "/eks-distro/kubernetes/pause:v1.36.2-eks-1-36-7"
	pushTo(t, ref)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	refused := Registries{}
	_, _, err = refused.Resolver().Resolve(ctx, ref)
	err = refused.explain(ref, err)
	if err == nil || !strings.Contains(err.Error(), "plain HTTP") || !strings.Contains(err.Error(), "insecureRegistries") {
		t.Fatalf("resolve over plain HTTP without listing %s: %v, want a refusal naming insecureRegistries", host, err)
	}
	listed := Registries{Insecure: []string{host}}
	if _, _, err := listed.Resolver().Resolve(ctx, ref); err != nil {
		t.Fatalf("resolve with %s listed as insecure: %v", host, err)
	}
}

func TestTransferServiceByDaemonVersion(t *testing.T) {
	for v, want := range map[string]bool{"1.6.20~ds1": false, "v1.7.27": false, "2.0.0": true, "v2.4.2": true, "": false} {
		if got := hasTransferService(v); got != want {
			t.Errorf("hasTransferService(%q) = %v, want %v", v, got, want)
		}
	}
	for ref, want := range map[string]string{
		"127.0.0.1:5000/eks-distro/kubernetes/pause:v1": "127.0.0.1:5000/eks-distro/kubernetes/pause:v1@sha256:ab",
		"r.example/p:v1@sha256:cd":                      "r.example/p:v1@sha256:ab",
	} {
		if got := pinned(ref, "sha256:ab"); got != want {
			t.Errorf("pinned(%q) = %q, want %q", ref, got, want)
		}
	}
}
