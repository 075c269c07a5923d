package binaries

import (
	"bytes"
	"context"
	"fmt"
	"text/template"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/owned"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	"github.com/eksd-kata/eksd-kata/systemd"
)

// Where the kubelet's unit and kubeadm's drop-in are installed: the
// administrator's directory, which takes precedence over packaged units.
const (
	KubeletUnit     = "kubelet.service"
	KubeletUnitPath = owned.KubeletUnitPath
	KubeadmDropIn   = owned.KubeadmDropIn
)

// RenderUnits returns the kubelet unit and kubeadm's drop-in for binaries
// installed in binDir, keyed by their host path.
func RenderUnits(binDir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for file, dest := range map[string]string{"kubelet.service": KubeletUnitPath, "10-kubeadm.conf": KubeadmDropIn} {
		t, err := template.New(file).Option("missingkey=error").ParseFS(systemd.Files, file)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if err := t.Execute(&b, struct{ BinDir string }{binDir}); err != nil {
			return nil, fmt.Errorf("render %s: %w", file, err)
		}
		out[dest] = b.Bytes()
	}
	return out, nil
}

// planKubelet plans the unit files, the clean-up of kubeadm-flags.env and
// the systemd actions that make kubeadm able to start the kubelet.
func (s *Step) planKubelet(ctx context.Context, h *host.Host, p *plan.Plan, binDir string) error {
	units, err := RenderUnits(binDir)
	if err != nil {
		return err
	}
	changed := false
	for _, dest := range []string{KubeletUnitPath, KubeadmDropIn} {
		c, err := plan.PlanFile(h, dest, units[dest], 0o644)
		if err != nil {
			return err
		}
		if c != nil {
			changed = true
			p.Add(c)
		}
	}
	if err := s.planFlagsEnv(h, p); err != nil {
		return err
	}
	switch {
	case !h.IsLive():
		p.Notef("enable %s: skipped (--root); enable it in the image (systemctl --root=%s enable %s)", KubeletUnit, h.Root(), KubeletUnit)
		return nil
	case !h.Systemd.Running():
		p.Notef("enable %s: skipped, systemd is not running as PID 1; kubeadm expects systemd to run the kubelet", KubeletUnit)
		return nil
	}
	st, err := h.Systemd.UnitState(ctx, KubeletUnit)
	if err != nil {
		return err
	}
	// Enable only: kubeadm init/join start the kubelet once its config
	// exists. Reload only when systemd holds the kubelet: a fresh host's
	// systemd reads the new unit, drop-in and links when kubeadm first asks
	// for it (and kubeadm reloads before it starts the kubelet), and a
	// reload costs a third of a second of PID 1 beside the image pulls.
	if st.Masked() {
		return fmt.Errorf("%s is masked: kubeadm cannot start the kubelet; run `systemctl unmask %s` and run again", KubeletUnit, KubeletUnit)
	}
	enable := st.UnitFileState != "enabled"
	if enable {
		p.Add(&plan.UnitAction{Action: "enable", Unit: KubeletUnit})
	}
	if st.InMemory && (changed || enable) {
		p.Add(&plan.UnitAction{Action: "daemon-reload"})
	}
	return nil
}
