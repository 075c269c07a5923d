package runtimeinstall

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/artifacts"
	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/containerd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	"github.com/eksd-kata/eksd-kata/pkg/runtimeinstall/runtimetest"
	"github.com/eksd-kata/eksd-kata/systemd"
)

const (
	ctrVersion  = "2.2.7"
	runcVersion = "1.3.4"
)

var arch = runtime.GOARCH

// mirror serves a containerd and a runc release through a release
// manifest that lists them, as a private mirror does.
func mirror(t *testing.T) (*runtimetest.Server, *Step) {
	t.Helper()
	srv := runtimetest.NewServer(t, nil)
	rel, files := runtimetest.Release(t, ctrVersion, runcVersion, arch, srv.URL)
	srv.Put(files)
	return srv, &Step{Release: rel, Socket: "/run/containerd/containerd.sock"}
}

func offlineRoot(t *testing.T, files map[string]string) (*host.Host, string) {
	t.Helper()
	root := t.TempDir()
	hosttest.WriteTree(t, root, files)
	for p := range files {
		if strings.Contains(p, "/bin/") || strings.Contains(p, "/sbin/") {
			if err := os.Chmod(filepath.Join(root, p), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	h, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return h, root
}

func run(t *testing.T, h *host.Host, s *Step) *bootstrap.Report {
	t.Helper()
	rep, err := bootstrap.Run(context.Background(), h, []bootstrap.Step{s}, bootstrap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func mustPlan(t *testing.T, h *host.Host, s *Step) *plan.Plan {
	t.Helper()
	p, err := s.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, root, p string) (string, os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, p))
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(filepath.Join(root, p))
	return string(b), fi.Mode().Perm()
}

// TestInstallsWhereNoContainerdIs: under --root, on an image without
// containerd, the manifest's containerd and runc are installed (0755), the
// unit containerd publishes written (0644), and a re-run plans nothing.
func TestInstallsWhereNoContainerdIs(t *testing.T) {
	srv, s := mirror(t)
	h, root := offlineRoot(t, map[string]string{"/etc/hostname": "node\n"})
	p := mustPlan(t, h, s)
	got := strings.Join(p.Summaries(), "\n")
	for _, want := range []string{
		"install containerd 2.2.7 (containerd, containerd-shim-runc-v2, containerd-stress, ctr) into /usr/local/bin from " + srv.URL + "/containerd-static-2.2.7-linux-" + arch + ".tar.gz (containerd is not installed; sha256 verified)",
		"install runc 1.3.4 as /usr/local/sbin/runc from " + srv.URL + "/runc." + arch,
		"create /etc/systemd/system/containerd.service",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("plan lacks %q:\n%s", want, got)
		}
	}
	if !slices.ContainsFunc(p.Notes, func(n string) bool {
		return strings.Contains(n, "enable and start containerd.service: skipped (--root)")
	}) {
		t.Errorf("notes %q", p.Notes)
	}
	if v, err := s.ContainerdVersion(context.Background(), h); v != ctrVersion || err != nil {
		t.Errorf("ContainerdVersion before the install: %q, %v", v, err)
	}
	run(t, h, s)
	for _, prog := range runtimetest.Programs {
		if b, mode := readFile(t, root, "/usr/local/bin/"+prog); b != runtimetest.Program(prog, ctrVersion) || mode != 0o755 {
			t.Errorf("%s: %q mode %v", prog, b, mode)
		}
	}
	if b, mode := readFile(t, root, RuncPath); b != string(runtimetest.Runc(runcVersion)) || mode != 0o755 {
		t.Errorf("runc: %q mode %v", b, mode)
	}
	if b, mode := readFile(t, root, UnitPath); b != string(systemd.Containerd) || mode != 0o644 {
		t.Errorf("unit: mode %v\n%s", mode, b)
	}
	hits := srv.Hits()
	before := hosttest.HashTree(t, root)
	if rep := run(t, h, &Step{Release: s.Release}); rep.Changed() != 0 {
		t.Errorf("re-run: %v", rep.Steps)
	}
	if hosttest.HashTree(t, root) != before || srv.Hits() != hits {
		t.Error("the re-run changed the root or downloaded")
	}
	// eksd-kata's containerd is what the containerd step plans for, without
	// --containerd-version.
	if v, err := (&Step{Release: s.Release}).ContainerdVersion(context.Background(), h); v != ctrVersion || err != nil {
		t.Errorf("ContainerdVersion after: %q, %v", v, err)
	}

	// A program the same but not the file recorded (copied in place): its
	// sha256 says it is eksd-kata's, and its identity is recorded anew.
	if err := os.Chtimes(filepath.Join(root, "usr/local/bin/ctr"), time.Now(), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	p = mustPlan(t, h, &Step{Release: s.Release})
	if got := p.Summaries(); len(got) != 1 || got[0] != "record eksd-kata's containerd 2.2.7 in "+RecordFile+" (its programs are as installed, by their sha256)" {
		t.Errorf("after ctr touched: %q", got)
	}
	run(t, h, &Step{Release: s.Release})
	if p := mustPlan(t, h, &Step{Release: s.Release}); len(p.Changes) != 0 {
		t.Errorf("after the record: %q", p.Summaries())
	}

	// A program changed (or an install cut short): installed again.
	if err := os.WriteFile(filepath.Join(root, "usr/local/bin/ctr"), []byte("other"), 0o755); err != nil {
		t.Fatal(err)
	}
	p = mustPlan(t, h, &Step{Release: s.Release})
	if len(p.Changes) != 1 || !strings.Contains(p.Changes[0].Summary(), "(eksd-kata's install of containerd 2.2.7 is incomplete or was changed; sha256 verified)") {
		t.Errorf("after ctr changed: %q", p.Summaries())
	}
}

// TestChecksumMismatchInstallsNothing: a download whose sha256 is not the
// manifest's stops the plan; nothing is written.
func TestChecksumMismatchInstallsNothing(t *testing.T) {
	srv, s := mirror(t)
	srv.Put(runtimetest.Files{runtimetest.ContainerdName(ctrVersion, arch): runtimetest.Containerd(t, "6.6.6")})
	h, root := offlineRoot(t, map[string]string{"/etc/hostname": "node\n"})
	before := hosttest.HashTree(t, root)
	_, err := bootstrap.Run(context.Background(), h, []bootstrap.Step{s}, bootstrap.Options{})
	var ce *artifacts.ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v, want a checksum error", err)
	}
	if hosttest.HashTree(t, root) != before {
		t.Fatal("a bad download changed the root")
	}
}

// TestOldContainerdStopsThePlan: a distribution's containerd too old for
// the release blocks the plan before any change, naming the flag; with
// the flag it is replaced, runc with it.
func TestOldContainerdStopsThePlan(t *testing.T) {
	_, s := mirror(t)
	h, root := offlineRoot(t, map[string]string{"/usr/bin/containerd": "#!/bin/sh\n", "/usr/sbin/runc": "#!/bin/sh\n",
		"/lib/systemd/system/containerd.service": "[Service]\nExecStart=/usr/bin/containerd\n"})
	s.Version = "1.6.20"
	p, err := s.Plan(context.Background(), h)
	problems, blocked := plan.Problems(err)
	if !blocked || len(problems) != 1 || len(p.Changes) != 0 {
		t.Fatalf("plan %q, error %v", p.Summaries(), err)
	}
	if want := "containerd 1.6.20 (/usr/bin/containerd) is too old for Kubernetes 1.36 (it needs 2.2.0+)"; problems[0].What != want {
		t.Errorf("what: %q, want %q", problems[0].What, want)
	}
	if want := "pass --install-containerd 2.2.7 to install containerd 2.2.7 from the release manifest in /usr/local/bin in its place"; !strings.HasPrefix(problems[0].Remedy, want) {
		t.Errorf("remedy: %q, want %q…", problems[0].Remedy, want)
	}
	if v, err := s.ContainerdVersion(context.Background(), h); v != "" || err != nil {
		t.Errorf("ContainerdVersion: %q, %v; want the host's", v, err)
	}

	s2 := &Step{Release: s.Release, Version: "1.6.20", Request: Request{Containerd: "2.2"}}
	p = mustPlan(t, h, s2)
	got := strings.Join(p.Summaries(), "\n")
	for _, want := range []string{"(--install-containerd, in place of containerd 1.6.20; sha256 verified)", "install runc 1.3.4 as /usr/local/sbin/runc", "create /etc/systemd/system/containerd.service"} {
		if !strings.Contains(got, want) {
			t.Errorf("plan lacks %q:\n%s", want, got)
		}
	}
	run(t, h, s2)
	if b, _ := readFile(t, root, "/usr/bin/containerd"); b != "#!/bin/sh\n" {
		t.Error("the distribution's containerd changed")
	}
	if rep := run(t, h, s2); rep.Changed() != 0 {
		t.Errorf("re-run: %v", rep.Steps)
	}
}

// TestArtifactsDirOffline: the release files come from --artifacts-dir,
// named as the manifest names them, and nothing is downloaded.
func TestArtifactsDirOffline(t *testing.T) {
	srv, s := mirror(t)
	_, files := runtimetest.Release(t, ctrVersion, runcVersion, arch, srv.URL)
	dir := files.Dir(t)
	s.ArtifactsDir = dir
	h, root := offlineRoot(t, nil)
	run(t, h, s)
	if srv.Hits() != 0 {
		t.Errorf("%d downloads with --artifacts-dir", srv.Hits())
	}
	if b, _ := readFile(t, root, "/usr/local/bin/containerd"); b != runtimetest.Program("containerd", ctrVersion) {
		t.Errorf("containerd: %q", b)
	}

	// A tampered file there is bad input, found before anything changed.
	if err := os.WriteFile(filepath.Join(dir, "runc."+arch), []byte("evil"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, root = offlineRoot(t, nil)
	before := hosttest.HashTree(t, root)
	_, err := bootstrap.Run(context.Background(), h, []bootstrap.Step{&Step{Release: s.Release, ArtifactsDir: dir}}, bootstrap.Options{})
	if !badinput.Is(err) || !strings.Contains(err.Error(), "runc."+arch) {
		t.Fatalf("tampered runc: %v", err)
	}
	if hosttest.HashTree(t, root) != before {
		t.Fatal("the root changed")
	}
}

// TestDryRunDownloadsNothing: a dry run lists the installs, downloads
// nothing and writes nothing.
func TestDryRunDownloadsNothing(t *testing.T) {
	srv, s := mirror(t)
	s.DryRun = true
	h, root := offlineRoot(t, nil)
	before := hosttest.HashTree(t, root)
	rep, err := bootstrap.Run(context.Background(), h, []bootstrap.Step{s}, bootstrap.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(rep.Steps[0].Changes, "\n")
	if !strings.Contains(got, "install containerd 2.2.7 into /usr/local/bin from "+srv.URL) || !strings.Contains(got, "downloaded, sha256 verified before anything is written") {
		t.Errorf("dry run:\n%s", got)
	}
	if srv.Hits() != 0 || hosttest.HashTree(t, root) != before {
		t.Errorf("the dry run downloaded (%d) or changed the root", srv.Hits())
	}
}

// TestUnsafeTarballRefused: an entry that could leave its place, or
// anything in bin/ but a program, refuses the whole archive before any
// change; so does a tarball without containerd.
func TestUnsafeTarballRefused(t *testing.T) {
	good := runtimetest.Entry{Name: "bin/containerd", Body: "x"}
	for name, entries := range map[string][]runtimetest.Entry{
		"dot-dot":        {good, {Name: "../../etc/cron.d/evil", Body: "x"}},
		"absolute":       {good, {Name: "/usr/bin/evil", Body: "x"}},
		"symlink in bin": {good, {Name: "bin/ctr", Type: tar.TypeSymlink, Linkname: "/usr/bin/sudo"}},
		"link out":       {good, {Name: "lib", Type: tar.TypeSymlink, Linkname: "../../../etc"}},
		"hard link":      {good, {Name: "bin/ctr", Type: tar.TypeLink, Linkname: "bin/containerd"}},
		"below bin":      {good, {Name: "bin/sub/ctr", Body: "x"}},
		"device":         {good, {Name: "bin/null", Type: tar.TypeChar}},
		"twice":          {good, {Name: "bin/containerd", Body: "y"}},
		"no containerd":  {{Name: "bin/ctr", Body: "x"}},
	} {
		t.Run(name, func(t *testing.T) {
			data := runtimetest.Tarball(t, entries...)
			file := filepath.Join(t.TempDir(), runtimetest.ContainerdName(ctrVersion, arch))
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, s := mirror(t)
			s.Request = Request{Containerd: file, SHA256: runtimetest.SHA256(data)}
			h, root := offlineRoot(t, nil)
			before := hosttest.HashTree(t, root)
			_, err := bootstrap.Run(context.Background(), h, []bootstrap.Step{s}, bootstrap.Options{})
			if !badinput.Is(err) || !strings.Contains(err.Error(), file) {
				t.Fatalf("error %v, want bad input naming the file", err)
			}
			if hosttest.HashTree(t, root) != before {
				t.Fatal("the root changed")
			}
		})
	}
}

// TestLiveInstallStartsContainerd: on a running system (systemd a fake),
// the unit is loaded, enabled and containerd started; a re-run plans
// nothing, and a stopped containerd is started again.
func TestLiveInstallStartsContainerd(t *testing.T) {
	_, s := mirror(t)
	h := hosttest.NewTestHost(t, "")
	sd := h.Systemd.(*hosttest.FakeSystemd)
	p := mustPlan(t, h, s)
	got := p.Summaries()
	want := []string{"systemd daemon-reload", "systemd enable containerd.service", "systemd restart containerd.service (to run containerd from /usr/local/bin)"}
	if len(got) != 6 || !slices.Equal(got[3:], want) {
		t.Fatalf("plan:\n%s", strings.Join(got, "\n"))
	}
	run(t, h, s)
	if sd.Reloads != 1 || !slices.Equal(sd.Enabled, []string{containerd.Unit}) || !slices.Equal(sd.Restarted, []string{containerd.Unit}) {
		t.Errorf("systemd: reloads %d, enabled %v, restarted %v", sd.Reloads, sd.Enabled, sd.Restarted)
	}
	if p := mustPlan(t, h, s); len(p.Changes) != 0 {
		t.Errorf("re-run: %q", p.Summaries())
	}
	st := sd.Units[containerd.Unit]
	st.Active = "failed"
	sd.Units[containerd.Unit] = st
	if p := mustPlan(t, h, s); !slices.Equal(p.Summaries(), []string{"systemd restart containerd.service (it is failed)"}) {
		t.Errorf("failed containerd: %q", p.Summaries())
	}
	// No command ran: eksd-kata's own containerd is known by its record.
	if argvs := h.Exec.(*hosttest.FakeRunner).Argvs(); len(argvs) != 0 {
		t.Errorf("commands %q", argvs)
	}
}

// TestLiveDistributionContainerdKept: a distribution's containerd the
// release supports is kept, asked for its version; a missing runc beside
// it is installed alone, with no restart.
func TestLiveDistributionContainerdKept(t *testing.T) {
	_, s := mirror(t)
	h := hosttest.NewTestHost(t, "")
	hosttest.WriteTree(t, h.Root(), map[string]string{"/usr/bin/containerd": "#!/bin/sh\n"})
	if err := os.Chmod(filepath.Join(h.Root(), "usr/bin/containerd"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.Exec.(*hosttest.FakeRunner).Script(hosttest.FakeResult{Stdout: "containerd containerd.io 2.2.1 dea7da5\n"}, "/usr/bin/containerd", "--version")
	p := mustPlan(t, h, s)
	if got := p.Summaries(); len(got) != 1 || !strings.HasPrefix(got[0], "install runc 1.3.4 as /usr/local/sbin/runc") || !strings.Contains(got[0], "runc is not installed") {
		t.Errorf("plan %q", got)
	}
	if !slices.ContainsFunc(p.Notes, func(n string) bool {
		return n == "containerd 2.2.1 (containerd --version) kept: Kubernetes 1.36 supports it"
	}) {
		t.Errorf("notes %q", p.Notes)
	}
	if v, err := s.ContainerdVersion(context.Background(), h); v != "" || err != nil {
		t.Errorf("ContainerdVersion: %q, %v; want the host's", v, err)
	}
}
