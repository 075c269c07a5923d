package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
)

// CordonedFor marks a node eksd-kata cordoned for an upgrade, with the
// release it upgrades to: only that cordon is lifted after the upgrade. A
// node an administrator cordoned stays cordoned.
const CordonedFor = "eksd-kata.io/cordoned-for"

// mirrorPod is the annotation of a static pod's mirror in the API.
const mirrorPod = "kubernetes.io/config.mirror"

// DefaultDrainTimeout bounds the evictions of a drain.
const DefaultDrainTimeout = 5 * time.Minute

// DrainStep is the upgrade verb's step "drain": the node cordoned, and
// its pods evicted through the eviction API (which honours
// PodDisruptionBudgets), except those of DaemonSets and static pods, as
// kubectl drain --ignore-daemonsets does. The kubelet is swapped after it.
type DrainStep struct {
	Node    string
	Release string // the release the node upgrades to, for CordonedFor
	// Skip: --skip-drain.
	Skip bool
	// Pending reports whether the kubelet is still to be upgraded; nil:
	// always. A node whose kubelet is upgraded is not drained again.
	Pending func(ctx context.Context, h *host.Host) (bool, error)
	// Connect reaches the cluster; nil: with admin.conf.
	Connect Connector
	// Timeout bounds the evictions; 0: DefaultDrainTimeout.
	Timeout time.Duration
	Backoff Backoff
}

func (s *DrainStep) Name() string { return "drain" }

func (s *DrainStep) Plan(ctx context.Context, h *host.Host) (*plan.Plan, error) {
	p := &plan.Plan{}
	switch {
	case s.Skip:
		p.Notef("drain skipped (--skip-drain): the node's pods keep running through the kubelet's restart")
		return p, nil
	case !h.IsLive():
		p.Notef("drain node %s: skipped (--root)", s.Node)
		return p, nil
	}
	if s.Pending != nil {
		pending, err := s.Pending(ctx, h)
		if err != nil || !pending {
			return p, err
		}
	}
	c, err := s.connect(ctx, h)
	if err != nil {
		return nil, err
	}
	node, err := c.Kube.CoreV1().Nodes().Get(ctx, s.Node, getOpts)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", s.Node, err)
	}
	if _, ours := node.Annotations[CordonedFor]; !ours {
		alone, err := onlyNode(ctx, c, s.Node)
		if err != nil {
			return nil, err
		}
		if alone {
			p.Notef("drain skipped: no other node is Ready and schedulable to take the pods of %s, which keep running through the kubelet's restart", s.Node)
			return p, nil
		}
	}
	switch _, ours := node.Annotations[CordonedFor]; {
	case !node.Spec.Unschedulable:
		p.Add(&plan.Func{Text: fmt.Sprintf("cordon node %s (uncordoned after the upgrade)", s.Node), Do: s.withClients(s.cordon)})
	case !ours:
		p.Notef("node %s was cordoned before the upgrade: it stays cordoned after it", s.Node)
	}
	pods, err := evictable(ctx, c, s.Node)
	if err != nil {
		return nil, err
	}
	if len(pods) == 0 {
		return p, nil
	}
	var names, bare []string
	for _, pod := range pods {
		names = append(names, pod.Namespace+"/"+pod.Name)
		if metav1.GetControllerOf(&pod) == nil {
			bare = append(bare, pod.Namespace+"/"+pod.Name)
		}
	}
	if len(bare) > 0 {
		p.Notef("%s: no controller makes them again elsewhere, so they are gone once evicted", strings.Join(bare, ", "))
	}
	p.Add(&plan.Func{
		Text: fmt.Sprintf("evict %d pod(s) from node %s and wait until they are gone: %s", len(pods), s.Node, strings.Join(names, ", ")),
		Do:   s.withClients(s.evictAll),
	})
	return p, nil
}

func (s *DrainStep) connect(ctx context.Context, h *host.Host) (*Clients, error) {
	if s.Connect != nil {
		return s.Connect(ctx, h)
	}
	return Connect(h, AdminKubeconfig)
}

func (s *DrainStep) withClients(do func(ctx context.Context, c *Clients) error) func(context.Context, *host.Host) error {
	return func(ctx context.Context, h *host.Host) error {
		c, err := s.connect(ctx, h)
		if err != nil {
			return err
		}
		return do(ctx, c)
	}
}

func (s *DrainStep) cordon(ctx context.Context, c *Clients) error {
	return patchCordon(ctx, c, s.Node, true, s.Release)
}

