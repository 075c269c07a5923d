package kube

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/kube/kubetest"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// installKata puts what a kata-static release gives each hypervisor (the
// shim, its configuration, the binary that configuration names) under root.
func installKata(t *testing.T, root string, hvs ...string) {
	t.Helper()
	files := map[string]string{"/opt/kata/bin/containerd-shim-kata-v2": "shim"}
	for _, hv := range hvs {
		bin := "/opt/kata/bin/" + hv
		files[bin] = hv
		files["/opt/kata/share/defaults/kata-containers/configuration-"+hv+".toml"] = "[hypervisor." + hv + "]\npath = \"" + bin + "\"\n"
	}
	hosttest.WriteTree(t, root, files)
}

func testConfig(node string, hv ...string) *config.NodeConfig {
	cfg := config.Default()
	cfg.Spec.Node.Name = node
	cfg.Spec.Kata.Hypervisors = hv
	cfg.Spec.Addons.UntaintControlPlane = true
	return cfg
}

func TestRuntimeClassesFor(t *testing.T) {
	cfg := testConfig("n", "clh", "qemu", "fc")
	got := RuntimeClassesFor(cfg.Spec.Kata)
	want := []RuntimeClassData{
		{Name: "kata", Handler: "kata", Memory: "130Mi", CPU: "250m"}, // backed by clh, the first
		{Name: "kata-clh", Handler: "kata-clh", Memory: "130Mi", CPU: "250m"},
		{Name: "kata-qemu", Handler: "kata-qemu", Memory: "320Mi", CPU: "250m"},
		{Name: "kata-fc", Handler: "kata-fc", Memory: "130Mi", CPU: "250m"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	cfg.Spec.Kata.Enabled = false
	if got := RuntimeClassesFor(cfg.Spec.Kata); got != nil {
		t.Fatalf("kata disabled: got %+v", got)
	}
}

func TestRenderRuntimeClass(t *testing.T) {
	_, rc, err := RenderRuntimeClass(RuntimeClassData{Name: "kata-qemu", Handler: "kata-qemu", Memory: "320Mi", CPU: "250m"})
	if err != nil {
		t.Fatal(err)
	}
	if rc.APIVersion != "node.k8s.io/v1" || rc.Kind != "RuntimeClass" || rc.Name != "kata-qemu" || rc.Handler != "kata-qemu" {
		t.Fatalf("bad header: %+v", rc)
	}
	mem, cpu := rc.Overhead.PodFixed[corev1.ResourceMemory], rc.Overhead.PodFixed[corev1.ResourceCPU]
	if mem.Cmp(resource.MustParse("320Mi")) != 0 || cpu.Cmp(resource.MustParse("250m")) != 0 || len(rc.Overhead.PodFixed) != 2 {
		t.Fatalf("overhead %v", rc.Overhead.PodFixed)
	}
	if sel := rc.Scheduling.NodeSelector; len(sel) != 1 || sel[KataNodeLabel] != "true" {
		t.Fatalf("nodeSelector %v", sel)
	}
}

func TestAddonsUnderRootPlansNotesOnly(t *testing.T) {
	root := t.TempDir()
	installKata(t, root, "qemu")
	h, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig("n", "qemu")
	cfg.Spec.Addons.CNIManifest = "none" // the bridge pod network is a file: TestBridgePodNetwork
	s := &AddonsStep{Config: cfg}
	p, err := s.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() {
		t.Fatalf("--root planned changes: %v", p.Summaries())
	}
	if notes := strings.Join(p.Notes, "\n"); !strings.Contains(notes, "--root") || !strings.Contains(notes, "kata, kata-qemu") {
		t.Fatalf("notes: %s", notes)
	}
}

// Before kubeadm ran there is no admin.conf; with one, the API server may
// still be down: either way every add-on is planned, with a note.
func TestAddonsPlansEverythingWhenAPIDown(t *testing.T) {
	cni := filepath.Join(t.TempDir(), "cni.yaml")
	if err := os.WriteFile(cni, []byte(cniManifest("cni-down")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		kubeconfig []byte
	}{
		{"no admin.conf", nil},
		{"refused", []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: x}}]\ncurrent-context: c\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := liveHost(t, nil)
			installKata(t, h.Root(), "qemu", "fc")
			if tc.kubeconfig != nil {
				p := filepath.Join(h.Root(), AdminKubeconfig)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, tc.kubeconfig, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg := testConfig("node-x", "qemu", "fc")
			cfg.Spec.Addons.CNIManifest = cni
			s := &AddonsStep{Config: cfg}
			p, err := s.Plan(context.Background(), h)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{
				"apply RuntimeClass kata (handler kata, overhead 320Mi/250m, nodeSelector katacontainers.io/kata-runtime=true)",
				"apply RuntimeClass kata-qemu (handler kata-qemu, overhead 320Mi/250m, nodeSelector katacontainers.io/kata-runtime=true)",
				"apply RuntimeClass kata-fc (handler kata-fc, overhead 130Mi/250m, nodeSelector katacontainers.io/kata-runtime=true)",
				"label node node-x katacontainers.io/kata-runtime=true",
				"remove the control-plane NoSchedule taint from node node-x (single node: pods may run on it)",
				"apply CNI manifest " + cni + " (3 objects, server-side apply)",
				"wait up to 5m0s for node node-x to be Ready",
			}
			if got := p.Summaries(); !slices.Equal(got, want) {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "does not answer yet") {
				t.Fatalf("notes %q", p.Notes)
			}
		})
	}
}

