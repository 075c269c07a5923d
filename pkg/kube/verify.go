package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/kata"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Defaults of VerifyStep.
const (
	// DefaultVerifyImage is busybox from the ECR Public mirror of Docker's
	// official images: no Docker Hub rate limit, and EKS nodes reach it.
	DefaultVerifyImage   = "public.ecr.aws/docker/library/busybox:1.37"
	DefaultVerifyTimeout = 3 * time.Minute
)

// ErrKataDisabled is returned by Run when the configuration disables Kata.
var ErrKataDisabled = errors.New("kata is disabled in the configuration (spec.kata.enabled): there is nothing to verify")

// VerifyStep is the bootstrap step "verify" and the verb `eksd-kata
// verify`: the tutorial's check-kata.sh through the API. A runc pod and a
// Kata pod print their kernel; different kernels prove the Kata pod ran in
// a VM. It changes nothing on the host, and removes its pods.
type VerifyStep struct {
	Config  *config.NodeConfig // resolved: spec.node.name is set
	Connect Connector          // nil: /etc/kubernetes/admin.conf on the host
	Image   string             // a busybox-like image with uname; "" = DefaultVerifyImage
	// Namespace of the test pods; "" = default.
	Namespace string
	// Timeout bounds the whole test once the API answers.
	Timeout time.Duration
	// APITimeout bounds waiting for the API server.
	APITimeout time.Duration
	// SandboxFailures is how many FailedCreatePodSandBox events end the
	// wait early: the kubelet retries forever, a missing shim never heals.
	SandboxFailures int32
	Out             io.Writer // the report; nil discards it
	Backoff         Backoff
}

func (s *VerifyStep) Name() string { return "verify" }

func (s *VerifyStep) defaults() {
	if s.Connect == nil {
		s.Connect = KubeconfigConnector(AdminKubeconfig)
	}
	if s.Image == "" {
		s.Image = DefaultVerifyImage
		// Air-gapped nodes reach only the mirror: take the image from there.
		if m := s.Config.Spec.Images.Mirror; m != "" {
			s.Image = m + strings.TrimPrefix(DefaultVerifyImage, "public.ecr.aws")
		}
	}
	if s.Namespace == "" {
		s.Namespace = "default"
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultVerifyTimeout
	}
	if s.APITimeout <= 0 {
		s.APITimeout = DefaultAPITimeout
	}
	if s.SandboxFailures <= 0 {
		s.SandboxFailures = 2
	}
	if s.Backoff == (Backoff{}) {
		s.Backoff = defaultBackoff
	}
	if s.Out == nil {
		s.Out = io.Discard
	}
}

// Plan is the test itself as one change, so that it runs after the steps
// before it and never under --dry-run.
func (s *VerifyStep) Plan(_ context.Context, h *host.Host) (*plan.Plan, error) {
	s.defaults()
	p := &plan.Plan{}
	switch {
	case !s.Config.Spec.Kata.Enabled:
		p.Notef("Kata is disabled in the configuration: no Kata pod to verify")
	case !h.IsLive():
		p.Notef("the smoke test runs pods in the cluster: skipped under --root; run `eksd-kata verify` on the running node")
	default:
		// The smoke test changes nothing, so it is not a change: a converged
		// host plans nothing and is still checked (Check, after the apply).
		missing, err := s.kataMissing(h)
		if err != nil {
			return nil, err
		}
		if missing != "" {
			p.Notef("then runs a runc test pod (%s) on node %s, and fails: %s", s.Image, s.Config.Spec.Node.Name, missing)
			break
		}
		p.Notef("then runs runc and kata test pods (%s) on node %s and compares their kernels", s.Image, s.Config.Spec.Node.Name)
	}
	return p, nil
}

// kataMissing says why the addons step applied no RuntimeClass for the
// generic handler on this node, "" when it did.
func (s *VerifyStep) kataMissing(h *host.Host) (string, error) {
	k := s.Config.Spec.Kata
	r, err := kata.Ready(h, k)
	if err != nil {
		return "", err
	}
	for _, d := range runtimeClassesIf(k, r.IsReady) {
		if d.Name == k.RuntimeHandler {
			return "", nil
		}
	}
	return fmt.Sprintf("Kata is not installed on node %s (%s), so eksd-kata applied no RuntimeClass %s there and no kata pod was run; install Kata and apply its RuntimeClasses: %s",
		s.Config.Spec.Node.Name, r.Why(), k.RuntimeHandler, kata.FixCommand()), nil
}

// Check runs the smoke test on a live node with Kata enabled; the runner
// calls it after the step's (empty) plan was applied, never in a dry run.
func (s *VerifyStep) Check(ctx context.Context, h *host.Host) error {
	if !s.Config.Spec.Kata.Enabled || !h.IsLive() {
		return nil
	}
	_, err := s.Run(ctx, h)
	return err
}

// Result is what the test saw.
type Result struct {
	HostKernel  string // uname -r of the runc pod
	GuestKernel string // uname -r of the Kata pod
}

// Run runs the test and writes its report to Out.
func (s *VerifyStep) Run(ctx context.Context, h *host.Host) (*Result, error) {
	s.defaults()
	if !s.Config.Spec.Kata.Enabled {
		return nil, ErrKataDisabled
	}
	// Without Kata the runc pod still tells whether the node runs pods.
	missing, err := s.kataMissing(h)
	if err != nil {
		return nil, err
	}
	c, err := waitAPI(ctx, h, s.Connect, s.APITimeout, s.Backoff)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	// Right after kubeadm init the kubelet may still be settling (its node
	// registration, CSINode): that is waited out. A node without a pod
	// network is not: it never gets Ready by itself. One whose network
	// configuration is there (just written: the runtime reloads it within
	// seconds) is waited for too.
	node := s.Config.Spec.Node.Name
	stop := noPodNetwork(node)
	if hasNetworkConfig(h) {
		stop = nil
	}
	if err := waitReady(ctx, c, node, s.Timeout, 2*s.Backoff.Initial, "pods cannot start on it: kubectl describe node "+node, stop, ""); err != nil {
		return nil, err
	}
	// Right after kubeadm init the controller manager has not yet made the
	// namespace's default ServiceAccount, and pods are refused until it has.
	if err := waitServiceAccount(ctx, c, s.Namespace, s.Backoff); err != nil {
		return nil, err
	}
	handler := s.Config.Spec.Kata.RuntimeHandler
	pods := []*testPod{{name: "eksd-kata-verify-runc", what: "runc pod"}}
	if missing == "" {
		pods = append(pods, &testPod{name: "eksd-kata-verify-kata", what: "kata pod (RuntimeClass " + handler + ")", runtimeClass: handler})
	}
	defer s.cleanup(ctx, c, pods)
	for _, tp := range pods {
		if err := s.start(ctx, c, tp); err != nil {
			return nil, err
		}
	}
	for _, tp := range pods {
		if err := s.finish(ctx, c, tp); err != nil {
			return nil, err
		}
	}
	r := &Result{HostKernel: pods[0].kernel}
	fmt.Fprintf(s.Out, "runc pod kernel: %s (the host's)\n", r.HostKernel)
	if missing != "" {
		return r, errors.New(missing)
	}
	r.GuestKernel = pods[1].kernel
	fmt.Fprintf(s.Out, "kata pod kernel: %s\n", r.GuestKernel)
	if r.HostKernel == r.GuestKernel {
		return r, fmt.Errorf("the kata pod reported the host's kernel %s: it did not run in a VM (is the containerd handler %s really Kata?)", r.HostKernel, handler)
	}
	fmt.Fprintf(s.Out, "kernels differ: the kata pod ran in a Kata Containers VM\n")
	return r, nil
}

// testPod is one of the two pods and what became of it.
type testPod struct {
	name, what, runtimeClass string
	pod                      *corev1.Pod // as created
	kernel                   string
}

// waitServiceAccount waits until namespace has its default ServiceAccount.
func waitServiceAccount(ctx context.Context, c *Clients, namespace string, b Backoff) error {
	delay := b.Initial
	for {
		_, err := c.Kube.CoreV1().ServiceAccounts(namespace).Get(ctx, "default", getOpts)
		if err == nil {
			return nil
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("serviceaccount %s/default: %w", namespace, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("serviceaccount %s/default was not created: is kube-controller-manager running? %w", namespace, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, b.Max)
	}
}

// noPodNetwork stops the wait for a node whose runtime reports no pod
// network (the kubelet's "NetworkReady=false ... cni plugin not
// initialized"): without a CNI it never gets Ready.
func noPodNetwork(name string) func(*corev1.NodeCondition) error {
	return func(rc *corev1.NodeCondition) error {
		if !strings.Contains(rc.Message, "NetworkReady=false") && !strings.Contains(rc.Message, "cni plugin not initialized") {
			return nil
		}
		return fmt.Errorf("node %s is not Ready (Ready=%s %s: %s); pods cannot start on it (no CNI installed? see spec.addons.cniManifest)", name, rc.Status, rc.Reason, rc.Message)
	}
}
