package containerd

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// criPluginNames are the disabled_plugins entries that switch CRI off.
var criPluginNames = []string{"cri", criV2, criRuntime, criImages}

// Render merges our settings into an existing config.toml (nil or empty:
// a new file) for the containerd version in o. path is only used in
// messages. Render(Render(x).Data) returns the same bytes.
func Render(existing []byte, path string, o Options) (Result, error) {
	o, err := o.normalize()
	if err != nil {
		return Result{}, err
	}
	target, err := ConfigVersionFor(o.Version)
	if err != nil {
		return Result{}, err
	}
	doc, notes, err := load(existing, path, target)
	if err != nil {
		return Result{}, err
	}
	version, _ := fileVersion(doc, path)
	l := layoutFor(version)

	n, err := apply(doc, l, o, path)
	if err != nil {
		return Result{}, err
	}
	notes = append(notes, n...)
	notes = append(notes, importNotes(doc, l, target)...)
	var hostsDir string
	if len(o.InsecureHosts) > 0 {
		dir, n, err := setRegistryHosts(doc, l, path)
		if err != nil {
			return Result{}, err
		}
		hostsDir, notes = dir, append(notes, n...)
	}
	if isContainerd16(o.Version) {
		// Seen with Debian's 1.6.20 in TestRealDaemons; fixed in 1.7.
		notes = append(notes, fmt.Sprintf("containerd 1.6 ignores runtime_path when it starts a sandbox (containerd#8207): put the Kata shims on containerd's PATH too, e.g. /usr/local/bin/containerd-shim-kata-v2 -> %s/bin/containerd-shim-kata-v2", o.KataDir))
	}

	data, err := encode(doc)
	if err != nil {
		return Result{}, fmt.Errorf("%s: encode: %w", path, err)
	}
	return Result{Data: data, Notes: notes, ConfigVersion: version, HostsDir: hostsDir}, nil
}

// load decodes the existing file and brings it to the layout the installed
// containerd reads: version 1 -> 2, and 2 -> 3 for containerd 2.x.
func load(existing []byte, path string, target int) (table, []string, error) {
	var notes []string
	if c := countComments(existing); c > 0 {
		notes = append(notes, fmt.Sprintf("%s: %d comment(s) dropped: the file is re-encoded and the TOML encoder does not keep comments", path, c))
	}
	doc, err := decode(existing, path)
	if err != nil {
		return nil, nil, err
	}
	if len(doc) == 0 {
		return skeleton(target), notes, nil
	}
	from, err := fileVersion(doc, path)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case from > 4:
		return nil, nil, fmt.Errorf("%s: config version %d is newer than any containerd eksd-kata knows (up to 4)", path, from)
	case target == 2 && from >= 3:
		return nil, nil, fmt.Errorf("%s: config version %d is for containerd 2.x; the installed containerd reads version 2 only: restore its 1.x config or remove the file", path, from)
	}
	if from == 1 {
		if err := migrateV1(doc); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		notes = append(notes, fmt.Sprintf("%s: converted config version 1 (short plugin names such as plugins.cri) to version 2", path))
	}
	if target >= 3 && from <= 2 {
		if err := migrateV2(doc); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		notes = append(notes, fmt.Sprintf("%s: migrated config version 2 to 3 for containerd 2.x (CRI settings split into %s and %s, as containerd 2.x does in memory)", path, criRuntime, criImages))
		if reg, ok := lookup(doc, layoutFor(3).registry...); ok && deprecatedRegistry(reg) {
			notes = append(notes, fmt.Sprintf("%s: registry mirrors/configs/auths are deprecated in containerd 2.x and registry.configs.*.tls is ignored there: move them to hosts.toml files under registry.config_path (/etc/containerd/certs.d)", path))
		}
	}
	return doc, notes, nil
}

