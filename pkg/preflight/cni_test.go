package preflight

import (
	"context"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/cniplugins"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/release/releasetest"
)

// TestCheckCNIPlugins: a control plane given no CNI manifest is told which
// of the bridge network's plugins /opt/cni/bin lacks, and that the run
// installs them when its cni step will; with all of them it passes, and
// with a manifest or as a worker the check is not its business.
func TestCheckCNIPlugins(t *testing.T) {
	checkWith := func(files map[string]string, edit func(*config.NodeConfig), env func(*Env)) Result {
		t.Helper()
		root := t.TempDir()
		hosttest.WriteTree(t, root, files)
		cfg := config.Default()
		edit(cfg)
		e := &Env{Host: &host.Host{FS: host.NewFS(root)}, Config: cfg}
		env(e)
		return checkCNIPlugins(context.Background(), e)
	}
	check := func(files map[string]string, edit func(*config.NodeConfig)) Result {
		t.Helper()
		return checkWith(files, edit, func(*Env) {})
	}
	none := func(*config.NodeConfig) {}
	some := map[string]string{"/opt/cni/bin/bridge": "", "/opt/cni/bin/loopback": ""}
	if r := check(some, none); r.Status != Warn || !strings.Contains(r.Message, "host-local, portmap in /opt/cni/bin") || !strings.Contains(r.Remedy, "containernetworking-plugins") {
		t.Errorf("two plugins missing: %+v", r)
	}
	installs := func(e *Env) { e.InstallCNIPlugins = true }
	if r := checkWith(some, none, installs); r.Status != Warn || !r.BootstrapFixes || !strings.Contains(r.Message, "host-local, portmap of the bridge pod network are not in /opt/cni/bin yet") || strings.Contains(r.Remedy, "apt-get") {
		t.Errorf("two plugins missing, the cni step to run: %+v", r)
	}
	// A release that lists no CNI plugins: the cni step installs none.
	withoutPlugins := func(e *Env) {
		e.InstallCNIPlugins = true
		e.Release = releasetest.Release(t, "1-36", 7, "https://distro.invalid", releasetest.Binaries())
	}
	if r := checkWith(some, none, withoutPlugins); r.Status != Warn || r.BootstrapFixes || !strings.Contains(r.Remedy, "containernetworking-plugins") {
		t.Errorf("a release without CNI plugins: %+v", r)
	}
	all := map[string]string{}
	for _, p := range cniplugins.BridgePlugins {
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
