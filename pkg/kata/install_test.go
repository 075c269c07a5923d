package kata

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/artifacts"
	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/kata/katatest"
)

func TestParseSource(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile("3.30.0", nil, 0o644) // a file of that name is a file
	for arg, want := range map[string]source{
		"3.32.0":                     {version: "3.32.0"},
		"v3.32.0":                    {version: "3.32.0"},
		"3.32":                       {version: "3.32"},
		"3.32.x":                     {version: "3.32.x"},
		"3.30.0":                     {file: "3.30.0"},
		"./3.31.0":                   {file: "./3.31.0"},
		"kata-static-3.32.0.tar.zst": {file: "kata-static-3.32.0.tar.zst"},
		"https://example.com/k.zst":  {url: "https://example.com/k.zst"},
	} {
		if got, err := parseSource(arg); err != nil || got != want {
			t.Errorf("parseSource(%q) = %+v, %v; want %+v", arg, got, err, want)
		}
	}
	if _, err := parseSource("latest"); err == nil || !strings.Contains(err.Error(), "want a Kata release version (such as "+Newest()+")") {
		t.Errorf("latest: err = %v", err)
	}
}

// releaseServer serves any tarball name it has, and records the paths asked for.
type releaseServer struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	asked []string
}

func newReleaseServer(t *testing.T, files map[string][]byte) *releaseServer {
	s := &releaseServer{files: files}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.asked = append(s.asked, r.URL.Path)
		s.mu.Unlock()
		if b, ok := s.files[strings.TrimPrefix(r.URL.Path, "/")]; ok {
			w.Write(b)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *releaseServer) step(install string) *Step {
	return &Step{Config: config.Default(), Install: install, Arch: "amd64",
		Artifacts: artifacts.Getter{Client: s.Client()}, ReleaseURL: s.URL + "/releases"}
}

func wantBadInput(t *testing.T, err error, says ...string) {
	t.Helper()
	var in *badinput.Error
	if !errors.As(err, &in) {
		t.Fatalf("err = %v, want an input error", err)
	}
	for _, s := range says {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("err = %v, want it to say %q", err, s)
		}
	}
}

// A version eksd-kata carries is fetched from its release (here the test
// server standing in for it) and checked against the carried checksum: a
// tarball that is not the release's is refused, unpacked or not.
func TestInstallVersionChecksTheCarriedChecksum(t *testing.T) {
	name := "kata-static-3.32.0-amd64.tar.zst"
	srv := newReleaseServer(t, map[string][]byte{"releases/" + name: katatest.Tarball(t, "amd64", "zst")})
	h := hosttest.NewTestHost(t, "")
	for _, install := range []string{"3.32.0", "3.32"} {
		p, err := srv.step(install).Plan(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		want := "install Kata 3.32.0 from " + srv.URL + "/releases/" + name + " (sha256 1449ecea50bd…) into /opt/kata"
		if got := p.Summaries(); len(got) == 0 || got[0] != want {
			t.Fatalf("%s: plan %v, want first %q", install, got, want)
		}
	}
	p, _ := srv.step("3.32.0").Plan(context.Background(), h)
	err := p.Changes[0].Apply(context.Background(), h)
	if err == nil || !strings.Contains(err.Error(), "sha256 is ") || !strings.Contains(err.Error(), "want 1449ecea50bd") {
		t.Fatalf("err = %v, want the carried checksum refused", err)
	}
	if !slices.Equal(srv.asked, []string{"/releases/" + name}) {
		t.Errorf("asked for %v", srv.asked)
	}
	if _, err := os.Stat(filepath.Join(h.Root(), "opt/kata")); err == nil {
		t.Fatal("a tarball that is not the release's was unpacked")
	}
	// A checksum that is not the carried one is refused before anything.
	s := srv.step("3.32.0")
	s.SHA256 = strings.Repeat("ab", 32)
	_, err = s.Plan(context.Background(), h)
	wantBadInput(t, err, "is not the 1449ecea50bd")
}

// A version eksd-kata carries no checksum for installs with the operator's.
func TestInstallUnknownVersionWithItsChecksum(t *testing.T) {
	tarball := katatest.Tarball(t, "amd64", "zst")
	srv := newReleaseServer(t, map[string][]byte{"releases/kata-static-3.21.0-amd64.tar.zst": tarball})
	h := hosttest.NewTestHost(t, "")
	s := srv.step("3.21.0")
	s.SHA256 = sum(tarball)
	applyInstall(t, s, h, tarball)
}

// applyInstall plans and applies s, then wants the tarball's marker and
// nothing more to do.
func applyInstall(t *testing.T, s *Step, h *host.Host, tarball []byte) {
	t.Helper()
	p, err := s.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(h.Root(), Marker)); strings.TrimSpace(string(b)) != sum(tarball) {
		t.Fatalf("marker %q", b)
	}
	if p, err := s.Plan(context.Background(), h); err != nil || !p.Empty() {
		t.Fatalf("re-plan %v, %v", p.Summaries(), err)
	}
}

