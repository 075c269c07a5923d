package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/eksd-kata/eksd-kata/templates"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/yaml"
)

// VerifyPodData fills templates/verify-pod.yaml.
type VerifyPodData struct {
	Name, Namespace, Image, RuntimeClassName, NodeName string
}

// RenderVerifyPod renders a test pod and decodes it strictly.
func RenderVerifyPod(d VerifyPodData) (*corev1.Pod, error) {
	manifest, err := templates.Render(templates.VerifyPod, d)
	if err != nil {
		return nil, err
	}
	pod := &corev1.Pod{}
	if err := yaml.UnmarshalStrict(manifest, pod); err != nil {
		return nil, fmt.Errorf("test pod %s: %w", d.Name, err)
	}
	return pod, nil
}

var zero int64

// forceDelete removes a pod at once: test pods hold nothing worth a grace period.
var forceDelete = metav1.DeleteOptions{GracePeriodSeconds: &zero}

// start removes a leftover of an interrupted run, then creates the pod.
func (s *VerifyStep) start(ctx context.Context, c *Clients, tp *testPod) error {
	pod, err := RenderVerifyPod(VerifyPodData{
		Name: tp.name, Namespace: s.Namespace, Image: s.Image,
		RuntimeClassName: tp.runtimeClass, NodeName: s.Config.Spec.Node.Name,
	})
	if err != nil {
		return err
	}
	if err := deletePod(ctx, c, s.Namespace, tp.name); err != nil {
		return err
	}
	tp.pod, err = c.Kube.CoreV1().Pods(s.Namespace).Create(ctx, pod, metav1.CreateOptions{FieldManager: FieldManager})
	if err != nil {
		return fmt.Errorf("creating the %s: %w", tp.what, err)
	}
	return nil
}

// deletePod deletes a pod and waits until it is gone.
func deletePod(ctx context.Context, c *Clients, ns, name string) error {
	pods := c.Kube.CoreV1().Pods(ns)
	err := pods.Delete(ctx, name, forceDelete)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting pod %s/%s: %w", ns, name, err)
	}
	for {
		if _, err := pods.Get(ctx, name, getOpts); apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pod %s/%s is still there after deleting it: %w", ns, name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// cleanup deletes the pods even when ctx ended.
func (s *VerifyStep) cleanup(ctx context.Context, c *Clients, pods []*testPod) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for _, tp := range pods {
		if tp.pod != nil {
			if err := deletePod(ctx, c, s.Namespace, tp.name); err != nil {
				fmt.Fprintf(s.Out, "warning: %v\n", err)
			}
		}
	}
}

// Waiting reasons that do not heal by waiting longer.
var stuck = []string{"ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError", "CreateContainerError", "RunContainerError"}

// finish waits until the pod has run and reads its kernel from its log.
func (s *VerifyStep) finish(ctx context.Context, c *Clients, tp *testPod) error {
	every := max(2*s.Backoff.Initial, 100*time.Millisecond)
	for {
		done, err := s.check(ctx, c, tp)
		if done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			// Look once more, so that the message says what became of the pod.
			late, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			pod, err := c.Kube.CoreV1().Pods(s.Namespace).Get(late, tp.name, getOpts)
			if err != nil {
				return fmt.Errorf("the %s did not finish within %s: %v", tp.what, s.Timeout, err)
			}
			events, _ := podEvents(late, c, pod)
			return fmt.Errorf("the %s did not finish within %s (phase %s)%s", tp.what, s.Timeout, pod.Status.Phase, hint(pod, events, s.Config.Spec.Node.Name))
		case <-time.After(every):
		}
	}
}