// patchCordon sets the node (un)schedulable, with CordonedFor set to
// release or removed (nil).
func patchCordon(ctx context.Context, c *Clients, node string, cordon bool, release any) error {
	patch, _ := json.Marshal(map[string]any{
		"spec":     map[string]any{"unschedulable": cordon},
		"metadata": map[string]any{"annotations": map[string]any{CordonedFor: release}},
	})
	if _, err := c.Kube.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("node %s: %w", node, err)
	}
	return nil
}

// onlyNode reports whether no node but name could run its pods: none
// other is Ready, schedulable and free of NoSchedule and NoExecute taints.
// A node whose credentials may not list nodes (a worker's kubelet) is not
// alone: a control plane is there.
func onlyNode(ctx context.Context, c *Clients, name string) (bool, error) {
	nodes, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if apierrors.IsForbidden(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if n.Name == name || n.Spec.Unschedulable || !isReady(n) || slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool {
			return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
		}) {
			continue
		}
		return false, nil
	}
	return true, nil
}

// evictable lists the pods a drain evicts from node: running or pending,
// not a DaemonSet's (it would put them back) nor a static pod's mirror.
func evictable(ctx context.Context, c *Clients, node string) ([]corev1.Pod, error) {
	list, err := c.Kube.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String()})
	if err != nil {
		return nil, fmt.Errorf("pods on node %s: %w", node, err)
	}
	var out []corev1.Pod
	for _, pod := range list.Items {
		if ctl := metav1.GetControllerOf(&pod); ctl != nil && ctl.Kind == "DaemonSet" {
			continue
		}
		if _, mirror := pod.Annotations[mirrorPod]; mirror || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		out = append(out, pod)
	}
	return out, nil
}

// evictAll evicts the node's pods, again while a PodDisruptionBudget
// refuses one (429), and waits until each is gone, within the timeout.
func (s *DrainStep) evictAll(ctx context.Context, c *Clients) error {
	timeout := s.Timeout
	if timeout == 0 {
		timeout = DefaultDrainTimeout
	}
	b := s.Backoff
	if b.Initial == 0 {
		b = defaultBackoff
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := b.Initial
	for {
		pods, err := evictable(ctx, c, s.Node)
		if err != nil {
			return err
		}
		var left []string
		for _, pod := range pods {
			left = append(left, pod.Namespace+"/"+pod.Name)
			if pod.DeletionTimestamp != nil {
				continue // on its way out
			}
			ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace}}
			err := c.Kube.PolicyV1().Evictions(pod.Namespace).Evict(ctx, ev)
			switch {
			case err == nil, apierrors.IsNotFound(err), apierrors.IsTooManyRequests(err):
				// Gone, going, or held by a disruption budget for now.
			case errors.Is(err, context.DeadlineExceeded):
			default:
				return fmt.Errorf("evicting %s/%s: %w", pod.Namespace, pod.Name, err)
			}
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s still has pods after %s: %s (a PodDisruptionBudget that allows no disruption, or a pod slow to stop; run again, or --skip-drain)",
				s.Node, timeout, strings.Join(left, ", "))
		case <-time.After(delay):
		}
		delay = min(2*delay, b.Max)
	}
}

// UncordonStep is the upgrade verb's step "uncordon": the cordon of the
// drain lifted, once the kubelet is back. A node eksd-kata did not cordon
// is left as it is.
type UncordonStep struct {
	Node    string
	Connect Connector // nil: with admin.conf
}

func (s *UncordonStep) Name() string { return "uncordon" }

func (s *UncordonStep) Plan(ctx context.Context, h *host.Host) (*plan.Plan, error) {
	p := &plan.Plan{}
	if !h.IsLive() {
		p.Notef("uncordon node %s: skipped (--root)", s.Node)
		return p, nil
	}
	d := &DrainStep{Node: s.Node, Connect: s.Connect}
	c, err := d.connect(ctx, h)
	if err != nil {
		return nil, err
	}
	node, err := c.Kube.CoreV1().Nodes().Get(ctx, s.Node, getOpts)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", s.Node, err)
	}
	if release, ours := node.Annotations[CordonedFor]; ours {
		p.Add(&plan.Func{
			Text: fmt.Sprintf("uncordon node %s (cordoned for the upgrade to %s)", s.Node, release),
			Do: d.withClients(func(ctx context.Context, c *Clients) error {
				return patchCordon(ctx, c, s.Node, false, nil)
			}),
		})
	}
	return p, nil
}
