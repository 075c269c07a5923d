package containerd

import (
	"bytes"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// checkOwned asserts the settings Render owns, read back with Inspect.
func checkOwned(t *testing.T, data []byte, o Options) Summary {
	t.Helper()
	s, err := Inspect(data)
	if err != nil {
		t.Fatalf("Inspect: %v\n%s", err, data)
	}
	want, _ := ConfigVersionFor(o.Version)
	if s.Version < want {
		t.Errorf("version = %d, want >= %d", s.Version, want)
	}
	if s.SandboxImage != o.SandboxImage {
		t.Errorf("sandbox image = %q, want %q", s.SandboxImage, o.SandboxImage)
	}
	if s.RestrictOOMScoreAdj != o.RestrictOOMScoreAdj {
		t.Errorf("restrict_oom_score_adj = %v", s.RestrictOOMScoreAdj)
	}
	for _, p := range s.DisabledPlugins {
		if slices.Contains(criPluginNames, p) {
			t.Errorf("CRI still disabled: %v", s.DisabledPlugins)
		}
	}
	runc := s.Runtimes["runc"]
	if runc.Type != runcV2 || runc.SystemdCgroup != o.SystemdCgroup {
		t.Errorf("runc = %+v", runc)
	}
	for _, h := range kataHandlers(o) {
		rt, ok := s.Runtimes[h.name]
		if !ok {
			t.Errorf("runtime %s missing; have %v", h.name, s.Runtimes)
			continue
		}
		if rt.ConfigPath != o.KataConfigPath(h.hv) || !slices.Contains(rt.PodAnnotations, kataAnnots) ||
			rt.PrivilegedWithoutHostDevices != o.KataPrivilegedWithoutHostDevices || !strings.HasPrefix(rt.Path, o.KataDir+"/bin/containerd-shim-kata-") {
			t.Errorf("runtime %s = %+v", h.name, rt)
		}
	}
	if _, ok := s.Runtimes["katacli"]; ok != o.KataCLI {
		t.Errorf("katacli present = %v, want %v", ok, o.KataCLI)
	}
	return s
}

func TestRenderTable(t *testing.T) {
	for _, version := range []string{"1.6.20", "1.7.28", "2.4.2"} {
		for _, f := range fixtures() {
			t.Run(version+"/"+f.name, func(t *testing.T) {
				existing := f.data(t)
				o := testOptions(version)
				o.SystemdCgroup = true
				r, err := Render(existing, "/etc/containerd/config.toml", o)
				if major, _, _ := ParseVersion(version); f.name == "default-2.x" && major == 1 {
					if err == nil || !strings.Contains(err.Error(), "config version 4 is for containerd 2.x") {
						t.Fatalf("rendering a 2.x file for %s: err = %v", version, err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Data) == 0 || r.Data[len(r.Data)-1] != '\n' {
					t.Error("output does not end in a newline")
				}
				s := checkOwned(t, r.Data, o)
				if s.Version != r.ConfigVersion {
					t.Errorf("Result.ConfigVersion = %d, file says %d", r.ConfigVersion, s.Version)
				}
				again, err := Render(r.Data, "/etc/containerd/config.toml", o)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(again.Data, r.Data) {
					t.Errorf("not idempotent:\n--- first\n%s\n--- second\n%s", r.Data, again.Data)
				}
				if hasNote(again.Notes, "migrated") || hasNote(again.Notes, "converted") || hasNote(again.Notes, "re-enabled") {
					t.Errorf("second render still changes things: %q", again.Notes)
				}
				if !hasNote(r.Notes, "katacli not written") && !hasNote(r.Notes, "removed runtime katacli") {
					t.Errorf("no katacli note: %q", r.Notes)
				}
			})
		}
	}
}

func TestRenderNotes(t *testing.T) {
	cases := []struct {
		fixture, version string
		want             []string
	}{
		{"docker", "1.6.20", []string{"comment(s) dropped", "converted config version 1", "re-enabled the CRI plugin"}},
		{"docker", "2.4.2", []string{"converted config version 1", "migrated config version 2 to 3", "re-enabled the CRI plugin"}},
		{"user-runtimes", "1.6.20", []string{"runtime runc: migrated runtime_type io.containerd.runc.v1", "comment(s) dropped"}},
		{"imports", "1.6.20", []string{"replaces this file's whole CRI section", "containerd 1.6 ignores runtime_path"}},
		{"imports", "2.4.2", []string{"merges drop-ins over this file key by key"}},
		{"v1-tutorial", "1.6.20", []string{"removed runtime katacli", "converted config version 1"}},
	}
	for _, c := range cases {
		t.Run(c.fixture+"/"+c.version, func(t *testing.T) {
			r, err := Render(file(c.fixture+".toml")(t), c.fixture, testOptions(c.version))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !hasNote(r.Notes, w) {
					t.Errorf("no note %q in %q", w, r.Notes)
				}
			}
		})
	}
}

// TestUserSettingsSurvive: other runtimes, registry mirrors and unrelated
// plugin settings keep their values, in version 2 and after the move to 3.
func TestUserSettingsSurvive(t *testing.T) {
	orig, err := decode(file("user-runtimes.toml")(t), "orig")
	if err != nil {
		t.Fatal(err)
	}
	cri := orig["plugins"].(table)[criV2].(table)
	origRuntimes := cri["containerd"].(table)["runtimes"].(table)
	for _, c := range []struct {
		version  string
		runtimes []string
		registry []string
		logLine  []string
	}{
		{"1.6.20", []string{"plugins", criV2, "containerd", "runtimes"}, []string{"plugins", criV2, "registry"}, []string{"plugins", criV2}},
		{"2.4.2", []string{"plugins", criRuntime, "containerd", "runtimes"}, []string{"plugins", criImages, "registry"}, []string{"plugins", criRuntime}},
	} {
		t.Run(c.version, func(t *testing.T) {
			r, err := Render(file("user-runtimes.toml")(t), "x", testOptions(c.version))
			if err != nil {
				t.Fatal(err)
			}
			doc, err := decode(r.Data, "out")
			if err != nil {
				t.Fatal(err)
			}
			rts, _ := lookup(doc, c.runtimes...)
			for _, name := range []string{"nvidia", "runsc"} {
				if !reflect.DeepEqual(rts[name], origRuntimes[name]) {
					t.Errorf("runtime %s changed:\n got %#v\nwant %#v", name, rts[name], origRuntimes[name])
				}
			}
			reg, _ := lookup(doc, c.registry...)
			if !reflect.DeepEqual(reg, cri["registry"]) {
				t.Errorf("registry changed:\n got %#v\nwant %#v", reg, cri["registry"])
			}
			if runcOpts, _ := lookup(doc, append(c.runtimes, "runc", "options")...); runcOpts["NoPivotRoot"] != false {
				t.Errorf("runc user option lost: %#v", runcOpts)
			}
			if l, _ := lookup(doc, c.logLine...); l["max_container_log_line_size"] != int64(32768) {
				t.Errorf("max_container_log_line_size lost: %#v", l)
			}
			if gc, _ := lookup(doc, "plugins", "io.containerd.gc.v1.scheduler"); gc["pause_threshold"] != 0.05 {
				t.Errorf("gc scheduler lost: %#v", gc)
			}
			if doc["oom_score"] != int64(-999) {
				t.Errorf("oom_score lost: %#v", doc["oom_score"])
			}
		})
	}
}

func TestRenderMalformed(t *testing.T) {
	_, err := Render(file("malformed.toml")(t), "testdata/malformed.toml", testOptions("1.6.20"))
	if err == nil || !regexp.MustCompile(`^testdata/malformed\.toml:5:\d+: invalid TOML`).MatchString(err.Error()) {
		t.Fatalf("err = %v, want path:line:col", err)
	}
}

func TestKataShimsAndKatacli(t *testing.T) {
	o := testOptions("2.4.2")
	o.KataShims = map[string]bool{"clh": true}
	o.KataCLI = true
	r, err := Render(nil, "x", o)
	if err != nil {
		t.Fatal(err)
	}
	s := checkOwned(t, r.Data, o)
	if got := s.Runtimes["kata-clh"]; got.Type != "io.containerd.kata-clh.v2" || got.Path != "/opt/kata/bin/containerd-shim-kata-clh-v2" {
		t.Errorf("kata-clh = %+v", got)
	}
	if got := s.Runtimes["kata-qemu"]; got.Type != kataType || got.Path != "/opt/kata/bin/containerd-shim-kata-v2" {
		t.Errorf("kata-qemu = %+v", got)
	}
	if got := s.Runtimes["katacli"]; got.Type != runcV2 || got.BinaryName != "/opt/kata/bin/kata-runtime" {
		t.Errorf("katacli = %+v", got)
	}
	if hasNote(r.Notes, "katacli") {
		t.Errorf("katacli note although asked for: %q", r.Notes)
	}
}

func TestFirecrackerNeedsDevmapper(t *testing.T) {
	o := testOptions("1.7.28")
	o.Hypervisors = []string{"qemu", "fc"}
	_, err := Render(nil, "/etc/containerd/config.toml", o)
	if err == nil || !strings.Contains(err.Error(), `[plugins."io.containerd.snapshotter.v1.devmapper"] with pool_name`) {
		t.Fatalf("err = %v, want the devmapper key named", err)
	}
	r, err := Render(file("devmapper.toml")(t), "x", o)
	if err != nil {
		t.Fatal(err)
	}
	s := checkOwned(t, r.Data, o)
	if s.Runtimes["kata-fc"].Snapshotter != "devmapper" || s.Runtimes["kata-qemu"].Snapshotter != "" {
		t.Errorf("snapshotters: %+v", s.Runtimes)
	}
	o.Version = "1.6.20"
	if r, err = Render(file("devmapper.toml")(t), "x", o); err != nil || !hasNote(r.Notes, "containerd 1.6 ignores a per-runtime snapshotter") {
		t.Errorf("1.6: err %v notes %q", err, r.Notes)
	}
}

func TestConfigVersionFor(t *testing.T) {
	for in, want := range map[string]int{"1.6.20": 2, "1.6.20~ds1": 2, "v1.7.28": 2, "2.0.0": 3, "v2.4.2": 3, "2.4.2+unknown": 3, "1.5.9": 0, "0.2": 0, "3.0.0": 0, "latest": 0} {
		got, err := ConfigVersionFor(in)
		if got != want || (want == 0) != (err != nil) {
			t.Errorf("ConfigVersionFor(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ConfigVersionFor("1.5.9"); err == nil || !strings.Contains(err.Error(), "1.6 or newer") {
		t.Errorf("1.5 error gives no reason: %v", err)
	}
}

func TestV3FileWithV2Layout(t *testing.T) {
	in := []byte("version = 3\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.foo]\nruntime_type = \"x\"\n")
	r, err := Render(in, "x", testOptions("2.1.0"))
	if err != nil {
		t.Fatal(err)
	}
	if !hasNote(r.Notes, "containerd 2.x ignores it") {
		t.Errorf("notes %q", r.Notes)
	}
}

// A hypervisor taken out of spec.kata loses its runtime when the stanza is
// still the one we wrote; one edited by hand stays, with a note; for both
// config layouts.
func TestStaleKataRuntimesRemoved(t *testing.T) {
	for _, version := range []string{"1.7.28", "2.4.2"} {
		o := testOptions(version)
		o.Hypervisors = []string{"qemu", "clh"}
		first, err := Render(nil, "x", o)
		if err != nil {
			t.Fatal(err)
		}
		o.Hypervisors = []string{"qemu"}
		r, err := Render(first.Data, "x", o)
		if err != nil {
			t.Fatal(err)
		}
		s := checkOwned(t, r.Data, o)
		if _, ok := s.Runtimes["kata-clh"]; ok || !hasNote(r.Notes, "removed runtime kata-clh: spec.kata no longer lists clh") {
			t.Errorf("%s: kata-clh still there (%v) or no note: %q", version, s.Runtimes["kata-clh"], r.Notes)
		}
		for _, keep := range []string{"kata", "kata-qemu", "runc"} {
			if _, ok := s.Runtimes[keep]; !ok {
				t.Errorf("%s: runtime %s removed", version, keep)
			}
		}

		// Edited by hand: kept.
		edited := bytes.Replace(first.Data, []byte("runtimes.kata-qemu]\n"), []byte("runtimes.kata-qemu]\n          cni_conf_dir = '/etc/cni/kata'\n"), 1)
		if bytes.Equal(edited, first.Data) {
			t.Fatal("the fixture edit did not apply")
		}
		o.Hypervisors = []string{"clh"}
		if r, err = Render(edited, "x", o); err != nil {
			t.Fatal(err)
		}
		s = checkOwned(t, r.Data, o)
		if _, ok := s.Runtimes["kata-qemu"]; !ok || !hasNote(r.Notes, "runtime kata-qemu kept: spec.kata no longer lists qemu, but the stanza is not the one eksd-kata writes") {
			t.Errorf("%s: edited kata-qemu removed, or no note: %q", version, r.Notes)
		}
	}
}

// With Kata disabled the untrusted_workload_runtime goes too (it runs
// nothing that works), and the note names no RuntimeClass eksd-kata will
// not apply.
func TestUntrustedWorkloadRuntimeWithoutKata(t *testing.T) {
	o := testOptions("2.4.2")
	o.SkipKata = true
	r, err := Render(file("v1-untrusted.toml")(t), "x", o)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(r.Data, []byte("untrusted_workload_runtime")) {
		t.Errorf("stanza kept:\n%s", r.Data)
	}
	if !hasNote(r.Notes, "untrusted_workload_runtime: deprecated since containerd 1.2") || !hasNote(r.Notes, "Kata is disabled in the node config") || hasNote(r.Notes, "runtimeClassName") {
		t.Errorf("notes %q", r.Notes)
	}
}
