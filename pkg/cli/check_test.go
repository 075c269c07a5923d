package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/preflight/preflighttest"
)

// checkJSON runs check -o json and decodes the report generically, so the
// test pins the schema rather than our own struct.
func checkJSON(t *testing.T, args ...string) (int, map[string]map[string]any, map[string]any, string) {
	t.Helper()
	code, out, stderr := run(t, "", append(args, "-o", "json")...)
	var doc struct {
		Checks  []map[string]any `json:"checks"`
		Summary map[string]any   `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("exit %d, not JSON: %v\n%s\n%s", code, err, out, stderr)
	}
	byID := map[string]map[string]any{}
	for _, c := range doc.Checks {
		for _, k := range []string{"id", "category", "status", "message", "remedy"} {
			if _, ok := c[k].(string); !ok {
				t.Errorf("check %v: %q missing or not a string", c["id"], k)
			}
		}
		byID[c["id"].(string)] = c
	}
	for _, k := range []string{"pass", "warn", "fail", "skip"} {
		if _, ok := doc.Summary[k].(float64); !ok {
			t.Errorf("summary.%s missing: %v", k, doc.Summary)
		}
	}
	return code, byID, doc.Summary, stderr
}

func TestCheckExitCodes(t *testing.T) {
	clean, _ := preflighttest.Build(t, "selinux-swap.txtar")
	code, checks, summary, stderr := checkJSON(t, "--root", clean, "check")
	if code != ExitOK || summary["ok"] != true {
		t.Fatalf("only fixable problems: exit %d, summary %v\n%s", code, summary, stderr)
	}
	if c := checks["host.swap"]; c["status"] != "warn" || c["bootstrapFixes"] != true {
		t.Errorf("host.swap: %v", c)
	}

	broken, _ := preflighttest.Build(t, "cloud-no-nested.txtar")
	code, checks, _, stderr = checkJSON(t, "--root", broken, "check")
	if code != ExitFailure || !strings.Contains(stderr, "virt.hwvirt") {
		t.Fatalf("no nested virtualisation: exit %d, stderr %q", code, stderr)
	}
	if checks["virt.hwvirt"]["status"] != "fail" {
		t.Errorf("virt.hwvirt: %v", checks["virt.hwvirt"])
	}

	for _, args := range [][]string{
		{"--root", clean, "check", "--ignore", "virt.kvm,no.such.check"},
		{"--root", clean, "check", "-o", "yaml"},
		{"--root", clean, "check", "--role", "master"},
	} {
		if code, _, stderr := run(t, "", args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, stderr)
		}
	}
}

func TestCheckIgnoreTurnsFailsIntoWarnings(t *testing.T) {
	root, _ := preflighttest.Build(t, "cloud-no-nested.txtar")
	code, checks, summary, stderr := checkJSON(t, "--root", root, "check", "--ignore", "virt.hwvirt,virt.kvm", "--ignore", "host.cpus")
	if code != ExitOK {
		t.Fatalf("exit %d with every failure ignored\n%s", code, stderr)
	}
	for _, id := range []string{"virt.hwvirt", "virt.kvm", "host.cpus"} {
		if c := checks[id]; c["status"] != "warn" || c["ignored"] != true {
			t.Errorf("%s: %v", id, c)
		}
	}
	if summary["ignored"] != float64(3) {
		t.Errorf("summary %v", summary)
	}
}

func TestCheckRoleWorkerPorts(t *testing.T) {
	root, _ := preflighttest.Build(t, "docker-host.txtar") // something listens on 6443
	_, cp, _, _ := checkJSON(t, "--root", root, "check")
	_, w, _, _ := checkJSON(t, "--root", root, "check", "--role", "worker")
	if cp["host.ports"]["status"] != "fail" {
		t.Errorf("control plane: %v", cp["host.ports"])
	}
	if msg, _ := w["host.ports"]["message"].(string); w["host.ports"]["status"] != "pass" || !strings.Contains(msg, "10250") || strings.Contains(msg, "6443") {
		t.Errorf("worker: %v", w["host.ports"])
	}
}

// TestCheckJoinConfigRole: a config with spec.join is checked as the node
// join makes (a worker here), unless --role says otherwise.
func TestCheckJoinConfigRole(t *testing.T) {
	root, _ := preflighttest.Build(t, "docker-host.txtar") // something listens on 6443
	cfg := filepath.Join(t.TempDir(), "join.yaml")
	if err := os.WriteFile(cfg, []byte("apiVersion: eksd-kata.io/v1alpha1\nkind: NodeConfig\nspec:\n  join:\n    controlPlaneEndpoint: 192.0.2.10:6443\n"+
		"    token: "+goodToken+"\n    discoveryTokenCACertHash: "+goodHash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, w, _, _ := checkJSON(t, "--root", root, "--config", cfg, "check")
	_, cp, _, _ := checkJSON(t, "--root", root, "--config", cfg, "check", "--role", "control-plane")
	if msg, _ := w["host.ports"]["message"].(string); w["host.ports"]["status"] != "pass" || strings.Contains(msg, "6443") {
		t.Errorf("joining worker: %v", w["host.ports"])
	}
	if cp["host.ports"]["status"] != "fail" {
		t.Errorf("--role control-plane: %v", cp["host.ports"])
	}
}

func TestCheckChangesNothing(t *testing.T) {
	for _, m := range []string{"selinux-swap.txtar", "docker-host.txtar", "pvm-host.txtar"} {
		root, _ := preflighttest.Build(t, m)
		before := hosttest.HashTreeTimes(t, root)
		for _, args := range [][]string{{"--root", root, "check"}, {"--root", root, "check", "-o", "json", "--role", "worker"}} {
			run(t, "", args...)
		}
		if hosttest.HashTreeTimes(t, root) != before {
			t.Errorf("%s: check changed the root", m)
		}
	}
}

func TestCheckTextGroupsAndMarks(t *testing.T) {
	root, _ := preflighttest.Build(t, "selinux-swap.txtar")
	code, out, _ := run(t, "", "--root", root, "check")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{"virtualisation\n", "host\n", "containerd\n", "kata\n", "kubernetes\n",
		"! host.swap", "(bootstrap fixes)", "✓ host.os", "– host.privileges", "failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colour when not on a terminal:\n%s", out)
	}
}

// TestCheckThisMachine runs the live check here: on the CI machine /dev/kvm
// works through kvm_pvm without vmx/svm, and check must say so.
func TestCheckThisMachine(t *testing.T) {
	if _, err := os.Stat("/dev/kvm"); err != nil {
		t.Skipf("no /dev/kvm on this machine: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("opening /dev/kvm needs root here")
	}
	_, checks, _, _ := checkJSON(t, "check")
	if c := checks["virt.kvm"]; c["status"] != "pass" || !strings.Contains(c["message"].(string), "KVM_CREATE_VM succeeded") {
		t.Errorf("virt.kvm: %v", c)
	}
	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Fatal(err)
	}
	flags := " " + strings.Join(strings.Fields(string(cpuinfo)), " ") + " "
	if strings.Contains(flags, " vmx ") || strings.Contains(flags, " svm ") {
		t.Skip("this machine has vmx/svm: not the PVM case")
	}
	hw := checks["virt.hwvirt"]
	msg, _ := hw["message"].(string)
	if !strings.Contains(msg, "no vmx/svm") {
		t.Errorf("virt.hwvirt does not say vmx/svm are missing: %v", hw)
	}
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil {
		if hw["status"] != "warn" || !strings.Contains(msg, "kvm_pvm") || !strings.Contains(hw["remedy"].(string), "PVM guest kernel") {
			t.Errorf("virt.hwvirt does not explain PVM: %v", hw)
		}
	}
}
