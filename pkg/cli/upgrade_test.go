package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/binaries"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/kube"
	"github.com/eksd-kata/eksd-kata/pkg/kube/kubetest"
	"github.com/eksd-kata/eksd-kata/pkg/kubeadm"
	"github.com/eksd-kata/eksd-kata/pkg/noderecord"
	"github.com/eksd-kata/eksd-kata/pkg/release/releasetest"
	"github.com/eksd-kata/eksd-kata/pkg/status"
	"github.com/eksd-kata/eksd-kata/pkg/upgrade"
	"k8s.io/client-go/kubernetes"
)

// bundle is what an offline node gets for a release: its manifest, with
// the checksums of fake binaries of its own, and those binaries in an
// artifacts directory.
type bundle struct {
	manifest, artifacts string
	bins                map[string][]byte
}

// releaseBundle is the bundle of the newest embedded release of channel.
func releaseBundle(t *testing.T, channel string) bundle {
	t.Helper()
	bins := releasetest.Binaries()
	for name := range bins {
		bins[name] = append(bins[name], []byte("# "+channel+"\n")...)
	}
	r := releasetest.Release(t, channel, 0, "https://distro.invalid", bins)
	dir := t.TempDir()
	b := bundle{manifest: filepath.Join(dir, r.String()+".yaml"), artifacts: filepath.Join(dir, "artifacts"), bins: bins}
	if err := os.WriteFile(b.manifest, releasetest.Manifest(t, r), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, data := range bins {
		hosttest.WriteTree(t, b.artifacts, map[string]string{releasetest.Path(name, runtime.GOARCH): string(data)})
	}
	return b
}

// (b bundle) args are the flags that take the release from the bundle.
func (b bundle) args() []string {
	return []string{"--release-manifest", b.manifest, "--artifacts-dir", b.artifacts}
}

// upgradeNode is a node image bootstrap --root made of the bundle's
// release, with containerd ctr recorded as installed.
func upgradeNode(t *testing.T, b bundle, ctr string) string {
	t.Helper()
	root := foundHost(t)
	bootstrapNode(t, root, b, ctr)
	return root
}

// bootstrapNode bootstraps the host at root from bundle b, with containerd
// version ctr, as node-1.
func bootstrapNode(t *testing.T, root string, b bundle, ctr string) {
	t.Helper()
	args := append([]string{"--root", root, "bootstrap", "--containerd-version", ctr, "--ignore", "all", "--kata=false",
		"--node-name", "node-1", "--advertise-address", "192.0.2.10"}, b.args()...)
	if code, out, stderr := run(t, "", args...); code != ExitOK {
		t.Fatalf("bootstrap: exit %d\n%s%s", code, out, stderr)
	}
}

func upgradeArgs(root string, b bundle, extra ...string) []string {
	return append(append([]string{"--root", root, "upgrade"}, b.args()...), extra...)
}

// readRecord reads the node's record under root.
func readRecord(t *testing.T, root string) *noderecord.Record {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, noderecord.Path))
	if err != nil {
		t.Fatal(err)
	}
	var r noderecord.Record
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// binariesAre fails unless kubeadm, kubelet and kubectl under root are
// bins.
func binariesAre(t *testing.T, root string, bins map[string][]byte, what string) {
	t.Helper()
	for name, data := range bins {
		got, err := os.ReadFile(filepath.Join(root, "usr/local/bin", name))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: %s is not as it should be (%v)", what, name, err)
		}
	}
}

