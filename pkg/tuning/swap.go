package tuning

import (
	"context"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// fstabMark prefixes the swap lines we comment out, so a reader knows who
// did it and why.
const fstabMark = "# eksd-kata (kubelet needs swap off): "

// zramGenerators are the configurations of systemd's zram swap generator.
var zramGenerators = []string{"/usr/lib/systemd/zram-generator.conf", "/etc/systemd/zram-generator.conf"}

func planSwap(ctx context.Context, h *host.Host, p *plan.Plan) error {
	swaps, err := h.Swaps()
	if err != nil && !isNotExist(err) {
		return err
	}
	units := map[string]bool{}
	for _, sw := range swaps {
		if h.IsLive() {
			p.Add(&plan.Swapoff{Path: sw.Path})
		} else {
			p.Notef("swapoff %s: skipped (--root)", sw.Path)
		}
		units[swapUnit(sw.Path)] = true
	}

	fstab, err := h.FS.ReadText(FstabFile)
	switch {
	case isNotExist(err):
	case err != nil:
		return err
	default:
		out, devices := commentSwap(fstab)
		for _, d := range devices {
			units[swapUnit(d)] = true
		}
		c, err := plan.PlanFile(h, FstabFile, out, 0)
		if err != nil {
			return err
		}
		p.Add(c)
	}

	if err := planZram(h, p); err != nil {
		return err
	}
	return planMasks(ctx, h, p, units)
}

// swapUnit is the unit systemd makes for a swap area: /dev/sda2 -> dev-sda2.swap.
func swapUnit(path string) string { return unit.UnitNamePathEscape(path) + ".swap" }

// commentSwap comments out every active swap line of an fstab, keeping
// every other byte, and returns the swap devices it named.
func commentSwap(data []byte) ([]byte, []string) {
	var devices []string
	lines := strings.SplitAfter(string(data), "\n")
	for i, line := range lines {
		f := strings.Fields(line)
		if len(f) < 3 || strings.HasPrefix(f[0], "#") || f[2] != "swap" {
			continue
		}
		lines[i] = fstabMark + line
		if strings.HasPrefix(f[0], "/") {
			devices = append(devices, f[0])
		}
	}
	return []byte(strings.Join(lines, "")), devices
}

// planZram turns off systemd's zram generator with an empty configuration
// in /etc, as its documentation says.
func planZram(h *host.Host, p *plan.Plan) error {
	for _, path := range zramGenerators {
		b, err := h.FS.ReadText(path)
		if isNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		c, err := plan.PlanFile(h, ZramGeneratorFile, []byte{}, 0o644)
		if err != nil {
			return err
		}
		p.Add(c)
		return nil
	}
	return nil
}

// planMasks masks the swap units systemd would otherwise start again at boot.
func planMasks(ctx context.Context, h *host.Host, p *plan.Plan, units map[string]bool) error {
	if len(units) == 0 {
		return nil
	}
	if !h.IsLive() || !h.Systemd.Running() {
		for _, u := range sortedKeys(units) {
			p.Notef("systemd mask %s: skipped (no running systemd)", u)
		}
		return nil
	}
	for _, u := range sortedKeys(units) {
		st, err := h.Systemd.UnitState(ctx, u)
		if err != nil {
			return err
		}
		if st.Load != "masked" {
			p.Add(&plan.UnitAction{Action: "mask", Unit: u})
		}
	}
	return nil
}
