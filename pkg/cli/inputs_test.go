package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
)

// mkfifo makes a FIFO no one writes to: reading it, or opening it for
// reading without O_NONBLOCK, would wait for ever.
func mkfifo(t *testing.T, p string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// sparse makes an 8 GiB file that takes no space: read, it would take long.
func sparse(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(8 << 30); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestInputsAreBoundedRegularFiles: every file eksd-kata reads, given by
// the operator or found under the root, is refused unread when it is not
// a regular file or is too large: exit 2 naming it, the root unchanged.
func TestInputsAreBoundedRegularFiles(t *testing.T) {
	files := t.TempDir()
	fifo := mkfifo(t, filepath.Join(files, "fifo"))
	big := sparse(t, filepath.Join(files, "big.yaml"))
	tarball := kataTarball(t)
	sum := sha256.Sum256(tarball)
	goodSum := hex.EncodeToString(sum[:])
	tarPath := filepath.Join(files, "kata-static-3.21.0-amd64.tar.gz")
	if err := os.WriteFile(tarPath, tarball, 0o644); err != nil {
		t.Fatal(err)
	}
	boot := []string{"bootstrap", "--only", "host,containerd,kata", "--containerd-version", "2.4.2"}
	with := func(extra ...string) []string { return append(append([]string{}, boot...), extra...) }
	cases := []struct {
		name  string
		fifos []string // FIFOs under the root
		stdin string
		args  []string
		want  string
	}{
		{name: "config FIFO", args: with("--config", fifo), want: fifo + ": not a regular file (a FIFO)"},
		{name: "config directory", args: []string{"config", "validate", "-f", files}, want: files + ": not a regular file (a directory)"},
		{name: "config device", args: with("--config", "/dev/zero"), want: "/dev/zero: not a regular file (a device)"},
		{name: "config 8 GiB", args: with("--config", big), want: big + ": too large (8589934592 bytes, the limit is 1 MiB)"},
		{name: "config stdin too large", stdin: strings.Repeat("#", 1<<20+1), args: with("--config", "-"), want: "-: too large"},
		{name: "release manifest FIFO", args: with("--release-manifest", fifo), want: fifo + ": not a regular file"},
		{name: "release manifest 8 GiB", args: with("--release-manifest", big), want: big + ": too large (8589934592 bytes, the limit is 8 MiB)"},
		{name: "kata tarball FIFO", args: with("--install-kata", fifo, "--kata-sha256", goodSum), want: fifo + ": not a regular file"},
		{name: "kata checksum file FIFO", args: with("--install-kata", tarPath, "--kata-checksum-file", fifo), want: fifo + ": not a regular file"},
		{name: "images import FIFO", args: []string{"images", "import", fifo}, want: fifo + ": not a regular file"},
		{name: "images import directory", args: []string{"images", "import", files}, want: files + ": not a regular file (a directory)"},
		{name: "fstab FIFO", fifos: []string{"/etc/fstab"}, args: boot, want: "/etc/fstab: not a regular file (a FIFO)"},
		{name: "containerd config FIFO", fifos: []string{"/etc/containerd/config.toml"}, args: boot, want: "/etc/containerd/config.toml: not a regular file (a FIFO)"},
		{name: "sysctl file FIFO", fifos: []string{"/etc/sysctl.d/99-eksd-kata.conf"}, args: boot, want: "/etc/sysctl.d/99-eksd-kata.conf: not a regular file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			hosttest.WriteTree(t, root, map[string]string{"/etc/hostname": "node\n"})
			if len(tc.fifos) == 0 {
				hosttest.WriteTree(t, root, map[string]string{"/etc/fstab": "/dev/sda2 none swap sw 0 0\n"})
			}
			for _, p := range tc.fifos {
				mkfifo(t, filepath.Join(root, p))
			}
			before := hosttest.HashTree(t, root)
			code, out, stderr := run(t, tc.stdin, append([]string{"--root", root}, tc.args...)...)
			if code != ExitUsage || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d (want 2), stderr should name %q:\n%s%s", code, tc.want, out, stderr)
			}
			if hosttest.HashTree(t, root) != before {
				t.Fatal("bad input changed the root")
			}
		})
	}
}

// TestCheckReadsNoFIFO: check reads the host's files as bootstrap does, so
// a FIFO among them (a crafted image under --root) is passed over, not
// waited on for ever.
func TestCheckReadsNoFIFO(t *testing.T) {
	root := t.TempDir()
	hosttest.WriteTree(t, root, map[string]string{"/etc/fstab": "\n"})
	for _, p := range []string{"/etc/os-release", "/etc/hosts", "/etc/nsswitch.conf", "/var/lib/dpkg/status", "/opt/kata/share/defaults/kata-containers/configuration-qemu.toml"} {
		mkfifo(t, filepath.Join(root, p))
	}
	before := hosttest.HashTree(t, root)
	code, out, stderr := run(t, "", "--root", root, "check")
	if code == ExitUsage || !strings.Contains(out+stderr, "configuration-qemu.toml: not a regular file (a FIFO)") {
		t.Fatalf("exit %d, want a report that names the Kata configuration:\n%s%s", code, out, stderr)
	}
	if hosttest.HashTree(t, root) != before {
		t.Fatal("check changed the root")
	}
}
