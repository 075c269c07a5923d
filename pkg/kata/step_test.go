package kata

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/artifacts"
	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/kata/katatest"
)

const qemuConf = katatest.QemuConf

// kataStatic is a kata-static tarball for this machine's architecture,
// compressed as the release of that era is (xz up to 3.20, zstd from
// 3.21), with extra entries.
func kataStatic(t *testing.T, compress string, extra ...tar.Header) []byte {
	return katatest.Tarball(t, runtime.GOARCH, compress, extra...)
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestMissingKataIsLeftToTheOperator: the run goes on (runc pods work),
// and the plan says what is missing and how to install it.
func TestMissingKataIsLeftToTheOperator(t *testing.T) {
	h := hosttest.NewTestHost(t, "")
	p, err := (&Step{Config: config.Default()}).Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() || len(p.Unsolved) != 1 || !strings.Contains(p.Unsolved[0].What, "no /opt/kata/bin/containerd-shim-kata-v2") || !strings.Contains(p.Unsolved[0].Remedy, "--install-kata") {
		t.Fatalf("plan %v unsolved %v", p.Summaries(), p.Unsolved)
	}
}

func TestInstallVerifiedTarball(t *testing.T) {
	for _, compress := range []string{"zst", "xz"} {
		t.Run(compress, func(t *testing.T) {
			tarball := kataStatic(t, compress)
			file := filepath.Join(t.TempDir(), "kata-static-3.21.0-amd64.tar."+compress)
			if err := os.WriteFile(file, tarball, 0o644); err != nil {
				t.Fatal(err)
			}
			h := hosttest.NewTestHost(t, "")
			s := &Step{Config: config.Default(), Install: file, SHA256: sum(tarball)}
			p, err := s.Plan(context.Background(), h)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"install Kata from " + file + " (sha256 " + sum(tarball)[:12] + "…) into /opt/kata", "link /usr/local/bin/containerd-shim-kata-v2 -> /opt/kata/bin/containerd-shim-kata-v2"}
			if got := p.Summaries(); !slices.Equal(got, want) {
				t.Fatalf("plan %v, want %v", got, want)
			}
			if err := p.Apply(context.Background(), h); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(filepath.Join(h.Root(), "opt/kata/bin/qemu-system-x86_64")); string(b) != string(katatest.ELF(t, runtime.GOARCH)) {
				t.Fatalf("qemu = %q", b)
			}
			p2, err := s.Plan(context.Background(), h)
			if err != nil {
				t.Fatal(err)
			}
			if !p2.Empty() || len(p2.Notes) != 0 || len(p2.Unsolved) != 0 {
				t.Fatalf("re-plan %v notes %v unsolved %v", p2.Summaries(), p2.Notes, p2.Unsolved)
			}
		})
	}
}

func TestInstallRefusesUnverified(t *testing.T) {
	tarball := kataStatic(t, "zst")
	dir := t.TempDir()
	file := filepath.Join(dir, "kata-static-3.21.0-amd64.tar.zst")
	os.WriteFile(file, tarball, 0o644)
	os.WriteFile(filepath.Join(dir, "bad.tar.zst"), []byte("not a tarball"), 0o644)
	os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(sum(tarball)+"  other.tar.zst\n"), 0o644)
	cases := map[string]*Step{
		"no checksum":        {Install: file},
		"wrong checksum":     {Install: file, SHA256: strings.Repeat("ab", 32)},
		"malformed checksum": {Install: file, SHA256: "abc"},
		"not in sums file":   {Install: file, ChecksumFile: filepath.Join(dir, "SHA256SUMS")},
		"missing file":       {Install: filepath.Join(dir, "nope.tar.zst"), SHA256: sum(tarball)},
		"not a tarball":      {Install: filepath.Join(dir, "bad.tar.zst"), SHA256: sum([]byte("not a tarball"))},
		"plain http":         {Install: "http://example.com/kata.tar.zst", SHA256: sum(tarball)},
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			s.Config = config.Default()
			h := hosttest.NewTestHost(t, "")
			_, err := s.Plan(context.Background(), h)
			var in *badinput.Error
			if !errors.As(err, &in) {
				t.Fatalf("err = %v, want an input error", err)
			}
		})
	}
	// The sums file, when it names the tarball, is enough.
	os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(sum(tarball)+" *kata-static-3.21.0-amd64.tar.zst\n"), 0o644)
	s := &Step{Config: config.Default(), Install: file, ChecksumFile: filepath.Join(dir, "SHA256SUMS")}
	if _, err := s.Plan(context.Background(), hosttest.NewTestHost(t, "")); err != nil {
		t.Fatal(err)
	}
}

