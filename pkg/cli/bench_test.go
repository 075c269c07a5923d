package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
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
