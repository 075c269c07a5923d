package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/kata"
	"github.com/eksd-kata/eksd-kata/pkg/kata/katatest"
)

// Kata by version, offline: the release's tarball comes from
// --artifacts-dir, verified, and Kata is pointed at the guest kernel given.
func TestInstallKataVersionOffline(t *testing.T) {
	dir := t.TempDir()
	tarball := katatest.Tarball(t, runtime.GOARCH, "zst")
	name := "kata-static-3.21.0-" + runtime.GOARCH + ".tar.zst"
	if err := os.WriteFile(filepath.Join(dir, name), tarball, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(tarball)
	root := t.TempDir()
	code, out, stderr := run(t, "", "--root", root, "bootstrap", "--only", "kata", "--install-kata", "3.21.0",
		"--kata-sha256", hex.EncodeToString(sum[:]), "--artifacts-dir", dir, "--kata-guest-kernel", "/opt/pvm/vmlinux")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	if !strings.Contains(out, "install Kata 3.21.0 from "+filepath.Join(dir, name)) {
		t.Errorf("output does not say what it installed:\n%s", out)
	}
	drop, err := os.ReadFile(filepath.Join(root, kata.KernelDropIn))
	if err != nil || !strings.Contains(string(drop), "kernel = '/opt/pvm/vmlinux'") {
		t.Fatalf("drop-in %q, %v", drop, err)
	}
}

// The help's example version is the newest eksd-kata carries: the help is
// a constant, so that no run reads the checksum table for it.
func TestInstallKataHelpNamesTheNewestRelease(t *testing.T) {
	if !strings.Contains(installKataHelp, "such as "+kata.Newest()+" ") {
		t.Fatalf("--install-kata help %q does not name %s", installKataHelp, kata.Newest())
	}
}
