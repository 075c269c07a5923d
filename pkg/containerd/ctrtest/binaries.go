package ctrtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// EnvContainerd2 names an absolute path to a containerd 2.x binary.
const EnvContainerd2 = "EKSD_KATA_CONTAINERD2"

// RequireRoot skips t unless it runs as root: containerd needs it.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: containerd mounts snapshots and runs runc (run the tests as root)")
	}
}

// Containerd16 returns Debian's containerd from PATH or skips t.
func Containerd16(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("containerd")
	if err != nil {
		t.Skip("containerd not on PATH: run scripts/test-prereqs.sh (apt-get install containerd runc)")
	}
	return bin
}

// Containerd2 returns the containerd 2.x binary from $EKSD_KATA_CONTAINERD2
// or <repo>/.cache/bin/containerd2, or skips t.
func Containerd2(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(EnvContainerd2); p != "" {
		if !filepath.IsAbs(p) {
			t.Fatalf("%s=%q: want an absolute path", EnvContainerd2, p)
		}
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s: %v", EnvContainerd2, err)
		}
		return p
	}
	root, err := RepoRoot()
	if err != nil {
		t.Skipf("containerd 2.x: %v", err)
	}
	p := filepath.Join(root, ".cache", "bin", "containerd2")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("containerd 2.x not built: run scripts/test-prereqs.sh or set %s (%v)", EnvContainerd2, err)
	}
	return p
}

// RequireRunc skips t unless runc and the runc shim are on PATH.
func RequireRunc(t testing.TB) {
	t.Helper()
	for _, b := range []string{"runc", "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("%s not on PATH: run scripts/test-prereqs.sh (apt-get install containerd runc)", b)
		}
	}
}

// RepoRoot walks up from the working directory to the go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
