package kube

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/kube/kubetest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestMain runs one real API server (etcd + kube-apiserver) for the
// package when scripts/test-prereqs.sh has built them; tests that need it
// skip otherwise, saying why.
func TestMain(m *testing.M) {
	os.Exit(kubetest.Main(m, seed))
}

// seed creates what the controller manager would: the default service
// account that admission requires of every pod.
func seed(c *kubetest.Cluster) error {
	kc, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "default"}}
	_, err = kc.CoreV1().ServiceAccounts("default").Create(context.Background(), sa, metav1.CreateOptions{})
	return err
}

// cluster returns the real API server or skips t.
func cluster(t *testing.T) *kubetest.Cluster { return kubetest.Require(t) }

// liveHost is a running-machine test host whose admin.conf reaches c.
func liveHost(t *testing.T, c *kubetest.Cluster) *host.Host {
	t.Helper()
	h := hosttest.NewTestHost(t, "")
	if c != nil {
		p := filepath.Join(h.Root(), AdminKubeconfig)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, c.Kubeconfig, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func clients(t *testing.T, c *kubetest.Cluster) *Clients {
	t.Helper()
	cs, err := NewClients(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

var fast = Backoff{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond}
