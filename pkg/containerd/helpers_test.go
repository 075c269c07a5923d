package containerd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/containerd/ctrtest"
)

const testPause = "public.ecr.aws/eks-distro/kubernetes/pause:3.10.2"

// testOptions are the options every real-daemon test can run with here:
// cgroupfs (no systemd) and restricted oom_score_adj (see FACTS.md).
func testOptions(version string) Options {
	o := DefaultOptions(version)
	o.SystemdCgroup = false
	o.RestrictOOMScoreAdj = true
	o.SandboxImage = testPause
	o.Hypervisors = []string{"qemu", "clh"}
	return o
}

// fixture is one existing config.toml of the merge table.
type fixture struct {
	name string
	data func(t *testing.T) []byte
}

func file(name string) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// configDefault runs `<bin> config default`: the real file a fresh install
// of that containerd would have.
func configDefault(bin func(testing.TB) string) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		b := bin(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, b, "config", "default").Output()
		if err != nil {
			t.Fatalf("%s config default: %v", b, err)
		}
		return out
	}
}

func fixtures() []fixture {
	return []fixture{
		{"none", func(*testing.T) []byte { return nil }},
		{"empty", func(*testing.T) []byte { return []byte("\n") }},
		{"default-1.6", configDefault(ctrtest.Containerd16)},
		{"default-2.x", configDefault(ctrtest.Containerd2)},
		{"docker", file("docker.toml")},
		{"user-runtimes", file("user-runtimes.toml")},
		{"imports", file("imports.toml")},
		{"v1-tutorial", file("v1-tutorial.toml")},
		{"v1-untrusted", file("v1-untrusted.toml")},
	}
}

// daemonVersion asks a containerd binary for its version.
func daemonVersion(t testing.TB, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", bin, err)
	}
	// "containerd github.com/containerd/containerd 1.6.20~ds1 <rev>"
	f := strings.Fields(string(out))
	if len(f) < 3 {
		t.Fatalf("%s --version: %q", bin, out)
	}
	return f[2]
}

func hasNote(notes []string, sub string) bool {
	for _, n := range notes {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}