func TestInstallUnknownVersionNeedsAChecksum(t *testing.T) {
	srv := newReleaseServer(t, nil)
	h := hosttest.NewTestHost(t, "")
	before := hosttest.HashTree(t, h.Root())
	_, err := srv.step("3.21.0").Plan(context.Background(), h)
	wantBadInput(t, err, "carries no checksum for kata 3.21.0", "3.28.0 to 3.32.0", "--kata-sha256",
		srv.URL+"/releases/kata-static-3.21.0-amd64.tar.zst")
	// A line it carries nothing of asks for an exact version.
	_, err = srv.step("3.21").Plan(context.Background(), h)
	wantBadInput(t, err, "name an exact version")
	if len(srv.asked) != 0 || hosttest.HashTree(t, h.Root()) != before {
		t.Fatalf("a refused version changed something (asked %v)", srv.asked)
	}
}

// A tarball of another architecture is refused before any change: a local
// one while planning, a download before it is unpacked.
func TestInstallRefusesAnotherArchitecture(t *testing.T) {
	arm := katatest.Tarball(t, "arm64", "zst")
	srv := newReleaseServer(t, map[string][]byte{"k.tar.zst": arm, "releases/kata-static-3.21.0-amd64.tar.zst": arm})
	file := filepath.Join(t.TempDir(), "kata-static-3.21.0-arm64.tar.zst")
	os.WriteFile(file, arm, 0o644)
	h := hosttest.NewTestHost(t, "")
	before := hosttest.HashTree(t, h.Root())
	says := []string{"./opt/kata/bin/containerd-shim-kata-v2 is built for arm64 (ELF EM_AARCH64), and this host is amd64"}

	local := srv.step(file)
	local.SHA256 = sum(arm)
	_, err := local.Plan(context.Background(), h)
	wantBadInput(t, err, says...)

	for _, install := range []string{srv.URL + "/k.tar.zst", "3.21.0"} {
		s := srv.step(install)
		s.SHA256 = sum(arm)
		p, err := s.Plan(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		wantBadInput(t, p.Apply(context.Background(), h), says...)
	}
	if hosttest.HashTree(t, h.Root()) != before {
		t.Fatal("a tarball of another architecture changed files")
	}
}

// --artifacts-dir: a release's tarball is read from DIR/<its name> while
// planning, verified and checked, and never downloaded.
func TestInstallFromArtifactsDir(t *testing.T) {
	dir := t.TempDir()
	tarball := katatest.Tarball(t, "amd64", "zst")
	os.WriteFile(filepath.Join(dir, "kata-static-3.21.0-amd64.tar.zst"), tarball, 0o644)
	os.WriteFile(filepath.Join(dir, "kata-static-3.32.0-amd64.tar.zst"), tarball, 0o644)
	step := func(version string) *Step {
		return &Step{Config: config.Default(), Install: version, SHA256: sum(tarball), Arch: "amd64",
			Artifacts: artifacts.Getter{Dir: dir}, ReleaseURL: "https://127.0.0.1:1/unreachable"}
	}
	h := hosttest.NewTestHost(t, "")
	// The carried checksum still holds: this tarball is not 3.32.0's.
	s := step("3.32.0")
	s.SHA256 = ""
	_, err := s.Plan(context.Background(), h)
	wantBadInput(t, err, "sha256 is "+sum(tarball)+", want 1449ecea50bd")

	s = step("3.21.0")
	p, err := s.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Summaries()[0]; got != "install Kata 3.21.0 from "+filepath.Join(dir, "kata-static-3.21.0-amd64.tar.zst")+" (sha256 "+sum(tarball)[:12]+"…) into /opt/kata" {
		t.Fatalf("summary %q", got)
	}
	if err := p.Apply(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if ok, _ := h.FS.Exists("/opt/kata/bin/containerd-shim-kata-v2"); !ok {
		t.Fatal("not installed")
	}
	os.Remove(filepath.Join(dir, "kata-static-3.21.0-amd64.tar.zst"))
	_, err = step("3.21.0").Plan(context.Background(), hosttest.NewTestHost(t, ""))
	wantBadInput(t, err, "--artifacts-dir", "put kata-static-3.21.0-amd64.tar.zst there")
}

func TestWillInstall(t *testing.T) {
	for _, c := range []struct {
		s    Step
		want string
	}{
		{Step{}, ""},
		{Step{Install: "3.32"}, "Kata 3.32.0 will be installed from its release"},
		{Step{Install: "3.21.0", Artifacts: artifacts.Getter{Dir: "/srv/files"}}, "Kata 3.21.0 will be installed from its release file in /srv/files"},
		{Step{Install: "./kata.tar.zst"}, "Kata will be installed from ./kata.tar.zst"},
	} {
		c.s.Arch = "amd64"
		if got := c.s.WillInstall(); got != c.want {
			t.Errorf("%q: %q, want %q", c.s.Install, got, c.want)
		}
	}
}
