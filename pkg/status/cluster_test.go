package status

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/kube"
	"github.com/eksd-kata/eksd-kata/pkg/kube/kubetest"
	"github.com/eksd-kata/eksd-kata/pkg/noderecord"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestMain runs one real API server (etcd + kube-apiserver) for the
// package when scripts/test-prereqs.sh has built them; the tests that need
// it skip otherwise, saying why.
func TestMain(m *testing.M) {
	os.Exit(kubetest.Main(m, nil))
}

// apiServer returns clients of the real API server, or skips t.
func apiServer(t *testing.T) (*kubetest.Cluster, kubernetes.Interface) {
	t.Helper()
	c := kubetest.Require(t)
	kc, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	return c, kc
}

// node is a record and configuration of a node called name in role.
func node(name string, role config.Role) (*noderecord.Record, *config.NodeConfig) {
	cfg := config.Default()
	cfg.Spec.Node.Name, cfg.Spec.Node.Role = name, role
	cfg.Spec.Kata.Enabled = false
	return noderecord.New("bootstrap", cfg, eksd.Default(), "dev", time.Now()), cfg
}

// liveHost plays a running node whose kubeconfig for role reaches c.
func liveHost(t *testing.T, c *kubetest.Cluster, role config.Role) *host.Host {
	t.Helper()
	h := hosttest.NewTestHost(t, "")
	hosttest.WriteTree(t, h.Root(), map[string]string{Kubeconfig(role): string(c.Kubeconfig)})
	return h
}

func setReady(t *testing.T, kc kubernetes.Interface, name string, status corev1.ConditionStatus, reason, message string) {
	t.Helper()
	setStatus(t, kc, name, func(s *corev1.NodeStatus) {
		s.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: reason, Message: message,
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	})
}

// setStatus changes the node's status as its kubelet would.
func setStatus(t *testing.T, kc kubernetes.Interface, name string, change func(*corev1.NodeStatus)) {
	t.Helper()
	ctx := context.Background()
	n, err := kc.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	change(&n.Status)
	if _, err := kc.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestClusterFromTheAPIServer: the node's registration, Ready condition,
// roles and Kata label, and the cluster's RuntimeClasses, as a real API
// server has them, through the kubeconfig of the node's role; a node not
// Ready or not registered is a problem.
func TestClusterFromTheAPIServer(t *testing.T) {
	c, kc := apiServer(t)
	ctx := context.Background()
	const name = "status-node"
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"node-role.kubernetes.io/control-plane": "", kube.KataNodeLabel: "true"}}}
	if _, err := kc.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kc.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	for _, rc := range []*nodev1.RuntimeClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "status-kata", Labels: map[string]string{kube.ManagedByLabel: kube.ManagedBy}}, Handler: "status-kata"},
		{ObjectMeta: metav1.ObjectMeta{Name: "status-gvisor"}, Handler: "runsc"},
	} {
		if _, err := kc.NodeV1().RuntimeClasses().Create(ctx, rc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = kc.NodeV1().RuntimeClasses().Delete(context.Background(), rc.Name, metav1.DeleteOptions{}) })
	}
	rec, cfg := node(name, config.RoleControlPlane)
	h := liveHost(t, c, config.RoleControlPlane)
	gather := func() *Report {
		r := Gather(ctx, Inputs{Host: h, Record: rec, Config: cfg})
		r.Judge()
		return r
	}

	r := gather()
	got := r.Cluster
	if got == nil || got.Error != "" || !got.Registered || got.Ready || got.Kubeconfig != kube.AdminKubeconfig ||
		!slices.Equal(got.Roles, []string{"control-plane"}) || !got.KataLabel {
		t.Fatalf("cluster %+v", got)
	}
	if !slices.Contains(r.Problems, "node status-node is not Ready: no Ready condition yet") {
		t.Errorf("problems %q", r.Problems)
	}
	var rcs []RuntimeClass
	for _, rc := range got.RuntimeClasses {
		if strings.HasPrefix(rc.Name, "status-") {
			rcs = append(rcs, rc)
		}
	}
	if want := []RuntimeClass{{Name: "status-gvisor", Handler: "runsc"}, {Name: "status-kata", Handler: "status-kata", Ours: true}}; !slices.Equal(rcs, want) {
		t.Errorf("RuntimeClasses %+v, want %+v", rcs, want)
	}

	setReady(t, kc, name, corev1.ConditionFalse, "KubeletNotReady", "container runtime network not ready")
	if r = gather(); !slices.Contains(r.Problems, "node status-node is not Ready: KubeletNotReady: container runtime network not ready") {
		t.Errorf("problems %q", r.Problems)
	}
	setReady(t, kc, name, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status")
	setStatus(t, kc, name, func(s *corev1.NodeStatus) { s.NodeInfo.KubeletVersion = "v1.36.2-eks-1-36-7" })
	if r = gather(); !r.Cluster.Ready || slices.ContainsFunc(r.Problems, func(p string) bool { return strings.Contains(p, "Ready") }) {
		t.Errorf("ready: %+v, problems %q", r.Cluster, r.Problems)
	}
	var text strings.Builder
	if err := WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"cluster     node status-node Ready (kubelet v1.36.2-eks-1-36-7; control-plane; Kata label)\n",
		"RuntimeClasses: ",
		"status-gvisor (handler runsc)",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}

	// A worker reads with the kubelet's kubeconfig; a node the API server
	// does not know is not registered.
	rec, cfg = node("status-absent", config.RoleWorker)
	r = Gather(ctx, Inputs{Host: liveHost(t, c, config.RoleWorker), Record: rec, Config: cfg})
	r.Judge()
	if r.Cluster.Kubeconfig != "/etc/kubernetes/kubelet.conf" || r.Cluster.Registered || !slices.Contains(r.Problems, "node status-absent is not registered with the API server") {
		t.Errorf("absent worker: %+v, problems %q", r.Cluster, r.Problems)
	}
}

// TestClusterWithoutKubeconfig: a node kubeadm has not run on yet says so.
func TestClusterWithoutKubeconfig(t *testing.T) {
	rec, cfg := node("n1", config.RoleControlPlane)
	r := Gather(context.Background(), Inputs{Host: hosttest.NewTestHost(t, ""), Record: rec, Config: cfg})
	r.Judge()
	if r.Cluster == nil || r.Cluster.Error != "no /etc/kubernetes/admin.conf: kubeadm has not run on this node" {
		t.Fatalf("cluster %+v", r.Cluster)
	}
	if !slices.Contains(r.Problems, "cluster: no /etc/kubernetes/admin.conf: kubeadm has not run on this node") {
		t.Errorf("problems %q", r.Problems)
	}
}