// TestUpgradeRefusals: before any change, bad input exits 2, says why and
// leaves the host as it was: no record, no release named, a downgrade, a
// skipped minor, a containerd too old for the release.
func TestUpgradeRefusals(t *testing.T) {
	b35, b36 := releaseBundle(t, "1-35"), releaseBundle(t, "1-36")
	node35 := upgradeNode(t, b35, "2.4.2")
	old := upgradeNode(t, b35, "1.7.28")
	b34 := releaseBundle(t, "1-34")
	node34 := upgradeNode(t, b34, "2.4.2")
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"no record", []string{"--root", foundHost(t), "upgrade", "--release", "1-36"}, []string{"not bootstrapped", noderecord.Path}},
		{"no release", []string{"--root", node35, "upgrade"}, []string{"--release CHANNEL[-NUMBER]", "the node runs kubernetes-1-35-eks-13", "1-36-7 of the next minor, Kubernetes v1.36.2"}},
		{"downgrade", upgradeArgs(node35, b34), []string{"the node runs kubernetes-1-35-eks-13 (Kubernetes v1.35.6)", "kubernetes-1-34-eks-21 (Kubernetes v1.34.9) is older"}},
		{"skipped minor", upgradeArgs(node34, b36), []string{"the node runs kubernetes-1-34-eks-21 (Kubernetes v1.34.9)", "kubernetes-1-36-eks-7 (Kubernetes v1.36.2) skips a minor", "--release 1-35"}},
		{"containerd too old", upgradeArgs(old, b36), []string{"containerd 1.7.28", "too old for Kubernetes 1.36", "--install-containerd"}},
		{"containerd too old, dry run", upgradeArgs(old, b36, "--dry-run"), []string{"containerd 1.7.28", "--install-containerd"}},
		{"rollback of nothing", []string{"--root", node35, "upgrade", "--rollback"}, []string{"nothing to roll back", upgrade.Dir}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := tc.args[1]
			before := hosttest.HashTreeTimes(t, root)
			code, out, stderr := run(t, "", tc.args...)
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d\n%s%s", code, ExitUsage, out, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
			if hosttest.HashTreeTimes(t, root) != before {
				t.Fatal("the refused upgrade changed the host")
			}
		})
	}
}

// TestUpgradeDryRunListsThePlan: the dry run prints every phase and the
// changes of each, and changes nothing.
func TestUpgradeDryRunListsThePlan(t *testing.T) {
	b35, b36 := releaseBundle(t, "1-35"), releaseBundle(t, "1-36")
	root := upgradeNode(t, b35, "2.4.2")
	before := hosttest.HashTreeTimes(t, root)
	code, out, stderr := run(t, "", upgradeArgs(root, b36, "--dry-run")...)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	keep := upgrade.KeepDir("kubernetes-1-35-eks-13")
	containsAll(t, "dry run", out,
		"upgrade: kubernetes-1-35-eks-13 (Kubernetes v1.35.6) to kubernetes-1-36-eks-7 (Kubernetes v1.36.2), a minor upgrade (kubeadm upgrade apply, as the first control plane)",
		"[1/10] runtime: nothing to change",
		"[2/10] containerd: 1 change(s) planned", "-      sandbox = 'public.ecr.aws/eks-distro/kubernetes/pause:3.10.1'", "+      sandbox = 'public.ecr.aws/eks-distro/kubernetes/pause:3.10.2'",
		"[3/10] images: nothing to change",
		"[4/10] kubeadm-binary: 1 change(s) planned", "install /usr/local/bin/kubeadm from "+b36.artifacts, ", the one there kept as "+keep+"/kubeadm",
		"[5/10] kubeadm: 2 change(s) planned", "create "+kubeadm.UpgradeConfigFile, "update "+kubeadm.ConfigFile, "+kubernetesVersion: v1.36.2-eks-1-36-7", "kubeadm upgrade apply: skipped (--root): run `/usr/local/bin/kubeadm upgrade apply v1.36.2-eks-1-36-7 --config /etc/eksd-kata/kubeadm-upgrade.yaml --yes` on the node",
		"[6/10] drain: nothing to change", "drain node node-1: skipped (--root)",
		"[7/10] kubelet: 2 change(s) planned", "the one there kept as "+keep+"/kubelet", "the one there kept as "+keep+"/kubectl",
		"[8/10] restart: nothing to change", "restart kubelet.service: skipped (--root)",
		"[9/10] uncordon: nothing to change",
		"[10/10] record: 3 change(s) planned", "copy "+noderecord.Path+" to "+keep+"/node.json (kept for a rollback)", "copy "+noderecord.ManifestPath+" to "+keep+"/release.yaml (kept for a rollback)",
		"record the node as kubernetes-1-36-eks-7 (Kubernetes v1.36.2) in "+noderecord.Path,
		"upgrade: 9 change(s) planned (dry run: nothing changed)")
	if hosttest.HashTreeTimes(t, root) != before {
		t.Fatal("the dry run changed the host")
	}
}

// TestUpgradeThenRollback: the upgrade swaps the binaries, keeping the old
// ones, and records the new release, which status then reports; a second
// run plans nothing. --rollback puts the old binaries and record back
// (containerd's sandbox image and kubeadm's config stay the new release's,
// which status shows), and a second rollback plans nothing.
func TestUpgradeThenRollback(t *testing.T) {
	b35, b36 := releaseBundle(t, "1-35"), releaseBundle(t, "1-36")
	root := upgradeNode(t, b35, "2.4.2")
	mustRun(t, upgradeArgs(root, b36)...)
	binariesAre(t, root, b36.bins, "upgraded")
	keep := filepath.Join(root, upgrade.KeepDir("kubernetes-1-35-eks-13"))
	for name, data := range b35.bins {
		if got, err := os.ReadFile(filepath.Join(keep, name)); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("the old %s is not kept: %v", name, err)
		}
	}
	rec := readRecord(t, root)
	if rec.Release.Name != "kubernetes-1-36-eks-7" || rec.UpgradedFrom == nil || rec.UpgradedFrom.Name != "kubernetes-1-35-eks-13" || rec.Verb != "bootstrap" || rec.NodeName != "node-1" {
		t.Fatalf("record %+v", rec)
	}
	out, _ := statusRun(t, ExitOK, root)
	containsAll(t, "status after the upgrade", out, "release     kubernetes-1-36-eks-7 (Kubernetes v1.36.2)", "upgraded from kubernetes-1-35-eks-13\n", "binaries    kubeadm, kubelet, kubectl match kubernetes-1-36-eks-7\n")

	before := hosttest.HashTree(t, root)
	code, out, stderr := run(t, "", upgradeArgs(root, b36)...)
	if code != ExitOK || !strings.Contains(out, "upgrade: the node is recorded as kubernetes-1-36-eks-7 already") || !strings.Contains(out, "upgrade: 0 change(s) applied") {
		t.Fatalf("second run: exit %d\n%s%s", code, out, stderr)
	}
	if hosttest.HashTree(t, root) != before {
		t.Fatal("the second run changed the host")
	}

	mustRun(t, "--root", root, "upgrade", "--rollback")
	binariesAre(t, root, b35.bins, "rolled back")
	if rec := readRecord(t, root); rec.Release.Name != "kubernetes-1-35-eks-13" || rec.UpgradedFrom != nil {
		t.Fatalf("record after the rollback: %+v", rec)
	}
	// What the upgrade changed beside the binaries stays, and status says so.
	out, _ = statusRun(t, ExitFailure, root)
	containsAll(t, "status after the rollback", out, "release     kubernetes-1-35-eks-13 (Kubernetes v1.35.6)",
		"binaries    kubeadm, kubelet, kubectl match kubernetes-1-35-eks-13\n", "+ containerd: update /etc/containerd/config.toml", "+ kubeadm: update /etc/eksd-kata/kubeadm.yaml")
	code, out, stderr = run(t, "", "--root", root, "upgrade", "--rollback")
	if code != ExitOK || !strings.Contains(out, "0 change(s) applied") {
		t.Fatalf("second rollback: exit %d\n%s%s", code, out, stderr)
	}
}

