package cli

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/kubeadm"
	"github.com/eksd-kata/eksd-kata/pkg/noderecord"
	"github.com/eksd-kata/eksd-kata/pkg/release/releasetest"
)

// statusNode is a node image made by bootstrap --root: Kata's files in
// place, the binaries installed from an artifacts directory and checked
// against a manifest file. It returns the root and the manifest.
func statusNode(t *testing.T, extra ...string) (root, manifest string) {
	t.Helper()
	bins := releasetest.Binaries()
	dir := t.TempDir()
	manifest = filepath.Join(dir, "kubernetes-1-36-eks-7.yaml")
	if err := os.WriteFile(manifest, releasetest.Manifest(t, releasetest.Release(t, "1-36", 7, "https://distro.invalid", bins)), 0o644); err != nil {
		t.Fatal(err)
	}
	artifacts := filepath.Join(dir, "artifacts")
	for name, data := range bins {
		hosttest.WriteTree(t, artifacts, map[string]string{releasetest.Path(name, runtime.GOARCH): string(data)})
	}
	root = t.TempDir()
	hosttest.WriteTree(t, root, map[string]string{
		"/opt/kata/bin/containerd-shim-kata-v2":                            "shim",
		"/opt/kata/bin/qemu-system-x86_64":                                 "qemu",
		"/opt/kata/share/defaults/kata-containers/configuration-qemu.toml": "[hypervisor.qemu]\npath = \"/opt/kata/bin/qemu-system-x86_64\"\n",
	})
	args := append([]string{"--root", root, "bootstrap", "--containerd-version", "2.4.2", "--ignore", "all",
		"--node-name", "node-1", "--advertise-address", "192.0.2.10", "--artifacts-dir", artifacts}, extra...)
	if !slices.Contains(extra, "--insecure-skip-verify") {
		args = append(args, "--release-manifest", manifest)
	}
	if code, out, stderr := run(t, "", args...); code != ExitOK {
		t.Fatalf("bootstrap: exit %d\n%s%s", code, out, stderr)
	}
	return root, manifest
}

// statusRun runs eksd-kata status under root with args and wants exit code want.
func statusRun(t *testing.T, want int, root string, args ...string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := run(t, "", append([]string{"--root", root, "status"}, args...)...)
	if code != want {
		t.Fatalf("status %q: exit %d, want %d\n%s%s", args, code, want, stdout, stderr)
	}
	return stdout, stderr
}

// TestStatusUnderRootAfterBootstrap: on the image bootstrap --root made,
// status reads the record, finds the binaries the manifest's, plans
// nothing, says what it skipped, exits 0 and changes nothing.
func TestStatusUnderRootAfterBootstrap(t *testing.T) {
	root, _ := statusNode(t)
	before := hosttest.HashTreeTimes(t, root)
	out, _ := statusRun(t, ExitOK, root)
	containsAll(t, "status", out,
		"node        node-1: control-plane by eksd-kata bootstrap, since ",
		"release     kubernetes-1-36-eks-7 (Kubernetes v1.36.2), the manifest kept in /var/lib/eksd-kata/release.yaml (from ",
		"binaries    kubeadm, kubelet, kubectl match kubernetes-1-36-eks-7\n",
		"kata        ready: qemu\n",
		"drift       nothing would change (bootstrap planned: "+strings.Join(driftPhases(), ", ")+")\n",
		"not planned: preflight (read-only checks: eksd-kata check); verify (",
		"skipped     the containerd daemon: not the running system (--root)\n",
		"the cluster (the node's Ready condition, RuntimeClasses): not the running system (--root)\n",
		"status      as configured and Ready\n")
	if hosttest.HashTreeTimes(t, root) != before {
		t.Fatal("status changed the root")
	}
	// The drift plans the kubeconfig of the user bootstrap gave it to.
	data, err := os.ReadFile(filepath.Join(root, noderecord.Path))
	if err != nil || !strings.Contains(string(data), `"kubeconfigUser": "`+kubeadm.KubeconfigUser()+`"`) {
		t.Errorf("record: %v\n%s", err, data)
	}
}

