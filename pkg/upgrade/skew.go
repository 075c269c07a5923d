// Package upgrade moves a node that bootstrap or join made to another
// EKS-D release, the way kubeadm upgrade does: one Kubernetes minor at a
// time, a node never newer than its control plane. It keeps the binaries
// it replaces, so that a failed upgrade can be rolled back, and records
// the node's new release at the end.
package upgrade

import (
	"fmt"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/noderecord"
	"k8s.io/apimachinery/pkg/util/version"
)

// Kind is what an upgrade does to the node's Kubernetes.
type Kind string

const (
	// Same: the node is recorded at the target already (a finished
	// upgrade, or one to resume whose record was not written yet).
	Same Kind = "none"
	// Patch: a newer release of the node's channel.
	Patch Kind = "patch"
	// Minor: the next Kubernetes minor.
	Minor Kind = "minor"
)

// Skew says what going from the recorded release to the target is, or
// refuses it as bad input (nothing has changed): a downgrade, a skipped
// minor or another major, naming both versions.
func Skew(from noderecord.Release, to *eksd.Release) (Kind, error) {
	have, err := version.ParseGeneric(from.KubernetesVersion)
	if err != nil {
		return "", badinput.Wrap(fmt.Errorf("%s: the node's Kubernetes version %q: %w", noderecord.Path, from.KubernetesVersion, err))
	}
	want, err := version.ParseGeneric(to.KubernetesVersion())
	if err != nil {
		return "", badinput.Wrap(fmt.Errorf("release %s: Kubernetes version %q: %w", to, to.KubernetesVersion(), err))
	}
	node := fmt.Sprintf("the node runs %s (Kubernetes %s)", from.Name, from.KubernetesVersion)
	target := fmt.Sprintf("%s (Kubernetes %s)", to, to.KubernetesVersion())
	older := compare(want, have) < 0 || (from.Channel == to.Channel() && to.Number() < from.Number)
	switch {
	case want.Major() != have.Major():
		return "", badinput.Wrap(fmt.Errorf("%s; %s is another major version: eksd-kata upgrades one minor at a time", node, target))
	case older:
		return "", badinput.Wrap(fmt.Errorf("%s; %s is older: upgrade does not downgrade (a failed upgrade is undone with eksd-kata upgrade --rollback)", node, target))
	case want.Minor() > have.Minor()+1:
		return "", badinput.Wrap(fmt.Errorf("%s; %s skips a minor: Kubernetes upgrades one minor at a time, to %s first (--release %s)",
			node, target, fmt.Sprintf("1.%d", have.Minor()+1), fmt.Sprintf("%d-%d", have.Major(), have.Minor()+1)))
	case want.Minor() == have.Minor()+1:
		return Minor, nil
	case from.Channel == to.Channel() && from.Number == to.Number():
		return Same, nil
	}
	return Patch, nil
}

// ControlPlane checks the target against the version the cluster's API
// server reports (its gitVersion, "v1.36.2-eks-1-36-7"). A node that is
// not the first control plane follows the control plane, never ahead of
// it; the first control plane takes the cluster to the target, never back.
func ControlPlane(to *eksd.Release, server string, first bool) error {
	cp, err := version.ParseGeneric(server)
	if err != nil {
		return fmt.Errorf("the API server's version %q: %w", server, err)
	}
	want, err := version.ParseGeneric(to.KubernetesVersion())
	if err != nil {
		return badinput.Wrap(fmt.Errorf("release %s: Kubernetes version %q: %w", to, to.KubernetesVersion(), err))
	}
	switch c := compare(want, cp); {
	case !first && c > 0:
		return badinput.Wrap(fmt.Errorf("a node is never newer than its control plane: the API server runs %s, %s is Kubernetes %s: upgrade the first control plane (the node bootstrap made) first",
			server, to, to.KubernetesVersion()))
	case first && c < 0:
		return badinput.Wrap(fmt.Errorf("the control plane runs %s already, newer than %s (Kubernetes %s): upgrade does not downgrade",
			server, to, to.KubernetesVersion()))
	}
	return nil
}

// compare orders versions by major, minor and patch alone: EKS-D's
// "-eks-1-36-7" is not a pre-release.
func compare(a, b *version.Version) int {
	for _, d := range [][2]uint{{a.Major(), b.Major()}, {a.Minor(), b.Minor()}, {a.Patch(), b.Patch()}} {
		switch {
		case d[0] < d[1]:
			return -1
		case d[0] > d[1]:
			return 1
		}
	}
	return 0
}
