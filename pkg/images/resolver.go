package images

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	ctrd "github.com/eksd-kata/eksd-kata/pkg/containerd"
	"github.com/eksd-kata/eksd-kata/pkg/release/fetch"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Registries says which registries may be reached over plain HTTP.
type Registries struct {
	// Insecure hosts (host or host:port) may answer over plain HTTP.
	// Loopback registries always may, as with Docker and containerd.
	Insecure []string
}

// PlainHTTP reports whether host (host[:port]) may be reached over plain HTTP.
func (r Registries) PlainHTTP(host string) bool {
	if ctrd.IsLoopbackHost(host) {
		return true
	}
	name, _, err := net.SplitHostPort(host)
	if err != nil {
		name = host
	}
	return slices.Contains(r.Insecure, host) || slices.Contains(r.Insecure, name)
}

// Hosts is the docker.RegistryHosts of the resolver: HTTPS with the
// system's CAs, and for a plain-HTTP registry (loopback or listed) HTTPS
// first with a fallback to HTTP, as containerd does for such hosts.
func (r Registries) Hosts(host string) ([]docker.RegistryHost, error) {
	transport := fetch.NewTransport()
	var rt http.RoundTripper = transport
	if r.PlainHTTP(host) {
		rt = docker.NewHTTPFallback(transport)
	}
	client := &http.Client{Transport: rt}
	return []docker.RegistryHost{{
		Client:       client,
		Authorizer:   docker.NewDockerAuthorizer(docker.WithAuthClient(client)),
		Host:         host,
		Scheme:       "https",
		Path:         "/v2",
		Capabilities: docker.HostCapabilityPull | docker.HostCapabilityResolve,
	}}, nil
}

// Resolver returns the containerd resolver for these registries.
func (r Registries) Resolver() remotes.Resolver {
	return docker.NewResolver(docker.ResolverOptions{Hosts: r.Hosts})
}

// explain turns the TLS error of a registry that only speaks plain HTTP
// into advice; other errors pass unchanged.
func (r Registries) explain(ref string, err error) error {
	if err == nil || !strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return err
	}
	host, _, _ := strings.Cut(ref, "/")
	return fmt.Errorf("%s: registry %s answers only over plain HTTP, which is refused for a non-loopback host not listed as insecure; "+
		"add it to spec.images.insecureRegistries (flag --insecure-registry %s) if that is intended: %w", ref, host, host, err)
}

// digestResolver refuses a reference whose manifest digest is not the one
// the release names, before anything is fetched or recorded.
type digestResolver struct {
	remotes.Resolver
	want map[string]string // reference → digest
}

var errDigest = errors.New("manifest digest mismatch")

func (d digestResolver) Resolve(ctx context.Context, ref string) (string, ocispec.Descriptor, error) {
	name, desc, err := d.Resolver.Resolve(ctx, ref)
	if err != nil {
		return name, desc, err
	}
	if want := d.want[ref]; want != "" && desc.Digest.String() != want {
		return name, desc, fmt.Errorf("%s: %w: the registry serves %s, the release names %s", ref, errDigest, desc.Digest, want)
	}
	return name, desc, nil
}
