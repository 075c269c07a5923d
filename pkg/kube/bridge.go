package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// BridgeConflist is the pod network eksd-kata writes for a single
// control-plane node given no CNI manifest: a node-local bridge on the pod
// CIDR, so that bootstrap alone ends with the node Ready. The CNI plugins
// (cniplugins.BridgePlugins) must be in containerd's bin dir, where the
// cni step installs those of the release.
const BridgeConflist = "/etc/cni/net.d/10-eksd-kata-bridge.conflist"

// bridgeConflist renders BridgeConflist for podCIDR.
func bridgeConflist(podCIDR string) ([]byte, error) {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "eksd-kata",
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": [][]map[string]string{{{"subnet": podCIDR}}},
					"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	return append(b, '\n'), err
}

// planBridge plans the node-local pod network when no CNI manifest is
// given on a control plane and no other network is configured, and takes
// it away when a manifest (or "none") is given. It reports whether the
// node has it.
func (s *AddonsStep) planBridge(h *host.Host, p *plan.Plan) (bool, error) {
	sp := s.Config.Spec
	wanted := sp.Addons.CNIManifest == "" && sp.Node.Role == config.RoleControlPlane
	ours, err := h.FS.Exists(BridgeConflist)
	if err != nil {
		return false, err
	}
	if !wanted {
		if ours {
			p.Add(&plan.Func{
				Text: fmt.Sprintf("remove %s: the pod network is the CNI manifest's now", BridgeConflist),
				Do:   func(_ context.Context, h *host.Host) error { return h.FS.Remove(BridgeConflist) },
			})
		}
		return false, nil
	}
	if other := otherNetwork(h); other != "" {
		p.Notef("pod network: %s configures one already; eksd-kata writes none", other)
		return false, nil
	}
	data, err := bridgeConflist(sp.Network.PodCIDR)
	if err != nil {
		return false, err
	}
	c, err := plan.PlanFile(h, BridgeConflist, data, 0o644)
	if err != nil {
		return false, err
	}
	if c != nil {
		p.Add(c)
	}
	p.Notef("pod network: a bridge on this node alone (%s, pods on %s); for more nodes give a CNI manifest (--cni-manifest), which takes its place", BridgeConflist, sp.Network.PodCIDR)
	return true, nil
}

// otherNetwork names a CNI configuration in /etc/cni/net.d that is not
// eksd-kata's, or "" when there is none.
func otherNetwork(h *host.Host) string {
	dir := path.Dir(BridgeConflist)
	entries, err := h.FS.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, e := range entries {
		n := e.Name()
		if n == path.Base(BridgeConflist) || e.IsDir() {
			continue
		}
		if strings.HasSuffix(n, ".conflist") || strings.HasSuffix(n, ".conf") || strings.HasSuffix(n, ".json") {
			return path.Join(dir, n)
		}
	}
	return ""
}

// hasNetworkConfig reports whether /etc/cni/net.d holds a pod network's
// configuration, eksd-kata's or another.
func hasNetworkConfig(h *host.Host) bool {
	if ok, _ := h.FS.Exists(BridgeConflist); ok {
		return true
	}
	return otherNetwork(h) != ""
}