// check looks at the pod once: done when it ran (kernel read), an error
// when it failed or cannot start; neither while it may still run.
func (s *VerifyStep) check(ctx context.Context, c *Clients, tp *testPod) (bool, error) {
	pod, err := c.Kube.CoreV1().Pods(s.Namespace).Get(ctx, tp.name, getOpts)
	if err != nil {
		return false, hard(fmt.Errorf("%s: %w", tp.what, err))
	}
	events, err := podEvents(ctx, c, pod)
	if err != nil {
		return false, hard(err)
	}
	switch {
	case pod.Status.Phase == corev1.PodSucceeded:
		return true, s.readKernel(ctx, c, tp)
	case pod.Status.Phase == corev1.PodFailed:
		return false, fmt.Errorf("the %s failed: %s%s", tp.what, terminated(pod), quote(events))
	case sandboxFailures(events) >= s.SandboxFailures:
		return false, fmt.Errorf("the %s cannot start: the runtime failed to create its sandbox%s", tp.what, quote(events))
	case slices.Contains(stuck, waiting(pod)):
		return false, fmt.Errorf("the %s cannot start: %s%s", tp.what, waitingMessage(pod), quote(events))
	}
	return false, nil
}

func (s *VerifyStep) readKernel(ctx context.Context, c *Clients, tp *testPod) error {
	out, err := c.Kube.CoreV1().Pods(s.Namespace).GetLogs(tp.name, &corev1.PodLogOptions{Container: "uname"}).DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("reading the log of the %s: %w", tp.what, err)
	}
	k, err := ParseKernel(out)
	if err != nil {
		return fmt.Errorf("the %s: %w", tp.what, err)
	}
	tp.kernel = k
	return nil
}

// ParseKernel reads `uname -r` output: one line with no spaces.
func ParseKernel(log []byte) (string, error) {
	k := strings.TrimSpace(string(log))
	if k == "" || strings.ContainsAny(k, " \t\n") {
		return "", fmt.Errorf("its log is not the output of uname -r: %q", k)
	}
	return k, nil
}

// podEvents lists the events of this pod (not of an earlier one of the same name), oldest first.
func podEvents(ctx context.Context, c *Clients, pod *corev1.Pod) ([]corev1.Event, error) {
	sel := fields.Set{"involvedObject.kind": "Pod", "involvedObject.name": pod.Name}.AsSelector().String()
	list, err := c.Kube.CoreV1().Events(pod.Namespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("events of pod %s: %w", pod.Name, err)
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.UID == "" || e.InvolvedObject.UID == pod.UID {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b corev1.Event) int { return eventTime(a).Compare(eventTime(b)) })
	return out, nil
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// sandboxFailures counts FailedCreatePodSandBox occurrences.
func sandboxFailures(events []corev1.Event) int32 {
	var n int32
	for _, e := range events {
		if e.Reason == "FailedCreatePodSandBox" {
			n += max(e.Count, 1)
		}
	}
	return n
}

// quote renders the Warning events, newest last, for an error message.
func quote(events []corev1.Event) string {
	var b strings.Builder
	for _, e := range events {
		if e.Type == corev1.EventTypeWarning {
			fmt.Fprintf(&b, "\n  %s: %s", e.Reason, strings.TrimSpace(e.Message))
		}
	}
	return b.String()
}

func waiting(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			return w.Reason
		}
	}
	return ""
}

func waitingMessage(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			return strings.TrimSpace(w.Reason + ": " + w.Message)
		}
	}
	return ""
}

func terminated(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil {
			return fmt.Sprintf("container exited %d (%s) %s", t.ExitCode, t.Reason, strings.TrimSpace(t.Message))
		}
	}
	return strings.TrimSpace(pod.Status.Reason + " " + pod.Status.Message)
}

// hint explains a pod that timed out: with no event and no status, no
// kubelet has taken it.
func hint(pod *corev1.Pod, events []corev1.Event, node string) string {
	if q := quote(events); q != "" {
		return q
	}
	if len(events) == 0 && len(pod.Status.ContainerStatuses) == 0 {
		return fmt.Sprintf(": no kubelet has picked it up (is the kubelet on node %s running, and the node Ready?)", node)
	}
	if w := waitingMessage(pod); w != "" {
		return ": " + w
	}
	return ""
}

// hard keeps the errors that waiting cannot cure (the pod was deleted,
// access denied); a network hiccup or the client's rate limiter near the
// deadline is retried until the timeout, which the caller reports.
func hard(err error) error {
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
		return err
	}
	return nil
}
