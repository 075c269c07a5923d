package containerd

import (
	"bytes"
	"fmt"
	"path"
	"slices"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/pelletier/go-toml/v2"
)

const (
	runcV1      = "io.containerd.runc.v1"
	runcV2      = "io.containerd.runc.v2"
	kataType    = "io.containerd.kata.v2"
	kataAnnots  = "io.katacontainers.*"
	katacliNote = "katacli needs Kata 1.x: kata-runtime of Kata 2/3 has no OCI create/start verbs; pods use the kata handlers (shim v2) instead"
)

// migrateRuncV1 rewrites every runtime on the removed runc.v1 shim (gone in
// containerd 2.0) to runc.v2, which takes the same options.
func migrateRuncV1(ctd table) []string {
	var notes []string
	check := func(name string, rt table) {
		if rt["runtime_type"] == runcV1 {
			rt["runtime_type"] = runcV2
			notes = append(notes, fmt.Sprintf("runtime %s: migrated runtime_type %s to %s (runc.v1 was removed in containerd 2.0)", name, runcV1, runcV2))
		}
	}
	if rt, ok := ctd["default_runtime"].(table); ok {
		check("default_runtime", rt)
	}
	if rts, ok := ctd["runtimes"].(table); ok {
		for _, name := range sortedKeys(rts) {
			if rt, ok := rts[name].(table); ok {
				check(name, rt)
			}
		}
	}
	return notes
}

// dropUntrusted removes untrusted_workload_runtime from the CRI plugin's
// containerd table: deprecated since containerd 1.2, ignored since 2.0, and
// on 1.x the tutorial's one runs kata-runtime as an OCI runtime, which Kata
// 2/3 is not. A RuntimeClass picks Kata instead. Kata disabled or not, the
// stanza does nothing that works.
func dropUntrusted(ctd table, o Options) []string {
	if _, ok := ctd["untrusted_workload_runtime"]; !ok {
		return nil
	}
	delete(ctd, "untrusted_workload_runtime")
	instead := fmt.Sprintf("set runtimeClassName: %s instead, the RuntimeClass eksd-kata applies for runtimes.%s", o.KataHandler, o.KataHandler)
	if o.SkipKata {
		instead = "need a RuntimeClass for a Kata runtime under runtimes instead (Kata is disabled in the node config: eksd-kata writes none)"
	}
	return []string{"removed the CRI plugin's containerd.untrusted_workload_runtime: deprecated since containerd 1.2 and removed in 2.0, which ignores it; pods that used it (annotation io.kubernetes.cri.untrusted-workload) " + instead}
}

func setRunc(rts table, o Options) error {
	opts, err := runcV2Options(rts, "runc")
	if err != nil {
		return err
	}
	opts["SystemdCgroup"] = o.SystemdCgroup
	return nil
}

// runcV2Options makes runtime name a runc.v2 one and returns its options
// table, keeping every other key the user set.
func runcV2Options(rts table, name string) (table, error) {
	rt, err := ensure(rts, name)
	if err != nil {
		return nil, err
	}
	rt["runtime_type"] = runcV2
	return ensure(rt, "options")
}

// kataHandler is one Kata runtime we write.
type kataHandler struct {
	name string
	hv   string
	shim bool // a containerd-shim-kata-<hv>-v2 exists
}

func kataHandlers(o Options) []kataHandler {
	hs := []kataHandler{{name: o.KataHandler, hv: o.defaultHypervisor()}}
	for _, hv := range o.Hypervisors {
		hs = append(hs, kataHandler{name: "kata-" + hv, hv: hv, shim: o.KataShims[hv]})
	}
	return hs
}

// setKata writes the keys kata-deploy writes; user keys in the stanza stay.
func setKata(rts table, o Options, h kataHandler) error {
	rt, err := ensure(rts, h.name)
	if err != nil {
		return err
	}
	shim := "containerd-shim-kata-v2"
	rt["runtime_type"] = kataType
	if h.shim {
		shim = "containerd-shim-kata-" + h.hv + "-v2"
		rt["runtime_type"] = "io.containerd.kata-" + h.hv + ".v2"
	}
	// runtime_path: the kata-static tarball does not put its shims on PATH.
	rt["runtime_path"] = path.Join(o.KataDir, "bin", shim)
	rt["privileged_without_host_devices"] = o.KataPrivilegedWithoutHostDevices
	annots, _ := stringList(rt["pod_annotations"])
	if !slices.Contains(annots, kataAnnots) {
		annots = append(annots, kataAnnots)
	}
	rt["pod_annotations"] = anyList(annots)
	if h.hv == "fc" {
		// Firecracker has no virtio-fs: it needs block devices from devmapper.
		rt["snapshotter"] = "devmapper"
	}
	opts, err := ensure(rt, "options")
	if err != nil {
		return err
	}
	opts["ConfigPath"] = o.KataConfigPath(h.hv)
	return nil
}

// removeStaleKata deletes the runtime kata-<hv> of a hypervisor that is
// no longer asked for, when the stanza is exactly what setKata writes
// (ours, untouched); one edited by hand stays, with a note. Like
// kata-deploy's reconcile: only the stanzas it owns.
func removeStaleKata(rts table, o Options) []string {
	var notes []string
	for _, hv := range config.Hypervisors {
		name := "kata-" + hv
		have, ok := rts[name].(table)
		if !ok || slices.Contains(o.Hypervisors, hv) || name == o.KataHandler {
			continue
		}
		ours := table{}
		if err := setKata(ours, o, kataHandler{name: name, hv: hv, shim: o.KataShims[hv]}); err != nil || !sameTOML(have, ours[name]) {
			notes = append(notes, fmt.Sprintf("runtime %s kept: spec.kata no longer lists %s, but the stanza is not the one eksd-kata writes (edited?); remove it yourself if nothing uses it", name, hv))
			continue
		}
		delete(rts, name)
		notes = append(notes, fmt.Sprintf("removed runtime %s: spec.kata no longer lists %s", name, hv))
	}
	return notes
}

// sameTOML compares two values as TOML text, whatever Go types hold them.
func sameTOML(a, b any) bool {
	x, errA := toml.Marshal(a)
	y, errB := toml.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(x, y)
}

// devmapperReady tells whether the devmapper snapshotter has a thin pool.
func devmapperReady(doc table) bool {
	dm, ok := lookup(doc, "plugins", devmapperID)
	if !ok {
		return false
	}
	pool, _ := dm["pool_name"].(string)
	return pool != ""
}

func setKatacli(rts table, o Options) error {
	opts, err := runcV2Options(rts, "katacli")
	if err != nil {
		return err
	}
	opts["BinaryName"] = path.Join(o.KataDir, "bin", "kata-runtime")
	return nil
}
