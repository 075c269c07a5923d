package kube

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestReadManifestURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cni.yaml" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(cniManifest("from-url")))
	}))
	defer srv.Close()
	data, err := ReadManifest(context.Background(), srv.URL+"/cni.yaml", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	objs, err := DecodeManifest(data)
	if err != nil || len(objs) != 3 || objName(objs[2]) != "DaemonSet from-url/cni-agent" {
		t.Fatalf("%v %d", err, len(objs))
	}
	var in *badinput.Error
	if _, err := ReadManifest(context.Background(), srv.URL+"/missing.yaml", srv.Client()); !errors.As(err, &in) {
		t.Fatalf("404: want bad input, got %v", err)
	}
	if _, err := ReadManifest(context.Background(), "http://cni.example/x.yaml", nil); !errors.As(err, &in) || !strings.Contains(err.Error(), "use https://") {
		t.Fatalf("plain http: %v", err)
	}
}

func TestDecodeManifestExpandsLists(t *testing.T) {
	objs, err := DecodeManifest([]byte("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n"))
	if err != nil || len(objs) != 2 || objName(objs[0]) != "ConfigMap a" || objName(objs[1]) != "Secret b" {
		t.Fatalf("%v %v", err, objs)
	}
}

// crdManifest defines a kind and uses it at once, as operator-style CNI
// manifests do: the custom resource waits until its definition is served.
const crdManifest = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: networks.cni.example.com
spec:
  group: cni.example.com
  scope: Cluster
  names: {plural: networks, singular: network, kind: Network}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
---
apiVersion: cni.example.com/v1
kind: Network
metadata:
  name: default
spec:
  cidr: 10.244.0.0/16
`

// Planned while the API was down (no admin.conf yet), applied once it is
// there: the changes connect by themselves.
func TestAddonsPlannedBeforeKubeadmApplyAfterwards(t *testing.T) {
	c, cs := freshCluster(t)
	ctx := context.Background()
	const node = "late-node"
	cni := filepath.Join(t.TempDir(), "cni.yaml")
	if err := os.WriteFile(cni, []byte(crdManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(node, "clh")
	cfg.Spec.Addons.CNIManifest = cni
	h := liveHost(t, nil)
	installKata(t, h.Root(), "clh")
	step := &AddonsStep{Config: cfg, ReadyTimeout: 5 * time.Second, Backoff: fast}
	p, err := step.Plan(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 6 || len(p.Notes) != 1 {
		t.Fatalf("%v %v", p.Summaries(), p.Notes)
	}
	// kubeadm ran: admin.conf and the node appear.
	p2 := filepath.Join(h.Root(), AdminKubeconfig)
	if err := os.MkdirAll(filepath.Dir(p2), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p2, c.Kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	createNode(t, cs, node)
	setReady(t, cs, node)
	for _, ch := range p.Changes {
		if err := ch.Apply(ctx, h); err != nil {
			t.Fatalf("%s: %v", ch.Summary(), err)
		}
	}
	gvr := schema.GroupVersionResource{Group: "cni.example.com", Version: "v1", Resource: "networks"}
	nw, err := cs.Dynamic.Resource(gvr).Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cidr, _, _ := unstructured.NestedString(nw.Object, "spec", "cidr"); cidr != "10.244.0.0/16" {
		t.Fatalf("network %v", nw.Object)
	}
	if rc, err := cs.Kube.NodeV1().RuntimeClasses().Get(ctx, "kata-clh", metav1.GetOptions{}); err != nil || rc.Handler != "kata-clh" {
		t.Fatalf("%v %v", rc, err)
	}
	if p, err := step.Plan(ctx, h); err != nil || !p.Empty() {
		t.Fatalf("after apply: %v %v", err, p.Summaries())
	}
}
