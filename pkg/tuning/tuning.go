// Package tuning is the bootstrap step "host": SELinux, swap, kernel
// modules and sysctls set the way kubeadm and the kubelet need them, now
// and across reboots.
package tuning

import (
	"context"
	"errors"
	"io/fs"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/owned"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// Files the step owns; reset removes them.
const (
	ModulesFile = owned.ModulesFile
	SysctlFile  = owned.SysctlFile
	FstabFile   = owned.FstabFile
	// ZramGeneratorFile, empty, turns off systemd's zram swap generator.
	ZramGeneratorFile = owned.ZramGeneratorFile
)

// Modules are loaded now and at every boot: overlay for containerd's
// snapshotter, br_netfilter so bridged pod traffic passes iptables.
var Modules = []string{"overlay", "br_netfilter"}

// Sysctls kube-proxy and CNI plugins need. Upstream kubeadm stopped
// checking bridge-nf-call-iptables in 1.30, older EKS-D kubeadm still does.
var Sysctls = []struct{ Key, Value string }{
	{"net.ipv4.ip_forward", "1"},
	{"net.bridge.bridge-nf-call-iptables", "1"},
	{"net.bridge.bridge-nf-call-ip6tables", "1"},
}

// Step tunes the host.
type Step struct {
	Config *config.NodeConfig
}

func (s *Step) Name() string { return "host" }

// Plan reads the host and returns what differs from what Kubernetes needs.
func (s *Step) Plan(ctx context.Context, h *host.Host) (*plan.Plan, error) {
	p := &plan.Plan{}
	for _, part := range []func(context.Context, *host.Host, *plan.Plan) error{
		s.planSELinux, planSwap, planModules, planSysctls,
	} {
		if err := part(ctx, h, p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
