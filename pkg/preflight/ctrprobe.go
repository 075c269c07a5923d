package preflight

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/containerd/containerd/v2/client"
)

// ContainerdInfo is what the running daemon says about itself.
type ContainerdInfo struct {
	Version  string // e.g. "1.6.20~ds1", "v2.4.2"
	CRI      bool   // the CRI plugin loaded without error
	CRIError string // why it did not
}

// ContainerdProber asks the daemon listening on a socket (a real path) for
// its version and plugins. Tests fake it.
type ContainerdProber interface {
	Probe(ctx context.Context, socket string) (ContainerdInfo, error)
}

// probeTimeout bounds the whole conversation: a healthy daemon answers in
// milliseconds, and check must stay fast on a hung one.
const probeTimeout = 2 * time.Second

// SocketContainerd talks to containerd with its Go client.
type SocketContainerd struct{}

// Probe implements ContainerdProber.
func (SocketContainerd) Probe(ctx context.Context, socket string) (ContainerdInfo, error) {
	var info ContainerdInfo
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	// A plain dial first: its error says plainly "permission denied" or
	// "connection refused", where gRPC would retry and wrap it.
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return info, err
	}
	conn.Close()

	c, err := client.New(socket, client.WithTimeout(probeTimeout))
	if err != nil {
		return info, err
	}
	defer c.Close()
	v, err := c.Version(ctx)
	if err != nil {
		return info, fmt.Errorf("version: %w", err)
	}
	info.Version = v.Version
	resp, err := c.IntrospectionService().Plugins(ctx)
	if err != nil {
		return info, fmt.Errorf("plugins: %w", err)
	}
	info.CRIError = "no CRI plugin loaded"
	for _, p := range resp.GetPlugins() {
		if p.GetID() != "cri" || p.GetType() != "io.containerd.grpc.v1" {
			continue
		}
		if ie := p.GetInitErr(); ie != nil {
			info.CRIError = ie.GetMessage()
		} else {
			info.CRI, info.CRIError = true, ""
		}
	}
	return info, nil
}
