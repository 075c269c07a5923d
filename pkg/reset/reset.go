// Package reset undoes what eksd-kata did to a host, as steps of the same
// plan-then-apply engine as bootstrap: kubeadm reset, stop the kubelet,
// then restore every file from the backup and remove the files we created.
// On a host with nothing to undo every plan is empty, so a re-run is a no-op.
package reset

import (
	"io"

	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
)

// Options shape a reset.
type Options struct {
	// InstallDir is where kubeadm was installed (host path); default /usr/local/bin.
	InstallDir string
	// ContainerdConfig is containerd's config.toml: containerd is restarted
	// when it is restored, so it drops our runtimes.
	ContainerdConfig string
	// Out shows kubeadm reset's output; nil: not shown.
	Out io.Writer
}

// Steps returns the steps of a reset, in order.
func Steps(o Options) []bootstrap.Step {
	return []bootstrap.Step{
		&KubeadmStep{InstallDir: o.InstallDir, Out: o.Out},
		&KubeletStep{},
		&RestoreStep{ContainerdConfig: o.ContainerdConfig},
	}
}