func TestAddonsNoCNINoKata(t *testing.T) {
	cfg := testConfig("n", "qemu")
	cfg.Spec.Kata.Enabled = false
	cfg.Spec.Addons.UntaintControlPlane = false
	cfg.Spec.Addons.CNIManifest = "none"
	p, err := (&AddonsStep{Config: cfg}).Plan(context.Background(), liveHost(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() {
		t.Fatalf("planned %v", p.Summaries())
	}
	if notes := strings.Join(p.Notes, "\n"); !strings.Contains(notes, "pods other than host-network ones stay Pending until a CNI is installed") {
		t.Fatalf("notes: %s", notes)
	}
}

func TestAddonsBadCNIManifestIsBadInput(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"kindless.yaml": "apiVersion: v1\nmetadata: {name: x}\n",
		"nameless.yaml": "apiVersion: v1\nkind: ConfigMap\n",
		"broken.yaml":   "apiVersion: v1\nkind: [\n",
		"empty.yaml":    "---\n# nothing\n---\n",
		"missing.yaml":  "",
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name)
			if name != "missing.yaml" {
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfg := testConfig("n", "qemu")
			cfg.Spec.Addons.CNIManifest = p
			_, err := (&AddonsStep{Config: cfg}).Plan(context.Background(), liveHost(t, nil))
			var in *badinput.Error
			if !errors.As(err, &in) {
				t.Fatalf("want bad input, got %v", err)
			}
		})
	}
}

// cniManifest is a small CNI-like manifest: a Namespace, a ConfigMap in it
// and a DaemonSet, as multi-document YAML with an empty document.
func cniManifest(ns string) string {
	return `---
apiVersion: v1
kind: Namespace
metadata:
  name: ` + ns + `
---
# comment-only document
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cni-config
  namespace: ` + ns + `
data:
  10-test.conflist: '{"cniVersion":"1.0.0","name":"test","plugins":[{"type":"bridge"}]}'
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: cni-agent
  namespace: ` + ns + `
spec:
  selector:
    matchLabels: {app: cni-agent}
  template:
    metadata:
      labels: {app: cni-agent}
    spec:
      hostNetwork: true
      tolerations: [{operator: Exists}]
      containers:
        - name: agent
          image: registry.example/cni-agent:v1
`
}

func createNode(t *testing.T, cs *Clients, name string, taints ...corev1.Taint) {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Taints: taints}}
	if _, err := cs.Kube.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Kube.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
}

func setReady(t *testing.T, cs *Clients, name string) {
	t.Helper()
	if err := updateReady(cs, name, corev1.ConditionTrue, "KubeletReady", ""); err != nil {
		t.Fatal(err)
	}
}

// freshCluster is the shared API server, without any RuntimeClass, and
// its clients.
func freshCluster(t *testing.T) (*kubetest.Cluster, *Clients) {
	t.Helper()
	c := cluster(t)
	cs := clients(t, c)
	err := cs.Kube.NodeV1().RuntimeClasses().DeleteCollection(context.Background(), metav1.DeleteOptions{}, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c, cs
}

// A worker never carries kubeadm's control-plane taint: nothing to remove.
func TestAddonsWorkerIsNotUntainted(t *testing.T) {
	cfg := testConfig("w1", "qemu")
	cfg.Spec.Kata.Enabled = false
	cfg.Spec.Node.Role = config.RoleWorker
	p, err := (&AddonsStep{Config: cfg}).Plan(context.Background(), liveHost(t, nil))
	if err != nil || !p.Empty() {
		t.Fatalf("%v %v", err, p.Summaries())
	}
}
