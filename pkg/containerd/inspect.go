package containerd

import "maps"

// Runtime is one CRI runtime as a config file declares it.
type Runtime struct {
	Type                         string
	Path                         string
	ConfigPath                   string // options.ConfigPath (Kata)
	BinaryName                   string // options.BinaryName (runc shim)
	SystemdCgroup                bool
	Snapshotter                  string
	PodAnnotations               []string
	PrivilegedWithoutHostDevices bool
}

// Summary is what a config file (ours, or `containerd config dump`) says
// about the settings we own.
type Summary struct {
	Version             int
	SandboxImage        string
	RestrictOOMScoreAdj bool
	DisabledPlugins     []string
	Imports             []string
	Runtimes            map[string]Runtime
}

// Inspect reads back the settings we own from any config version, e.g.
// the output of `containerd config dump`. It is the check side of Render.
func Inspect(data []byte) (Summary, error) {
	doc, err := decode(data, "config")
	if err != nil {
		return Summary{}, err
	}
	v, err := fileVersion(doc, "config")
	if err != nil {
		return Summary{}, err
	}
	if v == 1 {
		if err := migrateV1(doc); err != nil {
			return Summary{}, err
		}
	}
	l := layoutFor(v)
	s := Summary{Version: v, Runtimes: map[string]Runtime{}}
	s.DisabledPlugins, _ = stringList(doc["disabled_plugins"])
	s.Imports, _ = stringList(doc["imports"])
	if t, ok := lookup(doc, l.sandbox...); ok {
		s.SandboxImage, _ = t[l.sandboxKey].(string)
	}
	if t, ok := lookup(doc, l.cri...); ok {
		s.RestrictOOMScoreAdj, _ = t["restrict_oom_score_adj"].(bool)
	}
	rts, _ := lookup(doc, l.runtimes()...)
	for name, v := range rts {
		rt, ok := v.(table)
		if !ok {
			continue
		}
		var r Runtime
		r.Type, _ = rt["runtime_type"].(string)
		r.Path, _ = rt["runtime_path"].(string)
		r.Snapshotter, _ = rt["snapshotter"].(string)
		r.PrivilegedWithoutHostDevices, _ = rt["privileged_without_host_devices"].(bool)
		r.PodAnnotations, _ = stringList(rt["pod_annotations"])
		if opts, ok := rt["options"].(table); ok {
			r.ConfigPath, _ = opts["ConfigPath"].(string)
			r.BinaryName, _ = opts["BinaryName"].(string)
			r.SystemdCgroup, _ = opts["SystemdCgroup"].(bool)
		}
		s.Runtimes[name] = r
	}
	return s, nil
}

// RuntimesFromDump maps runtime names to runtime_type in a config or
// `containerd config dump` output.
func RuntimesFromDump(data []byte) (map[string]string, error) {
	s, err := Inspect(data)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(s.Runtimes))
	for name, r := range maps.All(s.Runtimes) {
		out[name] = r.Type
	}
	return out, nil
}