// A tarball with the right checksum whose links lead out of /opt/kata is
// bad input: a local one is refused while planning, a downloaded one as it
// is unpacked, and neither changes a file.
func TestInstallRefusesATarballThatEscapes(t *testing.T) {
	base := t.TempDir()
	root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	hosttest.WriteTree(t, base, map[string]string{"/outside/secret": "secret", "/root/etc/hostname": "node"})
	h := hosttest.NewTestHost(t, root)
	step := func(tarball []byte) *Step {
		file := filepath.Join(t.TempDir(), "kata-static-3.21.0-amd64.tar.zst")
		if err := os.WriteFile(file, tarball, 0o644); err != nil {
			t.Fatal(err)
		}
		return &Step{Config: config.Default(), Install: file, SHA256: sum(tarball)}
	}
	good, err := step(kataStatic(t, "zst")).Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if err := good.Apply(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	before := hosttest.HashTree(t, base)
	// The tree is built in root/opt/.kata.eksd-kata-*: "a" is that
	// directory, so b leads three levels up, to outside.
	bad := kataStatic(t, "zst",
		tar.Header{Name: "./opt/kata/a", Linkname: ".", Typeflag: tar.TypeSymlink},
		tar.Header{Name: "./opt/kata/b", Linkname: "a/a/a/a/../../../outside", Typeflag: tar.TypeSymlink},
		tar.Header{Name: "./opt/kata/b/x", Typeflag: tar.TypeReg, Mode: 0o644},
	)
	wantRefused := func(err error) {
		t.Helper()
		var in *badinput.Error
		if !errors.As(err, &in) || !strings.Contains(err.Error(), `"./opt/kata/b"`) {
			t.Errorf("err = %v, want an input error naming ./opt/kata/b", err)
		}
	}
	_, err = step(bad).Plan(context.Background(), h)
	wantRefused(err)
	wantRefused((&Install{From: "https://example.com/kata.tar.zst", File: artifacts.File{SHA256: sum(bad)}, data: bad}).Apply(context.Background(), h))
	if hosttest.HashTree(t, base) != before {
		t.Fatal("a refused tarball changed files")
	}
	if _, err := os.Lstat(filepath.Join(outside, "x")); err == nil {
		t.Fatal("the tarball wrote outside the root")
	}
}

func TestInstallFromURLVerifiesBeforeUnpacking(t *testing.T) {
	tarball := kataStatic(t, "zst")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(tarball) }))
	defer srv.Close()
	h := hosttest.NewTestHost(t, "")
	s := &Step{Config: config.Default(), Install: srv.URL + "/kata.tar.zst", SHA256: strings.Repeat("0", 64), Artifacts: artifacts.Getter{Client: srv.Client()}}
	p, err := s.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Changes[0].Apply(context.Background(), h); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(h.Root(), "opt/kata")); err == nil {
		t.Fatal("an unverified download was unpacked")
	}
	s.SHA256 = sum(tarball)
	applyInstall(t, s, h, tarball)
}

func TestInstalledKataLinksEveryShim(t *testing.T) {
	h := hosttest.NewTestHost(t, "")
	hosttest.WriteTree(t, h.Root(), map[string]string{
		"/opt/kata/bin/containerd-shim-kata-v2":                            "shim",
		"/opt/kata/bin/containerd-shim-kata-qemu-v2":                       "shim",
		"/opt/kata/bin/kata-runtime":                                       "rt",
		"/opt/kata/share/defaults/kata-containers/configuration-qemu.toml": qemuConf,
	})
	p, err := (&Step{Config: config.Default()}).Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"link /usr/local/bin/containerd-shim-kata-qemu-v2 -> /opt/kata/bin/containerd-shim-kata-qemu-v2",
		"link /usr/local/bin/containerd-shim-kata-v2 -> /opt/kata/bin/containerd-shim-kata-v2",
	}
	if got := p.Summaries(); !slices.Equal(got, want) {
		t.Fatalf("plan %v", got)
	}
	if len(p.Unsolved) != 1 || !strings.Contains(p.Unsolved[0].What, "hypervisor /opt/kata/bin/qemu-system-x86_64 is missing") {
		t.Fatalf("unsolved %v", p.Unsolved)
	}
}
