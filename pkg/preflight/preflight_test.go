package preflight

import (
	"context"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/preflight/preflighttest"
)

func TestParseIgnore(t *testing.T) {
	got, err := ParseIgnore([]string{"virt.kvm", " host.swap ", ""})
	if err != nil || !got["virt.kvm"] || !got["host.swap"] || len(got) != 2 {
		t.Fatalf("ParseIgnore = %v, %v", got, err)
	}
	if _, err := ParseIgnore([]string{"virt.kvm", "virt.kvmm"}); err == nil || !strings.Contains(err.Error(), "virt.kvmm") {
		t.Fatalf("unknown id: err = %v", err)
	}
	if got, err := ParseIgnore([]string{IgnoreAll}); err != nil || !got[IgnoreAll] {
		t.Fatalf("all: %v, %v", got, err)
	}
}

func TestIDsUniqueAndCategorised(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range All() {
		if seen[c.ID] {
			t.Errorf("duplicate id %s", c.ID)
		}
		seen[c.ID] = true
		prefix := map[Category]string{Virtualisation: "virt.", HostCategory: "host.", Containerd: "containerd.", Kata: "kata.", Kubernetes: "kube."}[c.Category]
		if prefix == "" || !strings.HasPrefix(c.ID, prefix) {
			t.Errorf("%s: category %q does not match its id", c.ID, c.Category)
		}
	}
}

func TestRunIgnoresAndSurvivesPanics(t *testing.T) {
	checks := []Check{
		{"a.fail", HostCategory, func(context.Context, *Env) Result { return fail("fix it", "broken") }},
		{"a.panic", HostCategory, func(context.Context, *Env) Result { panic("boom") }},
		{"a.pass", HostCategory, func(context.Context, *Env) Result { return pass("fine") }},
	}
	rep := Run(context.Background(), &Env{}, checks, map[string]bool{"a.fail": true})
	if r, _ := rep.Get("a.fail"); r.Status != Warn || !r.Ignored {
		t.Errorf("ignored fail: %+v", r)
	}
	if r, _ := rep.Get("a.panic"); r.Status != Fail || !strings.Contains(r.Message, "boom") || r.Category != HostCategory {
		t.Errorf("panic: %+v", r)
	}
	if s := rep.Summary; s.Pass != 1 || s.Warn != 1 || s.Fail != 1 || s.Ignored != 1 || s.OK {
		t.Errorf("summary %+v", s)
	}
	all := Run(context.Background(), &Env{}, checks[:1], map[string]bool{IgnoreAll: true})
	if !all.Summary.OK {
		t.Errorf("--ignore all left a failure: %v", all.Failed())
	}
}

// runMachine runs every check on a fixture with cfg changed by edit.
func runMachine(t *testing.T, machine string, edit func(*config.NodeConfig)) *Report {
	t.Helper()
	root, m := preflighttest.Build(t, machine)
	cfg := config.Default()
	if edit != nil {
		edit(cfg)
	}
	return Run(context.Background(), fixtureEnv(t, root, m, cfg), All(), nil)
}

func status(t *testing.T, rep *Report, id string) Result {
	t.Helper()
	r, ok := rep.Get(id)
	if !ok {
		t.Fatalf("no result for %s", id)
	}
	return r
}

func TestWorkerPortsAndCPUs(t *testing.T) {
	cp := runMachine(t, "docker-host.txtar", nil)
	if r := status(t, cp, "host.ports"); r.Status != Fail || !strings.Contains(r.Message, "6443") {
		t.Errorf("control plane with 6443 taken: %v", r)
	}
	w := runMachine(t, "docker-host.txtar", func(c *config.NodeConfig) { c.Spec.Node.Role = config.RoleWorker })
	if r := status(t, w, "host.ports"); r.Status != Pass || !strings.Contains(r.Message, "10250") || strings.Contains(r.Message, "6443") {
		t.Errorf("worker needs only 10250: %v", r)
	}
	one := runMachine(t, "cloud-no-nested.txtar", func(c *config.NodeConfig) { c.Spec.Node.Role = config.RoleWorker })
	if r := status(t, one, "host.cpus"); r.Status != Warn {
		t.Errorf("1 CPU on a worker: %v", r)
	}
}

func TestHypervisorChoiceDecidesVhost(t *testing.T) {
	rep := runMachine(t, "pvm-host.txtar", func(c *config.NodeConfig) { c.Spec.Kata.Hypervisors = []string{"clh"} })
	for _, id := range []string{"virt.vhost_vsock", "virt.vhost_net"} {
		if r := status(t, rep, id); r.Status != Skip || !strings.Contains(r.Message, "not needed") {
			t.Errorf("clh only: %v", r)
		}
	}
	if r := status(t, rep, "kata.config"); r.Status != Fail || !strings.Contains(r.Message, "configuration-clh.toml") {
		t.Errorf("clh configuration missing from an installed Kata: %v", r)
	}
}

func TestFirecrackerNeedsDevmapper(t *testing.T) {
	rep := runMachine(t, "intel-baremetal.txtar", func(c *config.NodeConfig) { c.Spec.Kata.Hypervisors = []string{"qemu", "fc"} })
	if r := status(t, rep, "kata.fc_devmapper"); r.Status != Fail || !strings.Contains(r.Remedy, "thin pool") {
		t.Errorf("fc without devmapper: %v", r)
	}
}

func TestKataDisabledSkipsKata(t *testing.T) {
	rep := runMachine(t, "cloud-no-nested.txtar", func(c *config.NodeConfig) { c.Spec.Kata.Enabled = false })
	for _, r := range rep.Checks {
		if (r.Category == Virtualisation || r.Category == Kata || r.ID == "containerd.runtimes") && r.Status != Skip {
			t.Errorf("Kata disabled, yet %v", r)
		}
	}
}

func TestOlderChannelAcceptsOldContainerd(t *testing.T) {
	rep := runMachine(t, "amd-svm.txtar", func(c *config.NodeConfig) { c.Spec.Release.Channel, c.Spec.Release.Number = "1-34", 0 })
	if r := status(t, rep, "containerd.version"); r.Status != Pass {
		t.Errorf("containerd 1.6.20 for 1-34: %v", r)
	}
}

func TestContainerdVersionMessage(t *testing.T) {
	if got := minContainerd("1-35"); got != "1.7.28+ or 2.1.5+ or 2.2.0+" {
		t.Errorf("1-35: %q", got)
	}
	if got := minContainerd("1-34"); got != "1.6.0+" {
		t.Errorf("1-34: %q", got)
	}
}

func TestDpkgStatusVersion(t *testing.T) {
	status := []byte("Package: containerd\nStatus: deinstall ok config-files\nVersion: 1.5.0\n\n" +
		"Package: containerd.io\nStatus: install ok installed\nVersion: 1.7.28-1\n")
	if v := dpkgStatusVersion(status, "containerd"); v != "" {
		t.Errorf("removed package reported as %q", v)
	}
	if v := dpkgStatusVersion(status, "containerd.io"); v != "1.7.28-1" {
		t.Errorf("containerd.io = %q", v)
	}
}
