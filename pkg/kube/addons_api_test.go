package kube

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The whole step against a real API server: planned from what exists,
// applied through the runner, read back, then nothing left to plan.
func TestAddonsAgainstAPIServer(t *testing.T) {
	c, cs := freshCluster(t)
	ctx := context.Background()
	const node = "addons-node"
	other := corev1.Taint{Key: "example.com/keep", Value: "x", Effect: corev1.TaintEffectNoSchedule}
	createNode(t, cs, node,
		corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule},
		corev1.Taint{Key: "node-role.kubernetes.io/master", Effect: corev1.TaintEffectNoSchedule},
		other)
	cni := filepath.Join(t.TempDir(), "cni.yaml")
	if err := os.WriteFile(cni, []byte(cniManifest("cni-test")), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(node, "qemu", "clh", "fc")
	cfg.Spec.Addons.CNIManifest = cni
	h := liveHost(t, c)
	installKata(t, h.Root(), "qemu", "clh", "fc")
	var connects atomic.Int32
	admin := KubeconfigConnector(AdminKubeconfig)
	connect := func(ctx context.Context, h *host.Host) (*Clients, error) {
		connects.Add(1)
		return admin(ctx, h)
	}
	step := &AddonsStep{Config: cfg, ReadyTimeout: time.Second, Backoff: fast, Connect: connect}

	p, err := step.Plan(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"create RuntimeClass kata (handler kata, overhead 320Mi/250m, nodeSelector katacontainers.io/kata-runtime=true)",
		"create RuntimeClass kata-qemu (handler kata-qemu, overhead 320Mi/250m, nodeSelector katacontainers.io/kata-runtime=true)",
		"create RuntimeClass kata-clh (handler kata-clh, overhead 130Mi/250m, nodeSelector katacontainers.io/kata-runtime=true)",
		"create RuntimeClass kata-fc (handler kata-fc, overhead 130Mi/250m, nodeSelector katacontainers.io/kata-runtime=true)",
		"label node addons-node katacontainers.io/kata-runtime=true",
		"remove the control-plane NoSchedule taint from node addons-node (single node: pods may run on it)",
		"apply CNI manifest " + cni + ": create Namespace cni-test, ConfigMap cni-test/cni-config, DaemonSet cni-test/cni-agent",
		"wait up to 1s for node addons-node to be Ready",
	}
	if got := p.Summaries(); !slices.Equal(got, want) {
		t.Fatalf("plan\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(p.Notes) != 0 {
		t.Fatalf("notes %q", p.Notes)
	}

	// No kubelet runs: the node never gets Ready by itself.
	_, err = bootstrap.Run(ctx, h, []bootstrap.Step{step}, bootstrap.Options{})
	if err == nil || !strings.Contains(err.Error(), "node addons-node is not Ready after 1s (no Ready condition yet)") {
		t.Fatalf("want a readiness timeout, got %v", err)
	}
	// Each plan connects; the eight changes share what the plan found answering.
	if n := connects.Load(); n != 2 {
		t.Errorf("%d connections for two plans and their changes, want 2", n)
	}

	for _, w := range RuntimeClassesFor(cfg.Spec.Kata) {
		rc, err := cs.Kube.NodeV1().RuntimeClasses().Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rc.Handler != w.Handler || rc.Labels["app.kubernetes.io/managed-by"] != "eksd-kata" {
			t.Errorf("%s: handler %q labels %v", w.Name, rc.Handler, rc.Labels)
		}
		pf := rc.Overhead.PodFixed
		if len(pf) != 2 || pf.Memory().Cmp(resource.MustParse(w.Memory)) != 0 || pf.Cpu().Cmp(resource.MustParse(w.CPU)) != 0 {
			t.Errorf("%s: overhead %v, want %s/%s", w.Name, pf, w.Memory, w.CPU)
		}
		if sel := rc.Scheduling.NodeSelector; len(sel) != 1 || sel[KataNodeLabel] != "true" || len(rc.Scheduling.Tolerations) != 0 {
			t.Errorf("%s: scheduling %+v", w.Name, rc.Scheduling)
		}
		if mf := rc.ManagedFields; len(mf) != 1 || mf[0].Manager != FieldManager || mf[0].Operation != metav1.ManagedFieldsOperationApply {
			t.Errorf("%s: managed fields %+v: want one server-side apply by %s", w.Name, mf, FieldManager)
		}
	}
	n, err := cs.Kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels[KataNodeLabel] != "true" {
		t.Errorf("node labels %v", n.Labels)
	}
	// Admission adds node.kubernetes.io/not-ready to a new node; that one stays.
	var keys []string
	for _, tt := range n.Spec.Taints {
		keys = append(keys, tt.Key)
	}
	if want := []string{other.Key, "node.kubernetes.io/not-ready"}; !slices.Equal(keys, want) {
		t.Errorf("taints %v, want %v", keys, want)
	}
	cm, err := cs.Kube.CoreV1().ConfigMaps("cni-test").Get(ctx, "cni-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cm.Data["10-test.conflist"], `"type":"bridge"`) || cm.ManagedFields[0].Manager != FieldManager {
		t.Errorf("configmap %v %+v", cm.Data, cm.ManagedFields)
	}
	ds, err := cs.Kube.AppsV1().DaemonSets("cni-test").Get(ctx, "cni-agent", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := ds.Spec.Template.Spec.Containers[0].Image; img != "registry.example/cni-agent:v1" || !ds.Spec.Template.Spec.HostNetwork {
		t.Errorf("daemonset %s", img)
	}

	// The node gets Ready: what is left is waiting for it, and that passes.
	setReady(t, cs, node)
	p, err = step.Plan(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() {
		t.Fatalf("second plan: %v", p.Summaries())
	}
	rep, err := bootstrap.Run(ctx, h, []bootstrap.Step{step}, bootstrap.Options{})
	if err != nil || rep.Changed() != 0 {
		t.Fatalf("re-run: %v, %d changes", err, rep.Changed())
	}
}

// Drift is planned precisely and repaired: an overhead someone changed, an
// immutable handler (replaced), a label removed, a taint put back, a
// ConfigMap edited by another manager.
func TestAddonsRepairsDrift(t *testing.T) {
	c, cs := freshCluster(t)
	ctx := context.Background()
	const node = "drift-node"
	createNode(t, cs, node)
	setReady(t, cs, node)
	cni := filepath.Join(t.TempDir(), "cni.yaml")
	if err := os.WriteFile(cni, []byte(cniManifest("cni-drift")), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(node, "qemu")
	cfg.Spec.Addons.CNIManifest = cni
	h := liveHost(t, c)
	installKata(t, h.Root(), "qemu")
	step := &AddonsStep{Config: cfg, ReadyTimeout: 5 * time.Second, Backoff: fast}
	if _, err := bootstrap.Run(ctx, h, []bootstrap.Step{step}, bootstrap.Options{}); err != nil {
		t.Fatal(err)
	}

	rcs := cs.Kube.NodeV1().RuntimeClasses()
	rc, err := rcs.Get(ctx, "kata-qemu", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rc.Overhead.PodFixed[corev1.ResourceMemory] = resource.MustParse("160Mi")
	if _, err := rcs.Update(ctx, rc, metav1.UpdateOptions{FieldManager: "kubectl"}); err != nil {
		t.Fatal(err)
	}
	if err := rcs.Delete(ctx, "kata", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	rc.ObjectMeta = metav1.ObjectMeta{Name: "kata"}
	rc.Handler = "runc"
	if _, err := rcs.Create(ctx, rc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n, err := cs.Kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	delete(n.Labels, KataNodeLabel)
	n.Spec.Taints = []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}}
	if _, err := cs.Kube.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm, err := cs.Kube.CoreV1().ConfigMaps("cni-drift").Get(ctx, "cni-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["10-test.conflist"] = "edited"
	if _, err := cs.Kube.CoreV1().ConfigMaps("cni-drift").Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}

	p, err := step.Plan(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"replace RuntimeClass kata (handler kata, overhead 320Mi/250m, nodeSelector katacontainers.io/kata-runtime=true): handler runc, want kata (the handler is immutable)",
		"update RuntimeClass kata-qemu (handler kata-qemu, overhead 320Mi/250m, nodeSelector katacontainers.io/kata-runtime=true): overhead differs",
		"label node drift-node katacontainers.io/kata-runtime=true",
		"remove the control-plane NoSchedule taint from node drift-node (single node: pods may run on it)",
		"apply CNI manifest " + cni + ": update ConfigMap cni-drift/cni-config",
		// Ready now, but a changed CNI may restart its pods: the wait is cheap.
		"wait up to 5s for node drift-node to be Ready",
	}
	if got := p.Summaries(); !slices.Equal(got, want) {
		t.Fatalf("plan\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := bootstrap.Run(ctx, h, []bootstrap.Step{step}, bootstrap.Options{}); err != nil {
		t.Fatal(err)
	}
	if rc, err := rcs.Get(ctx, "kata", metav1.GetOptions{}); err != nil || rc.Handler != "kata" {
		t.Fatalf("kata handler: %v %v", rc, err)
	}
	if p, err := step.Plan(ctx, h); err != nil || !p.Empty() {
		t.Fatalf("after repair: %v %v", err, p.Summaries())
	}
}

// What eksd-kata made and the config no longer asks for goes: the
// RuntimeClass of a hypervisor taken out of spec.kata, then, with Kata
// off, every one of its RuntimeClasses and the node's Kata label. A
// RuntimeClass that is not eksd-kata's stays.
func TestAddonsRemovesWhatSpecKataDropped(t *testing.T) {
	const node = "dropped-node"
	h, cs := nodeBesideTheirRuntimeClass(t, node)
	installKata(t, h.Root(), "qemu", "clh")
	run := func(cfg *config.NodeConfig, want ...string) {
		t.Helper()
		runAddons(t, h, cfg, want...)
	}
	names := func() []string {
		t.Helper()
		return runtimeClassNames(t, cs)
	}

	cfg := testConfig(node, "qemu", "clh")
	cfg.Spec.Addons.UntaintControlPlane = false
	run(cfg,
		"create RuntimeClass kata (handler kata, overhead 320Mi/250m, nodeSelector katacontainers.io/kata-runtime=true)",
		"create RuntimeClass kata-qemu (handler kata-qemu, overhead 320Mi/250m, nodeSelector katacontainers.io/kata-runtime=true)",
		"create RuntimeClass kata-clh (handler kata-clh, overhead 130Mi/250m, nodeSelector katacontainers.io/kata-runtime=true)",
		"label node dropped-node katacontainers.io/kata-runtime=true")
	cfg.Spec.Kata.Hypervisors = []string{"qemu"}
	run(cfg, "delete RuntimeClass kata-clh (handler kata-clh): eksd-kata made it, and spec.kata no longer asks for it")
	if got := names(); !slices.Equal(got, []string{"kata", "kata-qemu", "kata-theirs"}) {
		t.Fatalf("RuntimeClasses %v", got)
	}
	cfg.Spec.Kata.Enabled = false
	run(cfg,
		"delete RuntimeClass kata (handler kata): eksd-kata made it, and spec.kata no longer asks for it",
		"delete RuntimeClass kata-qemu (handler kata-qemu): eksd-kata made it, and spec.kata no longer asks for it",
		"remove label katacontainers.io/kata-runtime from node dropped-node (Kata is not set up here: spec.kata)")
	if got := names(); !slices.Equal(got, []string{"kata-theirs"}) {
		t.Fatalf("RuntimeClasses %v", got)
	}
	if v, ok := kataLabel(t, cs, node); ok {
		t.Fatalf("node label %q", v)
	}
}

// runAddons plans the step with cfg, wants that plan, runs it, and wants
// nothing left to plan after; it returns the first plan's notes.
func runAddons(t *testing.T, h *host.Host, cfg *config.NodeConfig, want ...string) []string {
	t.Helper()
	ctx := context.Background()
	step := &AddonsStep{Config: cfg, ReadyTimeout: 5 * time.Second, Backoff: fast}
	p, err := step.Plan(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Summaries(); !slices.Equal(got, want) {
		t.Fatalf("plan\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := bootstrap.Run(ctx, h, []bootstrap.Step{step}, bootstrap.Options{}); err != nil {
		t.Fatal(err)
	}
	if p, err := step.Plan(ctx, h); err != nil || !p.Empty() {
		t.Fatalf("plan after the run: %v %q", err, p.Summaries())
	}
	return p.Notes
}

// nodeBesideTheirRuntimeClass makes a Ready node in a fresh cluster that
// has a RuntimeClass kata-theirs eksd-kata did not make.
func nodeBesideTheirRuntimeClass(t *testing.T, node string) (*host.Host, *Clients) {
	t.Helper()
	c, cs := freshCluster(t)
	createNode(t, cs, node)
	setReady(t, cs, node)
	rc := &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "kata-theirs"}, Handler: "kata-theirs"}
	if _, err := cs.Kube.NodeV1().RuntimeClasses().Create(context.Background(), rc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h := liveHost(t, c)
	// A pod network of the operator's: eksd-kata's own is not these tests' subject.
	hosttest.WriteTree(t, h.Root(), map[string]string{"/etc/cni/net.d/05-theirs.conflist": "{}\n"})
	return h, cs
}

func runtimeClassNames(t *testing.T, cs *Clients) []string {
	t.Helper()
	list, err := cs.Kube.NodeV1().RuntimeClasses().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rc := range list.Items {
		out = append(out, rc.Name)
	}
	return out
}

func kataLabel(t *testing.T, cs *Clients, node string) (string, bool) {
	t.Helper()
	n, err := cs.Kube.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, ok := n.Labels[KataNodeLabel]
	return v, ok
}

// The RuntimeClasses and the label follow what Kata is installed for on
// the node: none without Kata (a note names what is missing and the fix),
// those of the hypervisors it has, and what an earlier run applied goes
// when Kata does. A RuntimeClass that is not eksd-kata's stays throughout.
func TestAddonsOnlyWhereKataIsInstalled(t *testing.T) {
	const node = "kataless-node"
	h, cs := nodeBesideTheirRuntimeClass(t, node)
	cfg := testConfig(node, "qemu", "clh")
	cfg.Spec.Addons.UntaintControlPlane = false
	wantNote := func(notes []string, want ...string) {
		t.Helper()
		all := strings.Join(notes, "\n")
		for _, w := range append(want, "eksd-kata bootstrap --only kata,containerd,addons --install-kata") {
			if !strings.Contains(all, w) {
				t.Fatalf("notes %q, want %q", notes, w)
			}
		}
	}

	notes := runAddons(t, h, cfg)
	wantNote(notes, "qemu, clh: no /opt/kata/bin/containerd-shim-kata-v2", "no RuntimeClass kata, kata-qemu, kata-clh and no node label")
	if got := runtimeClassNames(t, cs); !slices.Equal(got, []string{"kata-theirs"}) {
		t.Fatalf("without Kata: RuntimeClasses %v", got)
	}
	if v, ok := kataLabel(t, cs, node); ok {
		t.Fatalf("without Kata: label %q", v)
	}

	installKata(t, h.Root(), "qemu")
	notes = runAddons(t, h, cfg,
		"create RuntimeClass kata (handler kata, overhead 320Mi/250m, nodeSelector katacontainers.io/kata-runtime=true)",
		"create RuntimeClass kata-qemu (handler kata-qemu, overhead 320Mi/250m, nodeSelector katacontainers.io/kata-runtime=true)",
		"label node kataless-node katacontainers.io/kata-runtime=true")
	wantNote(notes, "clh: no /opt/kata/share/defaults/kata-containers/configuration-clh.toml", "no RuntimeClass kata-clh;")
	if got := runtimeClassNames(t, cs); !slices.Equal(got, []string{"kata", "kata-qemu", "kata-theirs"}) {
		t.Fatalf("Kata for qemu: RuntimeClasses %v", got)
	}
	if v, _ := kataLabel(t, cs, node); v != "true" {
		t.Fatalf("Kata for qemu: label %q", v)
	}

	installKata(t, h.Root(), "clh")
	runAddons(t, h, cfg,
		"create RuntimeClass kata-clh (handler kata-clh, overhead 130Mi/250m, nodeSelector katacontainers.io/kata-runtime=true)")

	if err := os.RemoveAll(filepath.Join(h.Root(), "opt/kata")); err != nil {
		t.Fatal(err)
	}
	// Kata gone from this node: it loses the label its RuntimeClasses
	// select, and they stay for the cluster's other nodes that have Kata.
	notes = runAddons(t, h, cfg,
		"remove label katacontainers.io/kata-runtime from node kataless-node (Kata is not installed here)")
	wantNote(notes, "no /opt/kata/bin/containerd-shim-kata-v2")
	if got := runtimeClassNames(t, cs); !slices.Equal(got, []string{"kata", "kata-clh", "kata-qemu", "kata-theirs"}) {
		t.Fatalf("Kata gone: RuntimeClasses %v", got)
	}
	if v, ok := kataLabel(t, cs, node); ok {
		t.Fatalf("Kata gone: label %q", v)
	}
}

// A Kata label eksd-kata did not set (kata-deploy's, an admin's) stays
// where Kata is missing: a note says what it does and how to remove it.
func TestAddonsLeavesAKataLabelItDidNotSet(t *testing.T) {
	const node = "their-label-node"
	h, cs := nodeBesideTheirRuntimeClass(t, node)
	patch := []byte(`{"metadata":{"labels":{"` + KataNodeLabel + `":"true"}}}`)
	if _, err := cs.Kube.CoreV1().Nodes().Patch(context.Background(), node, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-label"}); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(node, "qemu")
	cfg.Spec.Addons.UntaintControlPlane = false
	notes := strings.Join(runAddons(t, h, cfg), "\n")
	for _, want := range []string{
		"node their-label-node has the label katacontainers.io/kata-runtime=true, which eksd-kata did not set",
		"kubectl label node their-label-node katacontainers.io/kata-runtime-",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes %q, want %q", notes, want)
		}
	}
	if v, _ := kataLabel(t, cs, node); v != "true" {
		t.Fatalf("label %q", v)
	}
}
