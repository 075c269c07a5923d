package kube

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// readyNode registers a Ready node called name.
func readyNode(t *testing.T, kc kubernetes.Interface, name string, taints ...corev1.Taint) {
	t.Helper()
	ctx := context.Background()
	n, err := kc.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kc.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{}) })
	// Admission taints a new node not-ready; the node controller, which
	// does not run here, would lift it.
	n.Spec.Taints = taints
	if n, err = kc.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	if _, err := kc.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// podOn creates a pod bound to node; owner, when set, is its controller.
// A grace period of 0 lets the API server delete it at once on eviction,
// as no kubelet runs here to confirm it stopped.
func podOn(t *testing.T, kc kubernetes.Interface, name, node string, owner *metav1.OwnerReference, annotations map[string]string) {
	t.Helper()
	zero := int64(0)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Annotations: annotations},
		Spec: corev1.PodSpec{NodeName: node, TerminationGracePeriodSeconds: &zero,
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	if owner != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	if _, err := kc.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		kc.CoreV1().Pods("default").Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	})
}

// TestDrainEvictsThenUncordonLifts: with another node to take them, the
// drain cordons the node and evicts its pods but a DaemonSet's and a
// static pod's mirror; once applied it plans nothing, and the uncordon
// lifts only its own cordon. Alone, or with --skip-drain, or once the
// kubelet is upgraded, it plans nothing.
func TestDrainEvictsThenUncordonLifts(t *testing.T) {
	c := cluster(t)
	cs := clients(t, c)
	kc := cs.Kube
	h := liveHost(t, c)
	ctx := context.Background()
	readyNode(t, kc, "drain-a")
	yes := true
	podOn(t, kc, "app-1", "drain-a", &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "app", UID: "u1", Controller: &yes}, nil)
	podOn(t, kc, "bare-1", "drain-a", nil, nil)
	podOn(t, kc, "ds-1", "drain-a", &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "ds", UID: "u2", Controller: &yes}, nil)
	podOn(t, kc, "mirror-1", "drain-a", nil, map[string]string{mirrorPod: "x"})

	s := &DrainStep{Node: "drain-a", Release: "kubernetes-1-36-eks-7", Backoff: fast}
	p, err := s.Plan(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	// Alone in the cluster (the other tests' nodes are not Ready): no drain.
	if !p.Empty() || !strings.Contains(strings.Join(p.Notes, "\n"), "no other node is Ready and schedulable") {
		t.Fatalf("alone: %q %q", p.Summaries(), p.Notes)
	}
	readyNode(t, kc, "drain-tainted", corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule})
	if p, _ = s.Plan(ctx, h); !p.Empty() {
		t.Fatalf("a tainted node cannot take the pods: %q", p.Summaries())
	}
	readyNode(t, kc, "drain-b")
	p, err = s.Plan(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"cordon node drain-a (uncordoned after the upgrade)", "evict 2 pod(s) from node drain-a and wait until they are gone: default/app-1, default/bare-1"}
	if !slices.Equal(p.Summaries(), want) || !strings.Contains(strings.Join(p.Notes, "\n"), "default/bare-1: no controller") {
		t.Fatalf("plan %q %q", p.Summaries(), p.Notes)
	}
	if err := p.Apply(ctx, h); err != nil {
		t.Fatal(err)
	}
	pods, _ := kc.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	var left []string
	for _, pod := range pods.Items {
		if pod.Spec.NodeName == "drain-a" {
			left = append(left, pod.Name)
		}
	}
	if slices.Sort(left); !slices.Equal(left, []string{"ds-1", "mirror-1"}) {
		t.Fatalf("left on the node: %q", left)
	}
	if p, err = s.Plan(ctx, h); err != nil || !p.Empty() {
		t.Fatalf("drained: %v %q", err, p.Summaries())
	}

	for name, skip := range map[string]*DrainStep{
		"--skip-drain":     {Node: "drain-a", Skip: true},
		"kubelet upgraded": {Node: "drain-a", Pending: func(context.Context, *host.Host) (bool, error) { return false, nil }},
	} {
		if p, err := skip.Plan(ctx, h); err != nil || !p.Empty() {
			t.Errorf("%s: %v %q", name, err, p.Summaries())
		}
	}

	u := &UncordonStep{Node: "drain-a"}
	p, err = u.Plan(ctx, h)
	if err != nil || !slices.Equal(p.Summaries(), []string{"uncordon node drain-a (cordoned for the upgrade to kubernetes-1-36-eks-7)"}) {
		t.Fatalf("uncordon: %v %q", err, p.Summaries())
	}
	if err := p.Apply(ctx, h); err != nil {
		t.Fatal(err)
	}
	n, _ := kc.CoreV1().Nodes().Get(ctx, "drain-a", metav1.GetOptions{})
	if _, ann := n.Annotations[CordonedFor]; n.Spec.Unschedulable || ann {
		t.Fatalf("still cordoned: %v %v", n.Spec.Unschedulable, n.Annotations)
	}
	if p, err = u.Plan(ctx, h); err != nil || !p.Empty() {
		t.Fatalf("uncordoned: %v %q", err, p.Summaries())
	}

	// An administrator's cordon stays.
	if err := patchCordon(ctx, cs, "drain-b", true, nil); err != nil {
		t.Fatal(err)
	}
	b := &DrainStep{Node: "drain-b", Backoff: fast}
	readyNode(t, kc, "drain-c")
	if p, err = b.Plan(ctx, h); err != nil || !p.Empty() || !strings.Contains(strings.Join(p.Notes, "\n"), "was cordoned before the upgrade") {
		t.Fatalf("an admin's cordon: %v %q %q", err, p.Summaries(), p.Notes)
	}
	if p, err = (&UncordonStep{Node: "drain-b"}).Plan(ctx, h); err != nil || !p.Empty() {
		t.Fatalf("an admin's cordon lifted: %v %q", err, p.Summaries())
	}
}

// TestWaitReadyForTheNewKubelet: after the kubelet's restart the node's
// Ready is the old kubelet's until the new one reports itself: the wait
// ends only on a Ready node whose kubelet is of the version asked for.
func TestWaitReadyForTheNewKubelet(t *testing.T) {
	c := cluster(t)
	kc := clients(t, c).Kube
	ctx := context.Background()
	readyNode(t, kc, "restart-a")
	setKubelet := func(v string) {
		t.Helper()
		n, err := kc.CoreV1().Nodes().Get(ctx, "restart-a", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n.Status.NodeInfo.KubeletVersion = v
		if _, err := kc.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	setKubelet("v1.35.6-eks-1-35-13")
	err := waitReady(ctx, clients(t, c), "restart-a", 300*time.Millisecond, 50*time.Millisecond, "hint", nil, "v1.36.2")
	if err == nil || !strings.Contains(err.Error(), "Ready, its kubelet still v1.35.6-eks-1-35-13") {
		t.Fatalf("old kubelet: %v", err)
	}
	for _, v := range []string{"v1.36.2-eks-1-36-7", "v1.36.2"} {
		setKubelet(v)
		if err := waitReady(ctx, clients(t, c), "restart-a", 5*time.Second, 50*time.Millisecond, "hint", nil, "v1.36.2"); err != nil {
			t.Fatalf("kubelet %s: %v", v, err)
		}
	}
	// v1.36.20 is not a build of v1.36.2.
	setKubelet("v1.36.20")
	if err := waitReady(ctx, clients(t, c), "restart-a", 300*time.Millisecond, 50*time.Millisecond, "hint", nil, "v1.36.2"); err == nil {
		t.Fatal("v1.36.20 taken for v1.36.2")
	}
}