// apply writes what we own into doc.
func apply(doc table, l layout, o Options, path string) ([]string, error) {
	var notes []string
	if names, ok := stringList(doc["disabled_plugins"]); ok {
		kept := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return slices.Contains(criPluginNames, n) })
		if len(kept) != len(names) {
			doc["disabled_plugins"] = anyList(kept)
			notes = append(notes, "re-enabled the CRI plugin: removed it from disabled_plugins (Docker Engine's config disables it; kubelet and kubeadm need it)")
		}
	}
	ctd, err := ensure(doc, append(append([]string{}, l.cri...), "containerd")...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rts, err := ensure(ctd, "runtimes")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// katacli first, so that a removed one gets no migration note.
	if o.SkipKata {
		// Kata disabled: leave any Kata stanzas the file has alone.
	} else if o.KataCLI {
		if err := setKatacli(rts, o); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	} else if _, ok := rts["katacli"]; ok {
		delete(rts, "katacli")
		notes = append(notes, "removed runtime katacli: "+katacliNote)
	} else {
		notes = append(notes, "runtime katacli not written: "+katacliNote)
	}
	notes = append(notes, dropUntrusted(ctd, o)...)
	notes = append(notes, migrateRuncV1(ctd)...)
	if err := setRunc(rts, o); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !o.SkipKata {
		notes = append(notes, removeStaleKata(rts, o)...)
	}
	for _, h := range kataHandlers(o) {
		if o.SkipKata {
			break
		}
		if h.hv == "fc" && !devmapperReady(doc) {
			return nil, fmt.Errorf("%s: runtime %s (Firecracker) needs the devmapper snapshotter: add [plugins.%q] with pool_name = \"<thin pool>\" (and root_path, base_image_size) first, see kata-containers#12558", path, h.name, devmapperID)
		}
		if err := setKata(rts, o, h); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if h.hv == "fc" && l.cri[1] == criV2 && isContainerd16(o.Version) {
			notes = append(notes, fmt.Sprintf("runtime %s: containerd 1.6 ignores a per-runtime snapshotter (added in 1.7); upgrade containerd or set %s.containerd.snapshotter = \"devmapper\" for all pods", h.name, dotted(l.cri)))
		}
	}
	if o.SandboxImage != "" {
		t, err := ensure(doc, l.sandbox...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		t[l.sandboxKey] = o.SandboxImage
	}
	if o.RestrictOOMScoreAdj {
		t, err := ensure(doc, l.cri...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		t["restrict_oom_score_adj"] = true
	}
	if l.cri[1] != criV2 {
		if _, ok := lookup(doc, "plugins", criV2, "containerd"); ok {
			notes = append(notes, fmt.Sprintf("%s: plugins.%q.containerd is the version 2 layout; containerd 2.x ignores it in a version 3 file (runtimes belong under plugins.%q)", path, criV2, criRuntime))
		}
	}
	return notes, nil
}

func isContainerd16(v string) bool {
	major, minor, err := ParseVersion(v)
	return err == nil && major == 1 && minor == 6
}

// importNotes warns about drop-ins, which Render cannot see.
func importNotes(doc table, l layout, target int) []string {
	imports, _ := stringList(doc["imports"])
	if len(imports) == 0 {
		return nil
	}
	list := strings.Join(imports, ", ")
	if target == 2 {
		return []string{fmt.Sprintf("imports = [%s]: in containerd 1.6/1.7 a drop-in that defines [plugins.%q] replaces this file's whole CRI section, including the runtimes and sandbox image written here; keep CRI settings out of the drop-ins", list, criV2)}
	}
	return []string{fmt.Sprintf("imports = [%s]: containerd 2.x merges drop-ins over this file key by key; a drop-in that sets keys under %s overrides what is written here", list, dotted(l.cri))}
}

// encode writes doc with sorted keys and indented tables, like
// `containerd config default`; go-toml sorts map keys, so output is stable.
func encode(doc table) ([]byte, error) {
	var buf bytes.Buffer
	enc := toml.NewEncoder(&buf).SetIndentTables(true)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	out := buf.Bytes()
	if len(out) == 0 || out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return out, nil
}