// TestResetAfterUpgrade: reset takes an upgraded node back to the host it
// was before bootstrap, the binaries and record the upgrade kept and their
// directories included.
func TestResetAfterUpgrade(t *testing.T) {
	b35, b36 := releaseBundle(t, "1-35"), releaseBundle(t, "1-36")
	root := foundHost(t)
	before := hosttest.HashTree(t, root)
	bootstrapNode(t, root, b35, "2.4.2")
	mustRun(t, upgradeArgs(root, b36)...)
	if _, err := os.Stat(filepath.Join(root, upgrade.KeepDir("kubernetes-1-35-eks-13"), "kubelet")); err != nil {
		t.Fatalf("the upgrade kept no kubelet: %v", err)
	}
	mustRun(t, "--root", root, "reset")
	if hosttest.HashTree(t, root) != before {
		var left []string
		_ = filepath.WalkDir(filepath.Join(root, "var/lib"), func(p string, _ fs.DirEntry, err error) error {
			left = append(left, strings.TrimPrefix(p, root))
			return err
		})
		t.Fatalf("reset after an upgrade left differences; /var/lib holds:\n%s", strings.Join(left, "\n"))
	}
}

// upgradeTreeHash is treeHash with what differs between two runs that did
// the same at other times left out: the time in each node record, and the
// file identities the binaries' digest cache holds (its paths count).
func upgradeTreeHash(t *testing.T, root string) string {
	t.Helper()
	treeHash(t, root) // no temporary file left
	return hosttest.HashTreeCanon(t, root, func(p string, data []byte) []byte {
		switch {
		case p == noderecord.Path || (strings.HasPrefix(p, upgrade.Dir+"/") && path.Base(p) == "node.json"):
			var r noderecord.Record
			if err := json.Unmarshal(data, &r); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			r.Time = time.Time{}
			data, _ = json.Marshal(&r)
		case p == binaries.DigestsFile:
			// A cache that only saves hashing: which files it vouches for
			// depends on where a crash fell, not on the node's state.
			data = nil
		}
		return data
	})
}

// TestUpgradeCrashAnywhereThenRerunConverges kills an upgrade under --root
// at every fault point in turn: each step boundary, before and after the
// rename of every file written. Each time the same command must finish
// and leave the tree an uninterrupted upgrade leaves (record times aside),
// and then a run must plan nothing.
func TestUpgradeCrashAnywhereThenRerunConverges(t *testing.T) {
	b35, b36 := releaseBundle(t, "1-35"), releaseBundle(t, "1-36")
	ref := upgradeNode(t, b35, "2.4.2")
	var fc faultCounter
	code, out, stderr := runFault(t, fc.hit, upgradeArgs(ref, b36)...)
	points := fc.count()
	if code != ExitOK {
		t.Fatalf("uninterrupted upgrade: exit %d\n%s%s", code, out, stderr)
	}
	want := upgradeTreeHash(t, ref)
	if points < 20 {
		t.Fatalf("only %d fault points: the hooks are not wired", points)
	}
	for at := 1; at <= points; at++ {
		root := upgradeNode(t, b35, "2.4.2")
		killAt(t, at, upgradeArgs(root, b36))
		if code, out, stderr := run(t, "", upgradeArgs(root, b36)...); code != ExitOK {
			t.Fatalf("fault point %d: re-run exit %d\n%s%s", at, code, out, stderr)
		}
		if got := upgradeTreeHash(t, root); got != want {
			t.Fatalf("fault point %d: the re-run left a different tree than an uninterrupted upgrade:\n%s", at, treeDiff(t, ref, root))
		}
		if code, out, _ := run(t, "", upgradeArgs(root, b36)...); code != ExitOK || !strings.Contains(out, "upgrade: 0 change(s) applied") {
			t.Fatalf("fault point %d: a run after the re-run: exit %d\n%s", at, code, out)
		}
	}
	t.Logf("%d fault points, each converged", points)
}

