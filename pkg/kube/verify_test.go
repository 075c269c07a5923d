package kube

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/kata"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseKernel(t *testing.T) {
	for in, want := range map[string]string{"6.1.0-18-amd64\n": "6.1.0-18-amd64", " 6.12.28 \r\n": "6.12.28", "": "", "exec: not found\n": "", "a\nb": ""} {
		got, err := ParseKernel([]byte(in))
		if got != want || (want == "") != (err != nil) {
			t.Errorf("ParseKernel(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestRenderVerifyPod(t *testing.T) {
	pod, err := RenderVerifyPod(VerifyPodData{Name: "p", Namespace: "ns", Image: "reg.example:5000/busybox@sha256:abc", RuntimeClassName: "kata", NodeName: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	s := pod.Spec
	if *s.RuntimeClassName != "kata" || s.NodeName != "n1" || s.RestartPolicy != corev1.RestartPolicyNever ||
		s.Containers[0].Image != "reg.example:5000/busybox@sha256:abc" || strings.Join(s.Containers[0].Command, " ") != "uname -r" {
		t.Fatalf("spec %+v", s)
	}
	pod, err = RenderVerifyPod(VerifyPodData{Name: "p", Namespace: "ns", Image: "busybox", NodeName: "n1"})
	if err != nil || pod.Spec.RuntimeClassName != nil {
		t.Fatalf("runc pod: %v %v", err, pod.Spec.RuntimeClassName)
	}
}

func TestVerifyPlan(t *testing.T) {
	cfg := testConfig("n1", "qemu")
	p, err := (&VerifyStep{Config: cfg}).Plan(context.Background(), kataHost(t))
	if err != nil || !p.Empty() || len(p.Notes) != 1 || !strings.HasPrefix(p.Notes[0], "then runs runc and kata test pods (public.ecr.aws/docker/library/busybox:1.37) on node n1") {
		t.Fatalf("%v %v %v", err, p.Summaries(), p.Notes)
	}
	p, err = (&VerifyStep{Config: cfg}).Plan(context.Background(), liveHost(t, nil))
	if err != nil || !p.Empty() || len(p.Notes) != 1 || !strings.HasPrefix(p.Notes[0], "then runs a runc test pod (public.ecr.aws/docker/library/busybox:1.37) on node n1, and fails: Kata is not installed on node n1 (qemu: no /opt/kata/bin/containerd-shim-kata-v2)") {
		t.Fatalf("without Kata: %v %v %v", err, p.Summaries(), p.Notes)
	}
	off, err := host.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if p, err := (&VerifyStep{Config: cfg}).Plan(context.Background(), off); err != nil || !p.Empty() || len(p.Notes) != 1 {
		t.Fatalf("--root: %v %v %v", err, p.Summaries(), p.Notes)
	}
	cfg.Spec.Kata.Enabled = false
	if p, err := (&VerifyStep{Config: cfg}).Plan(context.Background(), liveHost(t, nil)); err != nil || !p.Empty() {
		t.Fatalf("kata disabled: %v %v", err, p.Summaries())
	}
}

// fakeKubelet plays the kubelet of one node for the API server: it serves
// container logs (the API server proxies GET pods/log to it) and moves the
// pods bound to its node along as the test says.
type fakeKubelet struct {
	t       *testing.T
	cs      *Clients
	node    string
	kernels map[string]string // pod name → uname -r
	// sandboxError, when set for a pod name, is reported as
	// FailedCreatePodSandBox events instead of running it.
	sandboxError map[string]string
	mu           sync.Mutex
	done         map[string]bool
}

func startKubelet(t *testing.T, cs *Clients, node, ns string, k *fakeKubelet) {
	t.Helper()
	k.t, k.cs, k.node, k.done = t, cs, node, map[string]bool{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// /containerLogs/<ns>/<pod>/<container>
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if len(parts) != 4 || parts[0] != "containerLogs" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, k.kernels[parts[2]])
	}))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().(*net.TCPAddr)
	createNode(t, cs, node)
	ctx := context.Background()
	n, err := cs.Kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: addr.IP.String()}}
	n.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(addr.Port)
	if _, err := cs.Kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	setReady(t, cs, node)
	stop := make(chan struct{})
	stopped := make(chan struct{})
	t.Cleanup(func() { close(stop); <-stopped })
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			pods, err := cs.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for i := range pods.Items {
				k.sync(ctx, &pods.Items[i])
			}
		}
	}()
}

