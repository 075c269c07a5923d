package tuning

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

func planModules(_ context.Context, h *host.Host, p *plan.Plan) error {
	content := "# Written by eksd-kata: kernel modules Kubernetes needs at boot.\n" + strings.Join(Modules, "\n") + "\n"
	c, err := plan.PlanFile(h, ModulesFile, []byte(content), 0o644)
	if err != nil {
		return err
	}
	p.Add(c)
	for _, m := range Modules {
		st, err := h.Module(m)
		if err != nil {
			return fmt.Errorf("kernel module %s: %w", m, err)
		}
		if st == host.ModuleLoaded || st == host.ModuleBuiltin {
			continue
		}
		if !h.IsLive() {
			p.Notef("load kernel module %s: skipped (--root)", m)
			continue
		}
		// A module we think is missing may still load (our detection can
		// be wrong); modprobe then says precisely why not.
		p.Add(&plan.LoadModule{Name: m})
	}
	return nil
}

func planSysctls(_ context.Context, h *host.Host, p *plan.Plan) error {
	var b strings.Builder
	b.WriteString("# Written by eksd-kata: kernel parameters Kubernetes networking needs.\n")
	for _, s := range Sysctls {
		fmt.Fprintf(&b, "%s = %s\n", s.Key, s.Value)
	}
	c, err := plan.PlanFile(h, SysctlFile, []byte(b.String()), 0o644)
	if err != nil {
		return err
	}
	p.Add(c)
	for _, s := range Sysctls {
		if !h.IsLive() {
			p.Notef("sysctl %s=%s: skipped (--root)", s.Key, s.Value)
			continue
		}
		cur, err := h.Sysctl(s.Key)
		if err != nil && !isNotExist(err) {
			return err
		}
		// Missing (br_netfilter not loaded yet) plans the change too: the
		// module load above comes first.
		if cur != s.Value {
			p.Add(&plan.Sysctl{Key: s.Key, Value: s.Value, Old: cur})
		}
	}
	return nil
}

func sortedKeys(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }
