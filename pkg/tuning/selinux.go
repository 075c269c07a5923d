package tuning

import (
	"context"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/owned"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// selinuxConfigs are where the boot-time mode lives; /etc/sysconfig/selinux
// is a link to the first on most RHEL-like systems and then left alone.
var selinuxConfigs = owned.SELinuxConfigs

func (s *Step) planSELinux(_ context.Context, h *host.Host, p *plan.Plan) error {
	want := s.Config.Spec.Host.SELinux
	mode, err := h.SELinux()
	if err != nil {
		return err
	}
	if mode == host.SELinuxEnforcing {
		if h.IsLive() {
			p.Add(&plan.SetEnforce{Enforcing: false})
		} else {
			p.Notef("setenforce 0: skipped (--root)")
		}
	}
	for _, path := range selinuxConfigs {
		fi, err := h.FS.Lstat(path)
		if isNotExist(err) || err == nil && !fi.Mode().IsRegular() {
			continue
		}
		if err != nil {
			return err
		}
		old, err := h.FS.ReadText(path)
		if err != nil {
			return err
		}
		c, err := plan.PlanFile(h, path, setSELinuxLine(old, want), 0)
		if err != nil {
			return err
		}
		p.Add(c)
	}
	return nil
}

// setSELinuxLine rewrites SELINUX=enforcing (and permissive, when want is
// disabled) to want, keeping every other byte of the file.
func setSELinuxLine(data []byte, want string) []byte {
	lines := strings.SplitAfter(string(data), "\n")
	for i, line := range lines {
		body := strings.TrimRight(line, "\r\n")
		key, val, ok := strings.Cut(strings.TrimSpace(body), "=")
		if !ok || key != "SELINUX" {
			continue
		}
		val = strings.Trim(strings.TrimSpace(val), `"'`)
		if val == "enforcing" || val == "permissive" && want == "disabled" {
			lines[i] = "SELINUX=" + want + line[len(body):]
		}
	}
	return []byte(strings.Join(lines, ""))
}