func (k *fakeKubelet) sync(ctx context.Context, pod *corev1.Pod) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if pod.Spec.NodeName != k.node || k.done[string(pod.UID)] {
		return
	}
	k.done[string(pod.UID)] = true
	if msg, ok := k.sandboxError[pod.Name]; ok {
		ev := &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: pod.Name + ".sandbox", Namespace: pod.Namespace},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
			Reason:         "FailedCreatePodSandBox", Message: msg, Type: corev1.EventTypeWarning, Count: 2,
			FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Source: corev1.EventSource{Component: "kubelet", Host: k.node},
		}
		if _, err := k.cs.Kube.CoreV1().Events(pod.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
			k.t.Errorf("fake kubelet: %v", err)
		}
		return
	}
	pod.Status.Phase = corev1.PodSucceeded
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "uname", Image: pod.Spec.Containers[0].Image,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}}}
	if _, err := k.cs.Kube.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		k.t.Errorf("fake kubelet: %v", err)
	}
}

// namespace makes a namespace with the default service account admission wants.
func namespace(t *testing.T, cs *Clients, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := cs.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	if _, err := cs.Kube.CoreV1().ServiceAccounts(name).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// verifySetup gives each test its namespace, node and RuntimeClass "kata"
// (admission rejects pods naming a RuntimeClass that does not exist).
func verifySetup(t *testing.T, name string) (*Clients, *VerifyStep, *bytes.Buffer) {
	c := cluster(t)
	cs := clients(t, c)
	namespace(t, cs, name)
	manifest, want, err := RenderRuntimeClass(RuntimeClassesFor(testConfig("", "qemu").Spec.Kata)[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := applyRuntimeClass(context.Background(), cs, manifest, want); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	step := &VerifyStep{
		Config: testConfig(name+"-node", "qemu"), Namespace: name, Timeout: 20 * time.Second, Backoff: fast, Out: &out,
		Connect: func(context.Context, *host.Host) (*Clients, error) { return clients(t, c), nil },
	}
	return cs, step, &out
}

// kataHost is a live test host with Kata installed for qemu.
func kataHost(t *testing.T) *host.Host {
	t.Helper()
	h := liveHost(t, nil)
	installKata(t, h.Root(), "qemu")
	return h
}

// Without Kata on the node there is no RuntimeClass to run a kata pod
// with: the runc pod still runs, and the error says why and how to fix it
// instead of a pod that never gets scheduled.
func TestVerifyWithoutKataRunsRuncAndSaysWhy(t *testing.T) {
	cs, step, out := verifySetup(t, "verify-nokata")
	k := &fakeKubelet{kernels: map[string]string{"eksd-kata-verify-runc": "6.1.0-18-amd64"}}
	startKubelet(t, cs, step.Config.Spec.Node.Name, step.Namespace, k)
	r, err := step.Run(context.Background(), liveHost(t, nil))
	want := "Kata is not installed on node verify-nokata-node (qemu: no /opt/kata/bin/containerd-shim-kata-v2), so eksd-kata applied no RuntimeClass kata there and no kata pod was run; install Kata and apply its RuntimeClasses: eksd-kata bootstrap --only kata,containerd,addons --install-kata " + kata.Newest()
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if r == nil || r.HostKernel != "6.1.0-18-amd64" || out.String() != "runc pod kernel: 6.1.0-18-amd64 (the host's)\n" {
		t.Fatalf("result %+v, output %q", r, out)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.done) != 1 {
		t.Fatalf("the kubelet saw %d pods, want the runc one only", len(k.done))
	}
	assertPodsGone(t, cs, step.Namespace)
}

func assertPodsGone(t *testing.T, cs *Clients, ns string) {
	t.Helper()
	pods, err := cs.Kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 0 {
		t.Fatalf("%d test pod(s) left behind", len(pods.Items))
	}
}

func TestVerifyKataPodRanInAVM(t *testing.T) {
	cs, step, out := verifySetup(t, "verify-ok")
	startKubelet(t, cs, step.Config.Spec.Node.Name, step.Namespace, &fakeKubelet{kernels: map[string]string{
		"eksd-kata-verify-runc": "6.1.0-18-amd64", "eksd-kata-verify-kata": "6.12.28-kata",
	}})
	// A leftover of an interrupted run is replaced, not an error.
	left, err := RenderVerifyPod(VerifyPodData{Name: "eksd-kata-verify-kata", Namespace: step.Namespace, Image: "x", NodeName: "elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Kube.CoreV1().Pods(step.Namespace).Create(context.Background(), left, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := step.Run(context.Background(), kataHost(t))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r.HostKernel != "6.1.0-18-amd64" || r.GuestKernel != "6.12.28-kata" {
		t.Fatalf("result %+v", r)
	}
	want := "runc pod kernel: 6.1.0-18-amd64 (the host's)\nkata pod kernel: 6.12.28-kata\nkernels differ: the kata pod ran in a Kata Containers VM\n"
	if out.String() != want {
		t.Fatalf("output\n%s\nwant\n%s", out, want)
	}
	assertPodsGone(t, cs, step.Namespace)
}

func TestVerifySameKernelFails(t *testing.T) {
	cs, step, _ := verifySetup(t, "verify-same")
	startKubelet(t, cs, step.Config.Spec.Node.Name, step.Namespace, &fakeKubelet{kernels: map[string]string{
		"eksd-kata-verify-runc": "6.1.0-18-amd64", "eksd-kata-verify-kata": "6.1.0-18-amd64",
	}})
	_, err := step.Run(context.Background(), kataHost(t))
	if err == nil || !strings.Contains(err.Error(), "the kata pod reported the host's kernel 6.1.0-18-amd64: it did not run in a VM") {
		t.Fatalf("got %v", err)
	}
	assertPodsGone(t, cs, step.Namespace)
}

func TestVerifyQuotesSandboxError(t *testing.T) {
	cs, step, _ := verifySetup(t, "verify-sandbox")
	const msg = `Failed to create pod sandbox: rpc error: code = Unknown desc = failed to start sandbox: failed to create containerd task: failed to create shim task: failed to start shim: failed to resolve runtime path: runtime "io.containerd.kata.v2" binary not installed "containerd-shim-kata-v2": file does not exist`
	startKubelet(t, cs, step.Config.Spec.Node.Name, step.Namespace, &fakeKubelet{
		kernels:      map[string]string{"eksd-kata-verify-runc": "6.1.0-18-amd64"},
		sandboxError: map[string]string{"eksd-kata-verify-kata": msg},
	})
	start := time.Now()
	_, err := step.Run(context.Background(), kataHost(t))
	want := "the kata pod (RuntimeClass kata) cannot start: the runtime failed to create its sandbox\n  FailedCreatePodSandBox: " + msg
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %s: a sandbox failure must end the wait early", d)
	}
	assertPodsGone(t, cs, step.Namespace)
}

// Without a kubelet nothing ever runs the pods: a bounded wait and a message that says so.
func TestVerifyTimesOutWithoutKubelet(t *testing.T) {
	cs, step, _ := verifySetup(t, "verify-nokubelet")
	step.Timeout = 2 * time.Second
	node := step.Config.Spec.Node.Name
	createNode(t, cs, node)
	_, err := step.Run(context.Background(), kataHost(t))
	if want := "node verify-nokubelet-node is not Ready after 2s (no Ready condition yet); pods cannot start on it: kubectl describe node verify-nokubelet-node"; err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	setReady(t, cs, node)
	_, err = step.Run(context.Background(), kataHost(t))
	want := "the runc pod did not finish within 2s (phase Pending): no kubelet has picked it up (is the kubelet on node verify-nokubelet-node running, and the node Ready?)"
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	assertPodsGone(t, cs, step.Namespace)
	if _, err := cs.Kube.CoreV1().Pods(step.Namespace).Get(context.Background(), "eksd-kata-verify-kata", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("kata pod: %v", err)
	}
}

// TestVerifyWaitsOutASettlingKubelet: a node NotReady for a reason that
// passes (the kubelet's CSINode race right after kubeadm init, seen in
// make e2e) is waited for; one without a pod network fails at once.
func TestVerifyWaitsOutASettlingKubelet(t *testing.T) {
	cs, step, _ := verifySetup(t, "verify-settling")
	step.Timeout = 4 * time.Second
	node := step.Config.Spec.Node.Name
	createNode(t, cs, node)
	setNotReady(t, cs, node, "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized")
	start := time.Now()
	_, err := step.Run(context.Background(), kataHost(t))
	if err == nil || !strings.Contains(err.Error(), "no CNI installed? see spec.addons.cniManifest") {
		t.Fatalf("no pod network: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("no pod network: took %s, want a failure at once", d)
	}
	// With a network configured (the bridge addons just wrote) the runtime
	// reloads it within seconds: the same condition is waited out, here
	// until the timeout.
	withNet := kataHost(t)
	hosttest.WriteTree(t, withNet.Root(), map[string]string{BridgeConflist: "{}\n"})
	if _, err := step.Run(context.Background(), withNet); err == nil || strings.Contains(err.Error(), "no CNI installed") {
		t.Fatalf("a configured network: %v, want the wait for Ready to time out", err)
	}

	setNotReady(t, cs, node, `failed to initialize CSINode: error updating CSINode annotation: timed out waiting for the condition; caused by: nodes "`+node+`" not found`)
	go func() {
		time.Sleep(time.Second)
		if err := updateReady(cs, node, corev1.ConditionTrue, "KubeletReady", ""); err != nil {
			t.Error(err)
		}
	}()
	_, err = step.Run(context.Background(), kataHost(t))
	// Ready after a second: the test goes on to its pods, which no kubelet runs here.
	if err == nil || !strings.Contains(err.Error(), "the runc pod did not finish within 4s") {
		t.Fatalf("settling kubelet: %v", err)
	}
	assertPodsGone(t, cs, step.Namespace)
}

func setNotReady(t *testing.T, cs *Clients, name, message string) {
	t.Helper()
	if err := updateReady(cs, name, corev1.ConditionFalse, "KubeletNotReady", message); err != nil {
		t.Fatal(err)
	}
}

// updateReady sets the node's Ready condition, as its kubelet would.
func updateReady(cs *Clients, name string, status corev1.ConditionStatus, reason, message string) error {
	ctx := context.Background()
	n, err := cs.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: reason, Message: message, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	_, err = cs.Kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
	return err
}

// TestVerifyWaitsForTheDefaultServiceAccount: right after kubeadm init the
// namespace's default ServiceAccount does not exist yet; verify waits for it
// instead of failing with "serviceaccount not found".
func TestVerifyWaitsForTheDefaultServiceAccount(t *testing.T) {
	cs, step, out := verifySetup(t, "verify-sa")
	ctx := context.Background()
	if err := cs.Kube.CoreV1().ServiceAccounts(step.Namespace).Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	startKubelet(t, cs, step.Config.Spec.Node.Name, step.Namespace, &fakeKubelet{kernels: map[string]string{
		"eksd-kata-verify-runc": "6.1.0-18-amd64", "eksd-kata-verify-kata": "6.12.28-kata",
	}})
	go func() {
		time.Sleep(300 * time.Millisecond)
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
		if _, err := cs.Kube.CoreV1().ServiceAccounts(step.Namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
			t.Errorf("create service account: %v", err)
		}
	}()
	if _, err := step.Run(ctx, kataHost(t)); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

func TestVerifyImageFromTheMirror(t *testing.T) {
	cfg := testConfig("n1", "qemu")
	cfg.Spec.Images.Mirror = "127.0.0.1:5000"
	s := &VerifyStep{Config: cfg}
	s.defaults()
	if s.Image != "127.0.0.1:5000/docker/library/busybox:1.37" {
		t.Fatalf("image %q", s.Image)
	}
}
