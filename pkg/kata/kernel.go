package kata

import (
	"context"
	"fmt"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	"github.com/pelletier/go-toml/v2"
)

// KernelDropIn points Kata at spec.kata.guestKernel. Kata's Go runtime
// merges ConfigDir/config.d/*.toml over every configuration of ConfigDir
// it loads, the ones containerd's runtimes name among them: the release's
// files stay as they are (docs/decisions/2026-12-05-kata-guest-kernel.md).
const KernelDropIn = ConfigDir + "/config.d/50-eksd-kata-kernel.toml"

// hypervisorTables name the [hypervisor.X] table of each hypervisor's
// configuration.
var hypervisorTables = map[string]string{"qemu": "qemu", "clh": "clh", "fc": "firecracker"}

// kernelDropIn renders the drop-in for k (validation allows one hypervisor).
func kernelDropIn(k config.Kata) ([]byte, error) {
	tables := map[string]map[string]string{}
	for _, hv := range k.Hypervisors {
		tables[hypervisorTables[hv]] = map[string]string{"kernel": k.GuestKernel}
	}
	body, err := toml.Marshal(map[string]any{"hypervisor": tables})
	if err != nil {
		return nil, err
	}
	head := "# Written by eksd-kata from spec.kata.guestKernel (--kata-guest-kernel):\n" +
		"# Kata merges it into each configuration in the directory above.\n"
	return append([]byte(head), body...), nil
}

// planGuestKernel writes the drop-in when a guest kernel is configured and
// removes it when none is. A tree being installed comes without it.
func (s *Step) planGuestKernel(h *host.Host, p *plan.Plan, installing bool) error {
	k := s.Config.Spec.Kata
	if k.GuestKernel == "" {
		ok, err := h.FS.Exists(KernelDropIn)
		if err != nil || !ok {
			return err
		}
		p.Add(&plan.Func{
			Text: fmt.Sprintf("remove %s (spec.kata.guestKernel is not set: Kata boots the release's kernel)", KernelDropIn),
			Do:   func(_ context.Context, h *host.Host) error { return h.FS.Remove(KernelDropIn) },
		})
		return nil
	}
	data, err := kernelDropIn(k)
	if err != nil {
		return err
	}
	if installing {
		p.Add(&plan.WriteFile{Path: KernelDropIn, New: data, Mode: 0o644, Why: "Kata boots " + k.GuestKernel})
		return nil
	}
	if ok, err := h.FS.Exists(ConfigDir); err != nil || !ok {
		return err // no Kata to point at it: the plan says Kata is missing
	}
	c, err := plan.PlanFile(h, KernelDropIn, data, 0o644)
	if c != nil {
		c.Why = "Kata boots " + k.GuestKernel
	}
	p.Add(c)
	return err
}
