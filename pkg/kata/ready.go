package kata

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// FixCommand is what installs Kata on a node and then applies what depends
// on it (containerd's runtimes, the RuntimeClasses, the node label).
func FixCommand() string {
	return "eksd-kata bootstrap --only kata,containerd,addons --install-kata " + Newest()
}

// Readiness says which configured hypervisors Kata can start VMs with on a
// host. /dev/kvm is not asked about: a node image is prepared without it.
type Readiness struct {
	Ready   []string  // in the configured order
	Missing []Missing // the others, in the configured order
}

// Missing is a hypervisor that is not ready, and the first thing it lacks.
type Missing struct {
	Hypervisor, Why string
}

// IsReady reports whether hv can be used.
func (r Readiness) IsReady(hv string) bool {
	for _, h := range r.Ready {
		if h == hv {
			return true
		}
	}
	return false
}

// Why says what the hypervisors that are not ready lack, each reason once.
func (r Readiness) Why() string {
	var order []string
	by := map[string][]string{}
	for _, m := range r.Missing {
		if _, ok := by[m.Why]; !ok {
			order = append(order, m.Why)
		}
		by[m.Why] = append(by[m.Why], m.Hypervisor)
	}
	out := make([]string, len(order))
	for i, why := range order {
		out[i] = fmt.Sprintf("%s: %s", strings.Join(by[why], ", "), why)
	}
	return strings.Join(out, "; ")
}

// Ready checks, for each hypervisor of k, the three files the containerd
// runtime kata-<hv> uses: its shim (containerd-shim-kata-<hv>-v2 where the
// release has one, else the generic one, as the containerd step chooses),
// its configuration, and the hypervisor binary that configuration names.
// With Kata disabled no hypervisor is ready.
func Ready(h *host.Host, k config.Kata) (Readiness, error) {
	var r Readiness
	if !k.Enabled {
		return r, nil
	}
	for _, hv := range k.Hypervisors {
		why, err := lacks(h, hv)
		if err != nil {
			return Readiness{}, err
		}
		if why == "" {
			r.Ready = append(r.Ready, hv)
		} else {
			r.Missing = append(r.Missing, Missing{hv, why})
		}
	}
	return r, nil
}

// lacks returns the first file hv lacks, "" when it has them all.
func lacks(h *host.Host, hv string) (string, error) {
	shim := path.Join(Dir, "bin", "containerd-shim-kata-"+hv+"-v2")
	ok, err := h.FS.Exists(shim)
	if err != nil {
		return "", err
	}
	if !ok {
		shim = path.Join(Dir, "bin", "containerd-shim-kata-v2")
		if ok, err := h.FS.Exists(shim); err != nil {
			return "", err
		} else if !ok {
			return "no " + shim, nil
		}
	}
	conf := path.Join(ConfigDir, "configuration-"+hv+".toml")
	data, err := h.FS.ReadText(conf)
	if errors.Is(err, fs.ErrNotExist) {
		return "no " + conf, nil
	}
	if err != nil {
		return "", err
	}
	bin := HypervisorPath(data)
	if bin == "" {
		return conf + " names no hypervisor path", nil
	}
	if ok, err := h.FS.Exists(bin); err != nil {
		return "", err
	} else if !ok {
		return fmt.Sprintf("hypervisor %s is missing", bin), nil
	}
	return "", nil
}
