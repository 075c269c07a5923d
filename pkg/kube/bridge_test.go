package kube

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/cniplugins"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
)

// TestBridgePodNetwork: a control plane given no CNI manifest gets a
// node-local bridge on the pod CIDR, written under --root too, once (a
// second plan has nothing to do); a worker, a network already configured,
// or a manifest get none, and a manifest takes ours away.
func TestBridgePodNetwork(t *testing.T) {
	plan := func(t *testing.T, h *host.Host, cfg *config.NodeConfig) ([]string, string) {
		t.Helper()
		p, err := (&AddonsStep{Config: cfg}).Plan(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Apply(context.Background(), h); err != nil {
			t.Fatal(err)
		}
		return p.Summaries(), strings.Join(p.Notes, "\n")
	}
	kataOff := func(mutate func(*config.NodeConfig)) *config.NodeConfig {
		cfg := testConfig("n")
		cfg.Spec.Kata.Enabled = false
		cfg.Spec.Network.PodCIDR = "10.32.0.0/16"
		mutate(cfg)
		return cfg
	}
	root := t.TempDir()
	h, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	changes, notes := plan(t, h, kataOff(func(*config.NodeConfig) {}))
	if len(changes) != 1 || changes[0] != "create "+BridgeConflist || !strings.Contains(notes, "pod network: a bridge on this node alone") {
		t.Fatalf("changes %q, notes:\n%s", changes, notes)
	}
	data, err := os.ReadFile(filepath.Join(root, BridgeConflist))
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Plugins []struct {
			Type string
			IPAM struct {
				Ranges [][]struct{ Subnet string }
			}
		}
	}
	if err := json.Unmarshal(data, &conf); err != nil || len(conf.Plugins) != 2 || conf.Plugins[0].Type != "bridge" || conf.Plugins[1].Type != "portmap" ||
		conf.Plugins[0].IPAM.Ranges[0][0].Subnet != "10.32.0.0/16" {
		t.Fatalf("conflist (%v):\n%s", err, data)
	}
	before := hosttest.HashTree(t, root)
	if changes, _ := plan(t, h, kataOff(func(*config.NodeConfig) {})); len(changes) != 0 || hosttest.HashTree(t, root) != before {
		t.Fatalf("a second run changed %q", changes)
	}
	// A manifest's network takes the place of ours.
	changes, _ = plan(t, h, kataOff(func(c *config.NodeConfig) { c.Spec.Addons.CNIManifest = "none" }))
	if len(changes) != 1 || !strings.HasPrefix(changes[0], "remove "+BridgeConflist) {
		t.Fatalf("with a manifest: %q", changes)
	}
	if _, err := os.Stat(filepath.Join(root, BridgeConflist)); !os.IsNotExist(err) {
		t.Fatalf("the bridge stayed: %v", err)
	}

	for name, tc := range map[string]struct {
		files  map[string]string
		mutate func(*config.NodeConfig)
	}{
		"a worker":               {nil, func(c *config.NodeConfig) { c.Spec.Node.Role = config.RoleWorker }},
		"a network already":      {map[string]string{"/etc/cni/net.d/10-flannel.conflist": "{}\n"}, func(*config.NodeConfig) {}},
		"an explicit no network": {nil, func(c *config.NodeConfig) { c.Spec.Addons.CNIManifest = "none" }},
	} {
		root := t.TempDir()
		hosttest.WriteTree(t, root, tc.files)
		h, err := host.New(root)
		if err != nil {
			t.Fatal(err)
		}
		if changes, _ := plan(t, h, kataOff(tc.mutate)); len(changes) != 0 {
			t.Errorf("%s: planned %q", name, changes)
		}
	}
}

// TestBridgeUsesOnlyThePluginsTheReleaseShips: every plugin the bridge
// pod network names is one the cni step installs and preflight checks for
// (loopback, which containerd runs itself, among them).
func TestBridgeUsesOnlyThePluginsTheReleaseShips(t *testing.T) {
	data, err := bridgeConflist("10.244.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Plugins []struct {
			Type string `json:"type"`
			IPAM struct {
				Type string `json:"type"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(data, &conf); err != nil {
		t.Fatal(err)
	}
	for _, p := range conf.Plugins {
		for _, typ := range []string{p.Type, p.IPAM.Type} {
			if typ != "" && !slices.Contains(cniplugins.BridgePlugins, typ) {
				t.Errorf("the bridge network runs %q, which is not among %q", typ, cniplugins.BridgePlugins)
			}
		}
	}
}