// TestStatusJSON: the shape scripts read.
func TestStatusJSON(t *testing.T) {
	root, _ := statusNode(t)
	out, _ := statusRun(t, ExitOK, root, "-o", "json")
	var got map[string]any
	decodeJSON(t, out, &got)
	keys := func(m any) []string {
		var ks []string
		for k := range m.(map[string]any) {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	if k := keys(got); !slices.Equal(k, []string{"binaries", "drift", "kata", "node", "problems", "release", "skipped"}) {
		t.Errorf("keys %q", k)
	}
	node := got["node"].(map[string]any)
	if node["bootstrapped"] != true || node["role"] != "control-plane" || node["name"] != "node-1" || node["verb"] != "bootstrap" ||
		node["release"] != "kubernetes-1-36-eks-7" || node["record"] != noderecord.Path || node["since"] == nil {
		t.Errorf("node %v", node)
	}
	rel := got["release"].(map[string]any)
	if rel["name"] != "kubernetes-1-36-eks-7" || rel["channel"] != "1-36" || rel["number"] != float64(7) || rel["kubernetesVersion"] != "v1.36.2" || rel["checksums"] != true {
		t.Errorf("release %v", rel)
	}
	for i, it := range got["binaries"].(map[string]any)["items"].([]any) {
		b := it.(map[string]any)
		if b["name"] != []string{"kubeadm", "kubelet", "kubectl"}[i] || b["state"] != "match" || b["path"] != "/usr/local/bin/"+b["name"].(string) {
			t.Errorf("binary %v", b)
		}
	}
	kata := got["kata"].(map[string]any)
	if kata["enabled"] != true || len(kata["ready"].([]any)) != 1 || kata["notReady"] != nil {
		t.Errorf("kata %v", kata)
	}
	drift := got["drift"].(map[string]any)
	var phases []string
	for _, p := range drift["phases"].([]any) {
		ph := p.(map[string]any)
		phases = append(phases, ph["name"].(string))
		if c := ph["changes"].([]any); len(c) != 0 {
			t.Errorf("phase %v", ph)
		}
	}
	if drift["verb"] != "bootstrap" || drift["changes"] != float64(0) || drift["error"] != nil ||
		!slices.Equal(phases, driftPhases()) || len(drift["notPlanned"].([]any)) != 2 {
		t.Errorf("drift %v", drift)
	}
	if p, ok := got["problems"].([]any); !ok || len(p) != 0 {
		t.Errorf("problems %v, want []", got["problems"])
	}
	if s := got["skipped"].([]any); len(s) != 3 {
		t.Errorf("skipped %v", s)
	}
}

// TestStatusDrift: a file bootstrap wrote, changed since, is drift in the
// phase that wrote it: exit 1, naming both.
func TestStatusDrift(t *testing.T) {
	root, _ := statusNode(t)
	conf := filepath.Join(root, "etc/sysctl.d/99-eksd-kata.conf")
	if err := os.WriteFile(conf, []byte("net.ipv4.ip_forward = 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr := statusRun(t, ExitFailure, root)
	containsAll(t, "status", out,
		"drift       bootstrap would make 1 change(s)",
		"            + host: update /etc/sysctl.d/99-eksd-kata.conf\n",
		"✗ drift: bootstrap would make 1 change(s) (host 1)")
	if !strings.Contains(stderr, "error: the node is not as configured and Ready: 1 problem(s)") {
		t.Errorf("stderr: %s", stderr)
	}

	// A flag over the recorded configuration: what bootstrap with it would change.
	out, _ = statusRun(t, ExitFailure, root, "--pod-cidr", "10.32.0.0/16")
	containsAll(t, "status --pod-cidr", out,
		"+ kubeadm: update /etc/eksd-kata/kubeadm.yaml\n",
		"+ addons: update /etc/cni/net.d/10-eksd-kata-bridge.conflist\n")
}

// TestStatusBinaryReplaced: a kubelet that is not the release's differs,
// by its hash against the manifest, and the drift reinstalls it.
func TestStatusBinaryReplaced(t *testing.T) {
	root, _ := statusNode(t)
	if err := os.WriteFile(filepath.Join(root, "usr/local/bin/kubelet"), []byte("#!/bin/sh\necho another kubelet\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, _ := statusRun(t, ExitFailure, root)
	containsAll(t, "status", out,
		"binaries    kubeadm, kubectl match kubernetes-1-36-eks-7\n",
		"            ✗ /usr/local/bin/kubelet differs: sha256 ",
		"+ binaries: install /usr/local/bin/kubelet from https://distro.invalid/bin/linux/",
		"✗ /usr/local/bin/kubelet differs from kubernetes-1-36-eks-7")
}

// TestStatusWithoutChecksums: binaries installed without checksums are
// only hashed, and the release is said to have none; a manifest given to
// status then judges them.
func TestStatusWithoutChecksums(t *testing.T) {
	root, manifest := statusNode(t, "--insecure-skip-verify")
	out, _ := statusRun(t, ExitOK, root)
	containsAll(t, "status", out,
		"binaries    kubernetes-1-36-eks-7 carries no checksums to compare them with (give --release-manifest FILE|URL)\n",
		"            kubelet sha256:",
		"drift       nothing would change")

	out, _ = statusRun(t, ExitOK, root, "--release-manifest", manifest)
	containsAll(t, "status with the manifest", out,
		"binaries    kubeadm, kubelet, kubectl match kubernetes-1-36-eks-7\n",
		"release     kubernetes-1-36-eks-7 (Kubernetes v1.36.2), from "+manifest+"\n")
}

// TestStatusNotBootstrapped: no record is no node yet: exit 1 with the
// command to run.
func TestStatusNotBootstrapped(t *testing.T) {
	root := t.TempDir()
	out, stderr := statusRun(t, ExitFailure, root)
	containsAll(t, "status", out+stderr, "node        not bootstrapped (no /var/lib/eksd-kata/node.json)",
		"error: not bootstrapped: run eksd-kata bootstrap")
	out, _ = statusRun(t, ExitFailure, root, "-o", "json")
	var got map[string]any
	decodeJSON(t, out, &got)
	if got["node"].(map[string]any)["bootstrapped"] != false || got["drift"] != nil {
		t.Fatalf("json:\n%s", out)
	}
}

// TestStatusJoinedWorker: a worker's record holds no secret of its join,
// and its drift leaves kubeadm join out.
func TestStatusJoinedWorker(t *testing.T) {
	root := t.TempDir()
	code, out, stderr := run(t, "", "--root", root, "join", "192.0.2.10:6443", "--token", goodToken, "--discovery-token-ca-cert-hash", goodHash,
		"--containerd-version", "2.4.2", "--ignore", "all", "--node-name", "worker-1", "--kata=false", "--skip", "binaries,cni")
	if code != ExitOK {
		t.Fatalf("join: exit %d\n%s%s", code, out, stderr)
	}
	data, err := os.ReadFile(filepath.Join(root, noderecord.Path))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), goodToken) || strings.Contains(string(data), strings.Split(goodToken, ".")[1]) {
		t.Fatalf("the record holds the token:\n%s", data)
	}
	out, _ = statusRun(t, ExitFailure, root) // no binaries
	containsAll(t, "status", out,
		"node        worker-1: worker by eksd-kata join, since ",
		"kata        disabled in the configuration\n",
		"drift       join would make 5 change(s) (planned: "+strings.Join(slices.DeleteFunc(slices.Clone(nodePhaseNames), func(s string) bool { return s == "preflight" }), ", ")+")\n",
		"not planned: preflight (read-only checks: eksd-kata check); kubeadm (join runs once: its token is not kept)")
}

func TestStatusBadInput(t *testing.T) {
	root, _ := statusNode(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", "yaml"}, `-o/--output: "yaml"`},
		{[]string{"--containerd-version", "latest"}, "--containerd-version"},
		{[]string{"--release", "1.36"}, "--release"},
		{[]string{"extra"}, `unknown command "extra"`},
	} {
		if _, stderr := statusRun(t, ExitUsage, root, tc.args...); !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: stderr does not name %q:\n%s", tc.args, tc.want, stderr)
		}
	}
}

// TestStatusOtherRelease: asked about another release, status shows what
// bootstrap with it would change: other binaries and kubeadm's version.
func TestStatusOtherRelease(t *testing.T) {
	root, _ := statusNode(t)
	out, _ := statusRun(t, ExitFailure, root, "--release", "1-35")
	containsAll(t, "status --release 1-35", out,
		"release     kubernetes-1-35-eks-13 (Kubernetes v1.35.6), eksd-kata's embedded copy\n",
		"            the node was made from kubernetes-1-36-eks-7\n",
		"+ binaries: install /usr/local/bin/kubelet from https://distro.eks.amazonaws.com/kubernetes-1-35/",
		"+ certs: update /etc/eksd-kata/kubeadm.yaml")
}

// driftPhases are the phases of bootstrap that status plans: all but the
// read-only preflight and the verify smoke test.
func driftPhases() []string {
	return slices.DeleteFunc(slices.Clone(stepNames), func(s string) bool { return s == "preflight" || s == "verify" })
}
