package binaries

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// TestNamesKeepThenRestore: a step of one binary installs only that one,
// without the kubelet's unit; a binary it replaces is kept first, and
// PlanRestore puts the kept one back, checked against its release, after
// which it plans nothing.
func TestNamesKeepThenRestore(t *testing.T) {
	f := newFixture(t)
	old := map[string]string{"/usr/local/bin/kubeadm": "old kubeadm\n", "/usr/local/bin/kubelet": "old kubelet\n"}
	hosttest.WriteTree(t, f.h.Root(), old)
	const keepDir = "/var/lib/eksd-kata/upgrade/old"

	s := f.step()
	s.Names, s.Keep = []string{"kubeadm"}, keepDir
	p := mustPlan(t, s, f.h)
	want := []string{"install /usr/local/bin/kubeadm from " + f.srv.URL + "/bin/linux/amd64/kubeadm (sha256 verified before install), the one there kept as " + keepDir + "/kubeadm"}
	if got := p.Summaries(); !slices.Equal(got, want) {
		t.Fatalf("plan %q, want %q", got, want)
	}
	if err := p.Apply(context.Background(), f.h); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		t.Helper()
		b, err := f.h.FS.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if read("/usr/local/bin/kubeadm") != string(f.bins["kubeadm"]) || read(keepDir+"/kubeadm") != old["/usr/local/bin/kubeadm"] ||
		read("/usr/local/bin/kubelet") != old["/usr/local/bin/kubelet"] {
		t.Fatal("kubeadm not swapped with the old one kept, or the kubelet touched")
	}

	// kubelet and kubectl: kubectl was missing, so nothing of it is kept.
	s = f.step()
	s.Names, s.Keep = []string{"kubectl", "kubelet"}, keepDir
	p = mustPlan(t, s, f.h)
	if got := strings.Join(p.Summaries(), "\n"); !strings.Contains(got, "create "+KubeletUnitPath) ||
		!strings.Contains(got, "kubelet (sha256 verified before install), the one there kept as "+keepDir+"/kubelet") ||
		strings.Contains(got, keepDir+"/kubectl") || strings.Contains(got, "bin/kubeadm") {
		t.Fatalf("plan:\n%s", got)
	}
	if err := p.Apply(context.Background(), f.h); err != nil {
		t.Fatal(err)
	}
	if !mustPlan(t, f.step(), f.h).Empty() {
		t.Fatal("the release's binaries are all in, yet the full step plans")
	}
	if got := dirEntries(t, f.h, keepDir); !slices.Equal(got, []string{"kubeadm", "kubelet"}) {
		t.Fatalf("kept %q", got)
	}

	// The old binaries have no release to check them with here: nil.
	changes, err := PlanRestore(f.h, nil, "amd64", keepDir, "")
	if err != nil {
		t.Fatal(err)
	}
	rp := &plan.Plan{}
	rp.Add(changes...)
	if got := rp.Summaries(); !slices.Equal(got, []string{"restore /usr/local/bin/kubeadm from " + keepDir + "/kubeadm", "restore /usr/local/bin/kubelet from " + keepDir + "/kubelet"}) {
		t.Fatalf("restore plan %q", got)
	}
	for _, c := range changes {
		if err := c.Apply(context.Background(), f.h); err != nil {
			t.Fatal(err)
		}
	}
	for p, data := range old {
		if read(p) != data {
			t.Errorf("%s not restored", p)
		}
	}
	if read("/usr/local/bin/kubectl") != string(f.bins["kubectl"]) {
		t.Error("kubectl, never kept, was touched")
	}
	if changes, err := PlanRestore(f.h, nil, "amd64", keepDir, ""); err != nil || len(changes) != 0 {
		t.Fatalf("a second restore plans %d change(s), %v", len(changes), err)
	}

	// Checked against a release they are not of: refused before any change.
	if _, err := PlanRestore(f.h, f.rel, "amd64", keepDir, ""); !badinput.Is(err) || !strings.Contains(err.Error(), "refusing to restore") {
		t.Fatalf("kept binaries that are not the release's: %v", err)
	}
}
