package containerd

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/containerd/ctrtest"
)

// TestDropInDefiningCRI checks, with each real containerd, what the imports
// Note warns about: a drop-in that sets one CRI key. containerd 1.6
// replaces the main file's whole CRI section with it (our runtimes are
// gone); 2.x merges it key by key (our runtimes stay).
func TestDropInDefiningCRI(t *testing.T) {
	for _, dm := range daemons {
		t.Run(dm.name, func(t *testing.T) {
			bin := dm.bin(t)
			version := daemonVersion(t, bin)
			o := testOptions(version)
			r, err := Render(nil, "main", o)
			if err != nil {
				t.Fatal(err)
			}
			cri := `plugins."io.containerd.grpc.v1.cri"`
			if r.ConfigVersion >= 3 {
				cri = `plugins."io.containerd.cri.v1.runtime"`
			}
			dir := t.TempDir()
			dropIn := filepath.Join(dir, "50-log.toml")
			if err := os.WriteFile(dropIn, []byte("version = "+strconv.Itoa(r.ConfigVersion)+"\n["+cri+"]\n  max_container_log_line_size = 1024\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			main := filepath.Join(dir, "config.toml")
			data := append([]byte("imports = [\""+dropIn+"\"]\n"), r.Data...)
			if err := os.WriteFile(main, data, 0o600); err != nil {
				t.Fatal(err)
			}
			again, err := Render(data, main, o)
			if err != nil || !hasNote(again.Notes, "imports = [") {
				t.Fatalf("no imports note: %v %q", err, again.Notes)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			dump, err := ctrtest.ConfigDump(ctx, bin, main)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Inspect(dump)
			if err != nil {
				t.Fatal(err)
			}
			_, kept := s.Runtimes["kata"]
			if replaces := r.ConfigVersion == 2; kept == replaces {
				t.Errorf("containerd %s: kata runtime kept = %v after a CRI drop-in; the imports note says replaced = %v", version, kept, replaces)
			}
		})
	}
}

// TestFirecrackerSnapshotterInDump: the per-runtime snapshotter Render
// sets for kata-fc survives containerd 2.x's parser; containerd 1.6 drops
// it, which is what the Note for 1.6 says.
func TestFirecrackerSnapshotterInDump(t *testing.T) {
	for _, dm := range daemons {
		t.Run(dm.name, func(t *testing.T) {
			bin := dm.bin(t)
			version := daemonVersion(t, bin)
			o := testOptions(version)
			o.Hypervisors = []string{"fc"}
			r, err := Render(file("devmapper.toml")(t), "devmapper.toml", o)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "config.toml")
			if err := os.WriteFile(path, r.Data, 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			dump, err := ctrtest.ConfigDump(ctx, bin, path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Inspect(dump)
			if err != nil {
				t.Fatal(err)
			}
			ignored := hasNote(r.Notes, "ignores a per-runtime snapshotter")
			if got := s.Runtimes["kata-fc"].Snapshotter; (got == "devmapper") == ignored {
				t.Errorf("containerd %s: kata-fc snapshotter after dump = %q; note says ignored = %v", version, got, ignored)
			}
		})
	}
}
