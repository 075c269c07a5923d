package cli

import (
	"io"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/binaries"
	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/containerd"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/images"
	"github.com/eksd-kata/eksd-kata/pkg/preflight"
	"github.com/eksd-kata/eksd-kata/pkg/runtimeinstall"
)

func realInputs() phaseInputs {
	return phaseInputs{cfg: config.Default(), rel: eksd.Default(), f: &bootstrapFlags{}, out: io.Discard, errOut: io.Discard}
}

// byName finds a phase of a table.
func byName(t *testing.T, phases []bootstrap.Phase, name string) bootstrap.Phase {
	t.Helper()
	for _, p := range phases {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no phase %s", name)
	return bootstrap.Phase{}
}

func needNames(p bootstrap.Phase) string {
	var out []string
	for _, n := range p.Needs {
		out = append(out, n.String())
	}
	return strings.Join(out, ", ")
}

// TestPhaseTables: both tables pass the checks, every phase says what it
// does, the steps are given the very milestones their phases provide, and
// the overlaps that matter are Needs: certs waits for kubeadm and the
// kubelet (its preflight runs kubelet --version), kubeadm init for the
// certificates, the control-plane images and the kubelet, verify for
// every image.
func TestPhaseTables(t *testing.T) {
	boot := bootstrapPhases(realInputs())
	join := joinPhases(realInputs(), config.Join{})
	for _, table := range [][]bootstrap.Phase{boot, join} {
		if err := bootstrap.Validate(table); err != nil {
			t.Fatal(err)
		}
		for _, p := range table {
			if p.Description == "" || strings.Contains(p.Description, "\n") {
				t.Errorf("phase %s: description %q, want one line", p.Name, p.Description)
			}
		}
		img, bins := byName(t, table, "images"), byName(t, table, "binaries")
		stored := img.Step.(*images.Step).ControlPlaneStored
		if !img.Background || len(img.Provides) != 1 || img.Provides[0] != stored {
			t.Errorf("images: background %v, provides %v, its step reaches %v", img.Background, img.Provides, stored)
		}
		b := bins.Step.(*binaries.Step)
		if bins.Background || len(bins.Provides) != 2 || bins.Provides[0] != b.KubeadmInstalled || bins.Provides[1] != b.KubeletInstalled {
			t.Errorf("binaries provides %v, its step reaches %v and %v", bins.Provides, b.KubeadmInstalled, b.KubeletInstalled)
		}
	}
	for name, want := range map[string]string{
		"images":  "kata",
		"certs":   "kubeadm installed, kubelet installed",
		"kubeadm": "certs, control-plane images stored, kubelet installed",
		"addons":  "kubeadm",
		"verify":  "addons, images, cni",
	} {
		if got := needNames(byName(t, boot, name)); got != want {
			t.Errorf("bootstrap %s needs %q, want %q", name, got, want)
		}
	}
	if got, want := needNames(byName(t, join, "kubeadm")), "images for kubeadm join stored, kubeadm installed, kubelet installed"; got != want {
		t.Errorf("join kubeadm needs %q, want %q", got, want)
	}
	if strings.Join(stepNames, ",") != "preflight,host,runtime,containerd,kata,images,binaries,cni,certs,kubeadm,addons,verify" ||
		strings.Join(joinStepNames, ",") != "preflight,host,runtime,containerd,kata,images,binaries,cni,kubeadm" {
		t.Errorf("names: %q and %q", stepNames, joinStepNames)
	}
	// Each table makes its own milestones: two runs never share one.
	again := bootstrapPhases(realInputs())
	if byName(t, again, "images").Provides[0] == byName(t, boot, "images").Provides[0] {
		t.Error("two tables share a milestone")
	}
}

// TestRuntimeStepIsAsked: containerd's config and the preflight ask the
// runtime step which containerd the host will have, only when the run
// has it.
func TestRuntimeStepIsAsked(t *testing.T) {
	for _, skip := range [][]string{nil, {"runtime"}} {
		in := realInputs()
		in.f.skip = skip
		for _, table := range [][]bootstrap.Phase{bootstrapPhases(in), joinPhases(in, config.Join{})} {
			rt := byName(t, table, "runtime").Step.(*runtimeinstall.Step)
			ctr := byName(t, table, "containerd").Step.(*containerd.Step)
			pre := byName(t, table, "preflight").Step.(*preflight.Step)
			if skip == nil && (ctr.Installer != containerd.Installer(rt) || pre.Runtime != rt) || skip != nil && (ctr.Installer != nil || pre.Runtime != nil) {
				t.Errorf("--skip %v: containerd asks %v, preflight %v; the runtime step is %p", skip, ctr.Installer, pre.Runtime, rt)
			}
			if got := needNames(byName(t, table, "containerd")); got != "runtime" {
				t.Errorf("containerd needs %q", got)
			}
		}
	}
}

// TestDryRunPrintsTheOrder: before the plans, bootstrap --dry-run prints
// what each phase waits for and which phases overlap; --skip takes a
// phase out of the order.
func TestDryRunPrintsTheOrder(t *testing.T) {
	args := []string{"--root", t.TempDir(), "bootstrap", "--dry-run", "--containerd-version", "2.4.2", "--ignore", "all", "--node-name", "node-1", "--advertise-address", "192.0.2.10"}
	code, out, stderr := run(t, "", args...)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	want := `  preflight
  host after: preflight
  runtime after: host
  containerd after: runtime
  kata after: containerd
  images (background) after: kata ‖ binaries, cni, certs, kubeadm, addons
  binaries after: kata ‖ images, certs, kubeadm
  cni (background) after: binaries ‖ images, certs, kubeadm, addons
  certs after: kubeadm installed, kubelet installed ‖ images, binaries, cni
  kubeadm after: certs, control-plane images stored ‖ images, binaries, cni
  addons after: kubeadm, binaries ‖ images, cni
  verify after: addons, images, cni
[1/12] preflight:`
	if !strings.Contains(out, want) {
		t.Errorf("output lacks the order:\n%s\nwant:\n%s", out, want)
	}
	code, out, stderr = run(t, "", append(args, "--skip", "certs")...)
	if code != ExitOK || !strings.Contains(out, "  kubeadm after: control-plane images stored, kubelet installed ‖ images, binaries, cni\n") {
		t.Errorf("--skip certs: exit %d\n%s%s", code, out, stderr)
	}
}
