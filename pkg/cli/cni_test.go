package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/cniplugins"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/kube"
	"github.com/eksd-kata/eksd-kata/pkg/release/releasetest"
)

// cniRelease is a release manifest whose CNI plugins tarball is served
// over loopback.
type cniRelease struct {
	manifest string
	plugins  map[string][]byte
	tarball  []byte
	served   atomic.Pointer[[]byte] // what the server sends for the tarball
	hits     atomic.Int32
}

func newCNIRelease(t *testing.T) *cniRelease {
	t.Helper()
	c := &cniRelease{plugins: releasetest.CNIPlugins()}
	c.tarball = releasetest.CNITarball(t, c.plugins)
	c.served.Store(&c.tarball)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		if r.URL.Path != "/"+releasetest.CNIFileName(runtime.GOARCH) {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(*c.served.Load())
	}))
	t.Cleanup(srv.Close)
	rel := releasetest.Release(t, "1-36", 7, "https://distro.invalid", releasetest.Binaries())
	releasetest.AddCNIPlugins(rel, srv.URL, map[string][]byte{runtime.GOARCH: c.tarball})
	c.manifest = filepath.Join(t.TempDir(), "kubernetes-1-36-eks-7.yaml")
	if err := os.WriteFile(c.manifest, releasetest.Manifest(t, rel), 0o644); err != nil {
		t.Fatal(err)
	}
	return c
}

// cniHost is a host with a plugin of another network and an older bridge.
func cniHost(t *testing.T) string {
	t.Helper()
	root := foundHost(t)
	hosttest.WriteTree(t, root, map[string]string{"/opt/cni/bin/calico": "calico\n", "/opt/cni/bin/bridge": "old bridge\n"})
	return root
}