// TestRollbackOfAnUpgradeCutShort: an upgrade that swapped the binaries
// but did not get to its record is rolled back from what it kept, checked
// against the node's manifest; the record was never changed.
func TestRollbackOfAnUpgradeCutShort(t *testing.T) {
	b35, b36 := releaseBundle(t, "1-35"), releaseBundle(t, "1-36")
	root := upgradeNode(t, b35, "2.4.2")
	before := readRecord(t, root)
	mustRun(t, upgradeArgs(root, b36, "--only", "kubeadm-binary,kubelet")...)
	binariesAre(t, root, b36.bins, "half upgraded")
	code, out, stderr := run(t, "", "--root", root, "upgrade", "--rollback", "--dry-run")
	if code != ExitOK {
		t.Fatalf("rollback dry run: exit %d\n%s%s", code, out, stderr)
	}
	keep := upgrade.KeepDir("kubernetes-1-35-eks-13")
	containsAll(t, "rollback dry run", out, "[1/3] binaries: 3 change(s) planned",
		"restore /usr/local/bin/kubeadm from "+keep+"/kubeadm (sha256 verified)", "[3/3] record: nothing to change")
	mustRun(t, "--root", root, "upgrade", "--rollback")
	binariesAre(t, root, b35.bins, "rolled back")
	if after := readRecord(t, root); !noderecord.Equal(before, after) || !after.Time.Equal(before.Time) {
		t.Fatalf("the record changed: %+v", after)
	}
}

// TestUpgradeNeverPastTheControlPlane asks a real API server for its
// version with the node's kubeconfig: a worker may go to it and no
// further (bad input); the first control plane goes past it. (The one
// built here reports v0.0.0: nothing is below it; upgrade.ControlPlane's
// test has the first control plane's refusal.)
func TestUpgradeNeverPastTheControlPlane(t *testing.T) {
	if _, _, err := kubetest.Binaries(); err != nil {
		t.Skipf("no real API server: %v", err)
	}
	c, err := kubetest.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	h := hosttest.NewTestHost(t, "")
	hosttest.WriteTree(t, h.Root(), map[string]string{status.Kubeconfig(config.RoleWorker): string(c.Kubeconfig)})
	connect := kube.KubeconfigConnector(status.Kubeconfig(config.RoleWorker))
	server, err := kubernetes.NewForConfigOrDie(c.Config).Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	at := func(version string) *eksd.Release {
		r := eksd.Default()
		for i := range r.Status.Components {
			if r.Status.Components[i].Name == eksd.KubernetesComponent {
				r.Status.Components[i].GitTag = version
			}
		}
		return r
	}
	var out strings.Builder
	if err := checkControlPlane(context.Background(), h, connect, at(server.GitVersion), false, &out); err != nil {
		t.Fatalf("a worker to the control plane's version %s: %v", server.GitVersion, err)
	}
	err = checkControlPlane(context.Background(), h, connect, at("v1.99.0"), false, &out)
	if exitCode(err) != ExitUsage || !strings.Contains(err.Error(), server.GitVersion) || !strings.Contains(err.Error(), "v1.99.0") {
		t.Errorf("a worker past the control plane's %s: %v", server.GitVersion, err)
	}
	// The first control plane takes the cluster to the target.
	if err := checkControlPlane(context.Background(), h, connect, at("v1.99.0"), true, &out); err != nil {
		t.Errorf("the first control plane: %v", err)
	}
}

// treeDiff names the files whose presence, mode or content differ between
// two trees.
func treeDiff(t *testing.T, a, b string) string {
	t.Helper()
	files := func(root string) map[string]string {
		m := map[string]string{}
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == root {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			v := fi.Mode().String()
			if fi.Mode().IsRegular() {
				data, _ := os.ReadFile(p)
				v += fmt.Sprintf(" %x", sha256.Sum256(data))
			}
			m[strings.TrimPrefix(p, root)] = v
			return nil
		})
		return m
	}
	fa, fb := files(a), files(b)
	var out []string
	for p, v := range fa {
		if fb[p] != v {
			out = append(out, fmt.Sprintf("%s: %q vs %q", p, v, fb[p]))
		}
	}
	for p, v := range fb {
		if _, ok := fa[p]; !ok {
			out = append(out, fmt.Sprintf("%s: only in the re-run's tree (%s)", p, v))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}
