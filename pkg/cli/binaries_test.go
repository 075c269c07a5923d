package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/release/releasetest"
)

// TestOfflineBinariesFromManifestAndArtifacts is the air-gapped path: a
// release manifest file with checksums and a directory of binaries; the
// binaries are verified and installed, nothing is fetched, a re-run plans
// nothing, and a tampered binary is refused before anything changed.
func TestOfflineBinariesFromManifestAndArtifacts(t *testing.T) {
	bins := releasetest.Binaries()
	r := releasetest.Release(t, "1-36", 7, "https://distro.invalid", bins)
	dir := t.TempDir()
	manifest := filepath.Join(dir, "kubernetes-1-36-eks-7.yaml")
	if err := os.WriteFile(manifest, releasetest.Manifest(t, r), 0o644); err != nil {
		t.Fatal(err)
	}
	artifacts := filepath.Join(dir, "artifacts")
	for name, data := range bins {
		p := filepath.Join(artifacts, releasetest.Path(name, runtime.GOARCH))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	root := t.TempDir()
	args := []string{"--root", root, "bootstrap", "--only", "binaries", "--release-manifest", manifest, "--artifacts-dir", artifacts}
	code, out, stderr := run(t, "", args...)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	for name, data := range bins {
		got, err := os.ReadFile(filepath.Join(root, "usr/local/bin", name))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s not installed as given: %v", name, err)
		}
	}
	before := hosttest.HashTree(t, root)
	if code, out, _ := run(t, "", args...); code != ExitOK || !strings.Contains(out, "bootstrap: 0 change(s) applied") {
		t.Fatalf("re-run: exit %d\n%s", code, out)
	}
	if hosttest.HashTree(t, root) != before {
		t.Fatal("the converged re-run changed the root")
	}

	// A tampered kubelet in the artifacts: exit 2 and a fresh root untouched.
	os.WriteFile(filepath.Join(artifacts, releasetest.Path("kubelet", runtime.GOARCH)), []byte("evil"), 0o755)
	fresh := t.TempDir()
	before = hosttest.HashTree(t, fresh)
	code, _, stderr = run(t, "", "--root", fresh, "bootstrap", "--only", "binaries", "--release-manifest", manifest, "--artifacts-dir", artifacts)
	if code != ExitUsage || !strings.Contains(stderr, "kubelet") {
		t.Fatalf("tampered artifact: exit %d\n%s", code, stderr)
	}
	if hosttest.HashTree(t, fresh) != before {
		t.Fatal("a tampered artifact changed the root")
	}
}
