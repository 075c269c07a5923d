package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/release/releasetest"
)

// BenchmarkBootstrap compares a converged re-run (no-op) of the host and
// containerd steps with a first run over a fresh root, in the same run:
//
//	go test -run '^$' -bench Bootstrap ./pkg/cli
func BenchmarkBootstrap(b *testing.B) {
	args := func(root string) []string {
		return []string{"--root", root, "bootstrap", "--only", "host,containerd", "--containerd-version", "2.4.2"}
	}
	fresh := func(b *testing.B) string {
		root := b.TempDir()
		hosttest.WriteTree(b, root, map[string]string{"/etc/fstab": "UUID=1 / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n"})
		return root
	}
	runOnce := func(b *testing.B, root string) string {
		var out, errb bytes.Buffer
		if code := Main(context.Background(), args(root), strings.NewReader(""), &out, &errb); code != ExitOK {
			b.Fatalf("exit %d: %s", code, errb.String())
		}
		return out.String()
	}
	b.Run("first-run", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			root := fresh(b)
			b.StartTimer()
			runOnce(b, root)
		}
	})
	b.Run("noop-rerun", func(b *testing.B) {
		root := fresh(b)
		runOnce(b, root)
		for b.Loop() {
			if out := runOnce(b, root); !strings.Contains(out, "bootstrap: 0 change(s)") {
				b.Fatalf("not a no-op:\n%s", out)
			}
		}
	})
}

// BenchmarkFullBootstrapNoop is a second full bootstrap (every step, the
// node binaries from an artifacts dir verified against a manifest) over a
// converged root: the plan is empty; its wall time is the goal of < 0.3 s.
//
//	go test -run '^$' -bench FullBootstrapNoop ./pkg/cli
func BenchmarkFullBootstrapNoop(b *testing.B) {
	bins := releasetest.Binaries()
	dir := b.TempDir()
	manifest := filepath.Join(dir, "manifest.yaml")
	if err := os.WriteFile(manifest, releasetest.Manifest(b, releasetest.Release(b, "1-36", 7, "https://distro.invalid", bins)), 0o644); err != nil {
		b.Fatal(err)
	}
	for name, data := range bins {
		p := filepath.Join(dir, releasetest.Path(name, runtime.GOARCH))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, data, 0o755)
	}
	root := b.TempDir()
	hosttest.WriteTree(b, root, map[string]string{"/etc/fstab": "/swapfile none swap sw 0 0\n"})
	args := []string{"--root", root, "bootstrap", "--containerd-version", "2.4.2", "--ignore", "all",
		"--release-manifest", manifest, "--artifacts-dir", dir, "--node-name", "node-1", "--advertise-address", "192.0.2.10"}
	runOnce := func() string {
		var out, errb bytes.Buffer
		if code := Main(context.Background(), args, strings.NewReader(""), &out, &errb); code != ExitOK {
			b.Fatalf("exit %d: %s", code, errb.String())
		}
		return out.String()
	}
	runOnce()
	for b.Loop() {
		if out := runOnce(); !strings.Contains(out, "bootstrap: 0 change(s) applied in 10 step(s)") {
			b.Fatalf("not a no-op:\n%s", out)
		}
	}
}
