package status

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/binaries"
	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/containerd"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// TestJudgeAndText: each kind of trouble is a problem, and the text says
// where it is.
func TestJudgeAndText(t *testing.T) {
	r := &Report{
		Node:       Node{Bootstrapped: true, Record: "/var/lib/eksd-kata/node.json", Name: "n1", Role: "worker", Verb: "join", Release: "kubernetes-1-35-eks-13", Since: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)},
		Release:    &Release{Name: "kubernetes-1-36-eks-7", KubernetesVersion: "v1.36.2", Source: "from node.yaml"},
		Binaries:   &Binaries{Items: []binaries.Installed{{Name: "kubeadm", State: binaries.Match}, {Name: "kubelet", Path: "/usr/local/bin/kubelet", State: binaries.Differs, Algo: "sha256", Got: "aa", Want: "bb"}}},
		Containerd: &Containerd{Daemon: containerd.Daemon{Version: "2.4.2"}, Error: "containerd 2.4.2: the CRI plugin does not answer: EOF"},
		Kata:       &Kata{Enabled: true, Version: "3.21.0", Ready: []string{"qemu"}, NotReady: []NotReady{{Hypervisor: "clh", Why: "no /opt/kata/bin/cloud-hypervisor"}}},
		Drift: DriftOf("join", &bootstrap.Report{Steps: []bootstrap.StepResult{
			{Name: "host"},
			{Name: "containerd", Changes: []string{"update /etc/containerd/config.toml"}, Blockers: []plan.Problem{{What: "containerd 1.6.20 is too old", Remedy: "upgrade containerd"}}},
		}}),
	}
	r.Judge()
	want := []string{
		"/usr/local/bin/kubelet differs from kubernetes-1-36-eks-7",
		"containerd: containerd 2.4.2: the CRI plugin does not answer: EOF",
		"drift: join would make 1 change(s) (containerd 1)",
		"drift: 1 blocker(s) (containerd 1)",
	}
	if !slices.Equal(r.Problems, want) {
		t.Errorf("problems\n%q\nwant\n%q", r.Problems, want)
	}
	var b strings.Builder
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"node        n1: worker by eksd-kata join, since 2026-12-05 10:00:00 UTC\n",
		"release     kubernetes-1-36-eks-7 (Kubernetes v1.36.2), from node.yaml\n",
		"            the node was made from kubernetes-1-35-eks-13\n",
		"binaries    kubeadm match kubernetes-1-36-eks-7\n",
		"            ✗ /usr/local/bin/kubelet differs: sha256 aa, kubernetes-1-36-eks-7 says bb\n",
		"containerd  2.4.2; containerd 2.4.2: the CRI plugin does not answer: EOF\n",
		"kata        3.21.0, ready: qemu, not ready:\n",
		"            clh: no /opt/kata/bin/cloud-hypervisor\n",
		"drift       join would make 1 change(s) (planned: host, containerd)\n",
		"            + containerd: update /etc/containerd/config.toml\n",
		"            ✗ containerd: containerd 1.6.20 is too old → upgrade containerd\n",
		"status      4 problem(s):\n",
	} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("text lacks %q:\n%s", line, b.String())
		}
	}
}
