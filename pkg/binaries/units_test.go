package binaries

import (
	"context"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	"github.com/eksd-kata/eksd-kata/pkg/release/releasetest"
)

func TestRenderUnitsPointAtInstallDir(t *testing.T) {
	units, err := RenderUnits("/opt/eksd/bin")
	if err != nil {
		t.Fatal(err)
	}
	svc, dropIn := string(units[KubeletUnitPath]), string(units[KubeadmDropIn])
	for _, want := range []string{"ExecStart=/opt/eksd/bin/kubelet\n", "Restart=always", "WantedBy=multi-user.target"} {
		if !strings.Contains(svc, want) {
			t.Errorf("kubelet.service lacks %q:\n%s", want, svc)
		}
	}
	for _, want := range []string{
		"ExecStart=\nExecStart=/opt/eksd/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS\n",
		"EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env",
		"--config=/var/lib/kubelet/config.yaml",
	} {
		if !strings.Contains(dropIn, want) {
			t.Errorf("10-kubeadm.conf lacks %q:\n%s", want, dropIn)
		}
	}
	if strings.Contains(svc+dropIn, "{{") || strings.Contains(svc+dropIn, "/usr/bin/kubelet") {
		t.Errorf("template not fully rendered:\n%s\n%s", svc, dropIn)
	}
}

// Under --root the unit files are written into the image, and enabling is
// a note: the systemd of this machine is not the image's.
func TestUnitsUnderRootAreNotesNotActions(t *testing.T) {
	f := newFixture(t)
	h, err := host.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := f.step()
	s.InstallDir = "/usr/bin"
	p := mustPlan(t, s, h)
	for _, c := range p.Changes {
		if _, ok := c.(*plan.UnitAction); ok {
			t.Errorf("systemd action under --root: %s", c.Summary())
		}
	}
	if !strings.Contains(strings.Join(p.Notes, "\n"), "enable kubelet.service: skipped (--root)") {
		t.Errorf("notes: %q", p.Notes)
	}
	if err := p.Apply(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	got, err := h.FS.ReadFile(KubeletUnitPath)
	if err != nil || !strings.Contains(string(got), "ExecStart=/usr/bin/kubelet\n") {
		t.Errorf("unit in image: %v\n%s", err, got)
	}
	if again := mustPlan(t, s, h); !again.Empty() {
		t.Errorf("second plan: %q", again.Summaries())
	}
}

func TestNoSystemdIsANote(t *testing.T) {
	f := newFixture(t)
	f.sd.NotRunning = true
	p := mustPlan(t, f.step(), f.h)
	for _, c := range p.Changes {
		if _, ok := c.(*plan.UnitAction); ok {
			t.Errorf("systemd action without systemd: %s", c.Summary())
		}
	}
	if !strings.Contains(strings.Join(p.Notes, "\n"), "systemd is not running as PID 1") {
		t.Errorf("notes: %q", p.Notes)
	}
}

// A daemon-reload is planned only when systemd holds the kubelet: it
// then needs one to see changed files (or a new enable, as systemctl enable
// reloads). A unit it does not hold is read from disk when first used.
func TestReloadOnlyWhenSystemdHoldsTheKubelet(t *testing.T) {
	for _, tc := range []struct {
		name   string
		state  host.UnitState
		change bool // the drop-in differs from ours
		want   []string
	}{
		{"running, drop-in changed", host.UnitState{Load: "loaded", Active: "active", UnitFileState: "enabled", InMemory: true}, true,
			[]string{"update " + KubeadmDropIn, "systemd daemon-reload"}},
		{"not held, drop-in changed", host.UnitState{Load: "loaded", Active: "inactive", UnitFileState: "enabled"}, true,
			[]string{"update " + KubeadmDropIn}},
		{"held and disabled, files ours", host.UnitState{Load: "loaded", Active: "inactive", UnitFileState: "disabled", InMemory: true}, false,
			[]string{"systemd enable kubelet.service", "systemd daemon-reload"}},
		{"not held and disabled, files ours", host.UnitState{Load: "loaded", Active: "inactive", UnitFileState: "disabled"}, false,
			[]string{"systemd enable kubelet.service"}},
		{"running, nothing changed", host.UnitState{Load: "loaded", Active: "active", UnitFileState: "enabled", InMemory: true}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if err := mustPlan(t, f.step(), f.h).Apply(context.Background(), f.h); err != nil {
				t.Fatal(err)
			}
			f.sd.Units[KubeletUnit] = tc.state
			if tc.change {
				if _, err := f.h.FS.WriteFile(KubeadmDropIn, []byte("[Service]\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			p := mustPlan(t, f.step(), f.h)
			if got := p.Summaries(); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("plan %q, want %q", got, tc.want)
			}
		})
	}
}

// A masked kubelet.service stops the plan with what to do: kubeadm could
// not start the kubelet, and enabling it would fail half-way.
func TestMaskedKubeletRefused(t *testing.T) {
	f := newFixture(t)
	f.sd.Units[KubeletUnit] = host.UnitState{Load: "masked", Active: "inactive", UnitFileState: "masked"}
	_, err := f.step().Plan(context.Background(), f.h)
	if err == nil || !strings.Contains(err.Error(), "kubelet.service is masked: kubeadm cannot start the kubelet; run `systemctl unmask kubelet.service`") {
		t.Fatalf("plan error %v", err)
	}
}

func TestFlagsEnvPodInfraFlagRemovedFrom135(t *testing.T) {
	const old = `KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock --pod-infra-container-image=public.ecr.aws/eks-distro/kubernetes/pause:3.9 --node-ip=10.0.0.5"` + "\n"
	const want = `KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock --node-ip=10.0.0.5"` + "\n"

	f := newFixture(t) // 1-36: the kubelet has no such flag
	if _, err := f.h.FS.WriteFile(FlagsEnv, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	p := mustPlan(t, f.step(), f.h)
	if err := (p).Apply(context.Background(), f.h); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.h.FS.ReadFile(FlagsEnv); string(got) != want {
		t.Errorf("kubeadm-flags.env:\n%s\nwant:\n%s", got, want)
	}
	if again := mustPlan(t, f.step(), f.h); !again.Empty() {
		t.Errorf("second plan: %q", again.Summaries())
	}

	// 1-34's kubelet still accepts the flag: kubeadm's file is left alone.
	h := f.h
	s := f.step()
	s.Release = releasetest.Release(t, "1-34", 0, f.srv.URL, f.bins)
	if _, err := h.FS.WriteFile(FlagsEnv, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	p = mustPlan(t, s, h)
	for _, c := range p.Changes {
		if strings.Contains(c.Summary(), FlagsEnv) {
			t.Errorf("1-34 plan touches %s: %s", FlagsEnv, c.Summary())
		}
	}
	if !strings.Contains(strings.Join(p.Notes, "\n"), "pod sandbox image public.ecr.aws/eks-distro/kubernetes/pause:3.10.1 is set in containerd's config") {
		t.Errorf("notes: %q", p.Notes)
	}
}
