package preflight

import (
	"context"
	"net"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// EndpointProber resolves and dials the cluster's API server endpoint from
// this host (host.NetEndpoints). Tests dial real listeners.
type EndpointProber interface {
	Resolve(ctx context.Context, host string) ([]string, error)
	Dial(ctx context.Context, hostPort string) error
}

// KVMProber opens the KVM device at a real path and asks it to create a VM
// (host.KVMDevice). Tests fake it.
type KVMProber interface {
	Probe(device string) (host.KVMInfo, error)
}

// ContainerdProber asks the daemon listening on a socket (a real path) for
// its version and plugins (host.ContainerdSocket). Tests fake it.
type ContainerdProber interface {
	Probe(ctx context.Context, socket string) (host.ContainerdInfo, error)
}

const kvmDevice = "/dev/kvm"

// checkAPIEndpoint: a joining node must reach the API server it joins
// through, or kubeadm join waits minutes before it says so; the first
// control plane's stable endpoint must at least resolve, or its own kubelet
// and kubeconfig files point nowhere.
func checkAPIEndpoint(ctx context.Context, e *Env) Result {
	join := e.Config.Spec.Join.ControlPlaneEndpoint
	stable := e.Config.Spec.Network.ControlPlaneEndpoint
	switch {
	case join == "" && stable == "":
		return pass("no stable control-plane endpoint (spec.network.controlPlaneEndpoint): a single control plane, which more control planes cannot join later")
	case e.Endpoints == nil:
		return skip("not the running system")
	}
	ctx, cancel := context.WithTimeout(ctx, host.ProbeTimeout)
	defer cancel()
	if join != "" {
		if err := e.Endpoints.Dial(ctx, join); err != nil {
			return fail("check the address, and that this host may reach its port (firewall, security group, load balancer)",
				"cannot reach the API server at %s (spec.join.controlPlaneEndpoint): %v", join, err)
		}
		return pass("the API server at %s answers (TCP)", join)
	}
	host := stable
	if h, _, err := net.SplitHostPort(stable); err == nil {
		host = h
	}
	if net.ParseIP(host) != nil {
		return pass("stable control-plane endpoint %s", stable)
	}
	addrs, err := e.Endpoints.Resolve(ctx, host)
	if err != nil {
		return fail("add a DNS record (or an /etc/hosts line on every node) for it: this host's address, or the load balancer's in front of the API servers",
			"%s (spec.network.controlPlaneEndpoint) does not resolve: %v", host, err)
	}
	return pass("stable control-plane endpoint %s resolves to %s", stable, strings.Join(addrs, ", "))
}
