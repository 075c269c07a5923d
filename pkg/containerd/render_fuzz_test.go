package containerd

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// fuzzVersions are the containerd versions the fuzz target renders for:
// config version 2 (1.6, 1.7) and 3 (2.x).
var fuzzVersions = []string{"1.6.20", "1.7.28", "2.2.1"}

// fuzzOptions turns the bits of flags into the options the containerd
// step can pass, so that every branch of apply is reached.
func fuzzOptions(version string, flags uint8) Options {
	o := DefaultOptions(version)
	o.SkipKata = flags&1 != 0
	o.KataCLI = flags&2 != 0
	if flags&4 != 0 {
		o.SandboxImage = testPause
	}
	o.RestrictOOMScoreAdj = flags&8 != 0
	if flags&16 != 0 {
		o.InsecureHosts = []string{"registry.local:5000"}
	}
	if flags&32 != 0 {
		o.Hypervisors = []string{"clh", "fc"}
		o.KataShims = map[string]bool{"clh": true}
	}
	o.SystemdCgroup = flags&64 == 0
	if flags&128 != 0 {
		o.KataHandler = "kata-qemu"
	}
	return o
}

// FuzzContainerdConfig renders arbitrary existing config.toml files for
// each containerd version: Render and Inspect never panic, and what Render
// writes is TOML with the runc runtime that renders to itself again.
func FuzzContainerdConfig(f *testing.F) {
	files, err := filepath.Glob("testdata/*.toml")
	if err != nil || len(files) == 0 {
		f.Fatalf("no testdata/*.toml: %v", err)
	}
	var seeds [][]byte
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	// What Render writes itself: a version 2 and a version 3 file.
	for _, v := range []string{"1.7.28", "2.2.1"} {
		r, err := Render(nil, "config.toml", fuzzOptions(v, 4|16))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, r.Data)
	}
	seeds = append(seeds, nil, []byte("version = 3\n"), []byte("version = 5\n"), []byte("version = \"2\"\n[plugins]\ncri = 1\n"))
	for i, data := range seeds {
		for v := range fuzzVersions {
			f.Add(data, uint8(v), uint8(i*37))
		}
	}
	f.Fuzz(func(t *testing.T, existing []byte, version, flags uint8) {
		_, _ = Inspect(existing)
		o := fuzzOptions(fuzzVersions[int(version)%len(fuzzVersions)], flags)
		r, err := Render(existing, "config.toml", o)
		if err != nil {
			return
		}
		var doc map[string]any
		if err := toml.Unmarshal(r.Data, &doc); err != nil {
			t.Fatalf("output is not TOML: %v\n%s", err, r.Data)
		}
		runc, ok := lookup(doc, append(layoutFor(r.ConfigVersion).runtimes(), "runc")...)
		if !ok || runc["runtime_type"] != runcV2 {
			t.Fatalf("output has no runc runtime %s:\n%s", runcV2, r.Data)
		}
		again, err := Render(r.Data, "config.toml", o)
		if err != nil {
			t.Fatalf("rendering its own output: %v\n%s", err, r.Data)
		}
		if !bytes.Equal(again.Data, r.Data) || again.ConfigVersion != r.ConfigVersion {
			t.Fatalf("not idempotent:\n%s\n---\n%s", r.Data, again.Data)
		}
	})
}
