package binaries

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/owned"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// FlagsEnv is where kubeadm init/join write the kubelet's flags.
const FlagsEnv = owned.KubeletFlagsEnv

const podInfraFlag = "--pod-infra-container-image"

// podInfraRE matches the flag with its value, "=v" or " v".
var podInfraRE = regexp.MustCompile(`\s*` + podInfraFlag + `(=|\s+)[^\s"]*`)

// planFlagsEnv leaves kubeadm-flags.env to kubeadm, which rewrites it on
// every init and join, so anything we wrote would be replaced and then
// planned again on each run. The pause image reaches the kubelet through
// containerd's sandbox image (containerd step): kubelet 1.27+ ignores
// --pod-infra-container-image, and 1.35 removed the flag, so a kubelet of
// 1.35+ refuses to start with one left over from an older install. That
// one case we clean up, as kubeadm upgrade does.
func (s *Step) planFlagsEnv(h *host.Host, p *plan.Plan) error {
	if img, err := eksd.SandboxImage(s.Release, s.Mirror); err == nil {
		p.Notef("pod sandbox image %s is set in containerd's config (containerd step), not as a kubelet flag", img)
	}
	minor, ok := kubeMinor(s.Release.KubernetesVersion())
	if !ok || minor < 35 {
		return nil
	}
	old, err := h.FS.ReadText(FlagsEnv)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", FlagsEnv, err)
	}
	cleaned := podInfraRE.ReplaceAll(old, nil)
	if string(cleaned) == string(old) {
		return nil
	}
	c, err := plan.PlanFile(h, FlagsEnv, cleaned, 0)
	if err != nil {
		return err
	}
	if c != nil {
		c.Why = "kubelet " + s.Release.KubernetesVersion() + " has no " + podInfraFlag + " flag and would not start"
	}
	p.Add(c)
	return nil
}

// kubeMinor reads 36 from "v1.36.2".
func kubeMinor(v string) (int, bool) {
	parts := strings.Split(strings.TrimPrefix(v, "v"), ".")
	if len(parts) < 2 {
		return 0, false
	}
	n, err := strconv.Atoi(parts[1])
	return n, err == nil
}