// TestCNIPluginsInstallRerunReset: the cni step installs the release's
// plugins from its URL beside the ones already there, a re-run changes
// and fetches nothing, and reset takes away what it added and puts the
// bridge it replaced back.
func TestCNIPluginsInstallRerunReset(t *testing.T) {
	c := newCNIRelease(t)
	root := cniHost(t)
	before := hosttest.HashTree(t, root)
	args := []string{"--root", root, "bootstrap", "--only", "cni", "--release-manifest", c.manifest}
	code, out, stderr := run(t, "", args...)
	if code != ExitOK || !strings.Contains(out, "install the CNI plugins v1.6.2 into /opt/cni/bin") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	for name, data := range c.plugins {
		if got, err := os.ReadFile(filepath.Join(root, "opt/cni/bin", name)); err != nil || string(got) != string(data) {
			t.Errorf("%s not installed: %v", name, err)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(root, "opt/cni/bin/calico")); string(got) != "calico\n" {
		t.Error("calico changed")
	}

	installed, n := hosttest.HashTree(t, root), c.hits.Load()
	if code, out, _ := run(t, "", args...); code != ExitOK || !strings.Contains(out, "bootstrap: 0 change(s) applied") {
		t.Fatalf("re-run: exit %d\n%s", code, out)
	}
	if hosttest.HashTree(t, root) != installed || c.hits.Load() != n {
		t.Fatal("the converged re-run changed the root or fetched the tarball")
	}

	mustRun(t, "--root", root, "reset")
	if hosttest.HashTree(t, root) != before {
		t.Fatal("reset did not take the plugins away and put the old bridge back")
	}
}

// TestCNIPluginsOffline: from --artifacts-dir nothing is fetched; a
// tarball that is not the manifest's is bad input naming it, and nothing
// changes.
func TestCNIPluginsOffline(t *testing.T) {
	c := newCNIRelease(t)
	dir := t.TempDir()
	artifact := filepath.Join(dir, releasetest.CNIFileName(runtime.GOARCH))
	if err := os.WriteFile(artifact, c.tarball, 0o644); err != nil {
		t.Fatal(err)
	}
	root := cniHost(t)
	mustRun(t, "--root", root, "bootstrap", "--only", "cni", "--release-manifest", c.manifest, "--artifacts-dir", dir)
	if got, _ := os.ReadFile(filepath.Join(root, "opt/cni/bin/bridge")); string(got) != string(c.plugins["bridge"]) || c.hits.Load() != 0 {
		t.Fatalf("bridge %q, %d downloads", got, c.hits.Load())
	}

	if err := os.WriteFile(artifact, []byte("evil"), 0o644); err != nil {
		t.Fatal(err)
	}
	fresh := cniHost(t)
	before := hosttest.HashTree(t, fresh)
	code, _, stderr := run(t, "", "--root", fresh, "bootstrap", "--only", "cni", "--release-manifest", c.manifest, "--artifacts-dir", dir)
	if code != ExitUsage || !strings.Contains(stderr, artifact) || !strings.Contains(stderr, "sha256") {
		t.Fatalf("tampered tarball: exit %d\n%s", code, stderr)
	}
	if hosttest.HashTree(t, fresh) != before {
		t.Fatal("a tampered tarball changed the root")
	}
}

// TestCNIPluginsChecksumMismatchFromTheNetwork: a download that is not the
// manifest's tarball fails the run naming it, and nothing is installed.
func TestCNIPluginsChecksumMismatchFromTheNetwork(t *testing.T) {
	c := newCNIRelease(t)
	other := releasetest.CNITarball(t, map[string][]byte{"bridge": []byte("another bridge")})
	c.served.Store(&other)
	root := cniHost(t)
	before := hosttest.HashTree(t, root)
	code, out, stderr := run(t, "", "--root", root, "bootstrap", "--only", "cni", "--release-manifest", c.manifest)
	if code != ExitFailure || !strings.Contains(stderr, releasetest.CNIFileName(runtime.GOARCH)+": sha256 is ") || !strings.Contains(stderr, "not installing it") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	if hosttest.HashTree(t, root) != before {
		t.Fatal("a tarball that failed its checksum changed the root")
	}
}

// TestCNIPluginsDryRunWithTheEmbeddedRelease: the release data built in
// names no CNI plugins: the dry run says that the published manifest does
// and plans nothing for them; preflight says the run installs them.
func TestCNIPluginsDryRunWithTheEmbeddedRelease(t *testing.T) {
	root := foundHost(t)
	before := hosttest.HashTree(t, root)
	code, out, stderr := run(t, "", "--root", root, "bootstrap", "--dry-run", "--only", "cni")
	if code != ExitOK || !strings.Contains(out, "are listed in the manifest EKS-D publishes, https://distro.eks.amazonaws.com/") || !strings.Contains(out, "already right: cni") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	if hosttest.HashTree(t, root) != before {
		t.Fatal("the dry run changed the root")
	}
	code, out, _ = run(t, "", "--root", root, "check")
	if !strings.Contains(out, "bridge, host-local, portmap, loopback of the bridge pod network are not in "+cniplugins.Dir+" yet: they come with the EKS-D release") {
		t.Fatalf("check: exit %d\n%s", code, out)
	}
}

// TestSummarySaysThePodNetwork: the closing summary of a run that made a
// control plane names its pod network, how more nodes get one, and how a
// pod runs in a Kata VM.
func TestSummarySaysThePodNetwork(t *testing.T) {
	summary := func(files map[string]string, edit func(*config.NodeConfig)) string {
		t.Helper()
		root := t.TempDir()
		hosttest.WriteTree(t, root, files)
		cfg := config.Default()
		edit(cfg)
		var out strings.Builder
		// A host that is the running system, as after a real run.
		printSummary(&out, &bootstrap.Report{}, &host.Host{FS: host.NewFS(root)}, cfg, &bootstrapFlags{})
		return out.String()
	}
	bridge := map[string]string{kube.BridgeConflist: "{}"}
	out := summary(bridge, func(*config.NodeConfig) {})
	for _, want := range []string{
		"pod network: eksd-kata's bridge on this node alone, pods on 10.244.0.0/16 (" + kube.BridgeConflist + ")\n",
		"  for more nodes: run again with --cni-manifest FILE|URL (spec.addons.cniManifest)",
		"  a pod in a Kata VM: runtimeClassName: kata in its spec\n",
		"next:\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if out := summary(nil, func(c *config.NodeConfig) { c.Spec.Addons.CNIManifest = "https://example.com/calico.yaml" }); !strings.Contains(out, "pod network: the CNI manifest https://example.com/calico.yaml\n") || strings.Contains(out, "for more nodes") {
		t.Errorf("with a manifest:\n%s", out)
	}
	if out := summary(nil, func(c *config.NodeConfig) { c.Spec.Addons.CNIManifest = "none" }); !strings.Contains(out, "pod network: none") {
		t.Errorf("without a network:\n%s", out)
	}
	if out := summary(bridge, func(c *config.NodeConfig) { c.Spec.Kata.Enabled = false }); strings.Contains(out, "Kata VM") {
		t.Errorf("Kata disabled:\n%s", out)
	}
}
