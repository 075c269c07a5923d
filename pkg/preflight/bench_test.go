package preflight

import (
	"context"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// BenchmarkCheck runs the whole preflight on this machine, live probes
// included, as `eksd-kata check` does (without process start-up).
func BenchmarkCheck(b *testing.B) {
	h, err := host.New("/")
	if err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	for b.Loop() {
		rep := Run(context.Background(), NewEnv(h, cfg), All(), nil)
		if len(rep.Checks) == 0 {
			b.Fatal("no results")
		}
	}
}
