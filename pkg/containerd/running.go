package containerd

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/containerd/containerd/v2/client"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"google.golang.org/grpc"
	runtime "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Daemon is what the running containerd says of itself.
type Daemon struct {
	Version string `json:"version"`
	// Runtimes are the handlers its CRI plugin runs with, name →
	// runtime_type: what it loaded, not what config.toml says (it drops a
	// misspelled key without a word).
	Runtimes map[string]string `json:"runtimes"`
}

// RuntimeNames are the handlers, sorted.
func (d Daemon) RuntimeNames() []string { return slices.Sorted(maps.Keys(d.Runtimes)) }

// Running asks the containerd that listens on socket for its version and
// its CRI plugin's runtimes. Under --root there is none (host.ErrNotLive).
func Running(ctx context.Context, h *host.Host, socket string) (Daemon, error) {
	c, err := h.Containerd(ctx, socket)
	if err != nil {
		return Daemon{}, err
	}
	defer c.Close()
	v, err := c.Version(ctx)
	if err != nil {
		return Daemon{}, fmt.Errorf("containerd at %s: %w", socket, err)
	}
	d := Daemon{Version: v.Version}
	rs, err := criService(c)
	if err != nil {
		return d, err
	}
	resp, err := rs.Status(ctx, &runtime.StatusRequest{Verbose: true})
	if err != nil {
		return d, fmt.Errorf("containerd %s: the CRI plugin does not answer: %w", d.Version, err)
	}
	// The verbose status carries the plugin's config as JSON, in the same
	// shape from 1.6 to 2.x.
	var cfg struct {
		Containerd struct {
			Runtimes map[string]struct {
				Type string `json:"runtimeType"`
			} `json:"runtimes"`
		} `json:"containerd"`
	}
	if err := json.Unmarshal([]byte(resp.GetInfo()["config"]), &cfg); err != nil {
		return d, fmt.Errorf("containerd %s: the CRI plugin's config: %w", d.Version, err)
	}
	d.Runtimes = map[string]string{}
	for name, r := range cfg.Containerd.Runtimes {
		d.Runtimes[name] = r.Type
	}
	return d, nil
}

// criService is the CRI runtime service of the daemon c is connected to.
func criService(c *client.Client) (runtime.RuntimeServiceClient, error) {
	conn, ok := c.Conn().(*grpc.ClientConn)
	if !ok {
		return nil, fmt.Errorf("containerd client: unexpected connection type %T", c.Conn())
	}
	return runtime.NewRuntimeServiceClient(conn), nil
}
