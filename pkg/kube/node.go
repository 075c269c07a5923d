package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// Control-plane taints kubeadm sets; "master" is the pre-1.25 name that
// upgraded clusters may still carry.
var controlPlaneTaints = []string{"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"}

// scheduleTaints returns the control-plane NoSchedule taints on n.
func scheduleTaints(n *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule && slices.Contains(controlPlaneTaints, t.Key) {
			out = append(out, t)
		}
	}
	return out
}

// waitNode gets the node, waiting (bounded) for its kubelet to register it.
func waitNode(ctx context.Context, c *Clients, name string, timeout time.Duration, b Backoff) (*corev1.Node, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := b.Initial
	for {
		n, err := c.Kube.CoreV1().Nodes().Get(ctx, name, getOpts)
		if err == nil {
			return n, nil
		}
		if !apierrors.IsNotFound(err) && !Down(err) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("node %s is not registered after %s (is the kubelet running?): %v", name, timeout, err)
		case <-time.After(delay):
		}
		delay = min(2*delay, b.Max)
	}
}

// KataLabelOwner is the annotation eksd-kata puts beside the Kata label it
// sets: a label without it is someone else's (kata-deploy's, an admin's),
// theirs to remove.
const KataLabelOwner = "eksd-kata.io/kata-runtime-label"

// labelNode sets the Kata label, and the annotation that says eksd-kata
// set it, with a merge patch: unlike server-side apply, a patch fails on a
// missing node instead of creating one.
func labelNode(ctx context.Context, c *Clients, name string) error {
	return patchKataLabel(ctx, c, name, "true", ManagedBy)
}

// labelledByUs reports whether eksd-kata set n's Kata label.
func labelledByUs(n *corev1.Node) bool {
	return n.Annotations[KataLabelOwner] == ManagedBy
}

// unlabelNode removes the Kata label and its annotation.
func unlabelNode(ctx context.Context, c *Clients, name string) error {
	return patchKataLabel(ctx, c, name, nil, nil)
}

// patchKataLabel sets the label and annotation, or removes them (nil: a
// merge patch with null deletes).
func patchKataLabel(ctx context.Context, c *Clients, name string, label, owner any) error {
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"labels":      map[string]any{KataNodeLabel: label},
		"annotations": map[string]any{KataLabelOwner: owner},
	}})
	_, err := c.Kube.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
	if err != nil && label == nil {
		return fmt.Errorf("removing label %s from node %s: %w", KataNodeLabel, name, err)
	}
	if err != nil {
		return fmt.Errorf("labelling node %s: %w", name, err)
	}
	return nil
}

// untaintNode removes the control-plane NoSchedule taints; an update with
// the node's resourceVersion so that a concurrent change is retried, not lost.
func untaintNode(ctx context.Context, c *Clients, name string) error {
	nodes := c.Kube.CoreV1().Nodes()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := nodes.Get(ctx, name, getOpts)
		if err != nil {
			return err
		}
		if len(scheduleTaints(n)) == 0 {
			return nil
		}
		n.Spec.Taints = slices.DeleteFunc(n.Spec.Taints, func(t corev1.Taint) bool {
			return t.Effect == corev1.TaintEffectNoSchedule && slices.Contains(controlPlaneTaints, t.Key)
		})
		_, err = nodes.Update(ctx, n, metav1.UpdateOptions{FieldManager: FieldManager})
		return err
	})
	if err != nil {
		return fmt.Errorf("removing the control-plane taint from node %s: %w", name, err)
	}
	return nil
}

// nodeReady returns the Ready condition of n, nil when it has none yet.
func nodeReady(n *corev1.Node) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

func isReady(n *corev1.Node) bool {
	c := nodeReady(n)
	return c != nil && c.Status == corev1.ConditionTrue
}

// waitReady polls until the node is Ready, for at most timeout; hint ends
// the error of a wait that timed out. stop, when set, ends the wait at once
// with its error for a Ready condition that waiting will not change.
// kubelet, when set, is the version its kubelet must report too
// (v1.36.2: any build of it).
func waitReady(ctx context.Context, c *Clients, name string, timeout, every time.Duration, hint string, stop func(*corev1.NodeCondition) error, kubelet string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := "not registered"
	for {
		n, err := c.Kube.CoreV1().Nodes().Get(ctx, name, getOpts)
		switch {
		case err == nil && isReady(n) && kubeletIs(n, kubelet):
			return nil
		case err == nil && isReady(n):
			last = "Ready, its kubelet still " + n.Status.NodeInfo.KubeletVersion
		case err == nil:
			last = "no Ready condition yet"
			if rc := nodeReady(n); rc != nil {
				last = fmt.Sprintf("Ready=%s %s: %s", rc.Status, rc.Reason, rc.Message)
				if stop != nil {
					if err := stop(rc); err != nil {
						return err
					}
				}
			}
		case !apierrors.IsNotFound(err) && !Down(err):
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s is not Ready after %s (%s); %s", name, timeout, last, hint)
		case <-time.After(every):
		}
	}
}

// WaitReady waits, for at most timeout, until the API server answers and
// node is Ready with a kubelet of version kubelet (v1.36.2; "": any): after
// its kubelet restarted, when the node's status still says what the old
// kubelet last reported.
func WaitReady(ctx context.Context, h *host.Host, connect Connector, node, kubelet string, timeout time.Duration) error {
	c, err := waitAPI(ctx, h, connect, timeout, defaultBackoff)
	if err != nil {
		return err
	}
	return waitReady(ctx, c, node, timeout, time.Second, "journalctl -u kubelet tells why", nil, kubelet)
}

// kubeletIs reports whether n's kubelet is of version want ("v1.36.2"
// matches "v1.36.2" and its builds, "v1.36.2-eks-1-36-7"); true for "".
func kubeletIs(n *corev1.Node, want string) bool {
	v := n.Status.NodeInfo.KubeletVersion
	return want == "" || v == want || strings.HasPrefix(v, want+"-") || strings.HasPrefix(v, want+"+")
}
