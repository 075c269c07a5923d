package preflight

import (
	"context"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
)

// TestCheckCNIPlugins: a control plane given no CNI manifest is told which
// of the bridge network's plugins /opt/cni/bin lacks; with all of them it
// passes, and with a manifest or as a worker the check is not its business.
func TestCheckCNIPlugins(t *testing.T) {
	check := func(files map[string]string, edit func(*config.NodeConfig)) Result {
		t.Helper()
		root := t.TempDir()
		hosttest.WriteTree(t, root, files)
		cfg := config.Default()
		edit(cfg)
		return checkCNIPlugins(context.Background(), &Env{Host: &host.Host{FS: host.NewFS(root)}, Config: cfg})
	}
	none := func(*config.NodeConfig) {}
	some := map[string]string{"/opt/cni/bin/bridge": "", "/opt/cni/bin/loopback": ""}
	if r := check(some, none); r.Status != Warn || !strings.Contains(r.Message, "host-local, portmap in /opt/cni/bin") || !strings.Contains(r.Remedy, "containernetworking-plugins") {
		t.Errorf("two plugins missing: %+v", r)
	}
	all := map[string]string{}
	for _, p := range bridgePlugins {
		all["/opt/cni/bin/"+p] = ""
	}
	if r := check(all, none); r.Status != Pass {
		t.Errorf("every plugin there: %+v", r)
	}
	if r := check(nil, func(c *config.NodeConfig) { c.Spec.Addons.CNIManifest = "none" }); r.Status != Skip {
		t.Errorf("a manifest: %+v", r)
	}
	if r := check(nil, func(c *config.NodeConfig) { c.Spec.Node.Role = config.RoleWorker }); r.Status != Skip {
		t.Errorf("a worker: %+v", r)
	}
}
