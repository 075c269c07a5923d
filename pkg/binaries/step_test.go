package binaries

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	"github.com/eksd-kata/eksd-kata/pkg/release/releasetest"
)

func TestInstallVerifiedThenRerunIsEmpty(t *testing.T) {
	f := newFixture(t)
	var progress bytes.Buffer
	s := f.step()
	s.Progress = &progress
	p := mustPlan(t, s, f.h)
	// The units first, while the installs wait for image downloads. No
	// daemon-reload: this systemd does not hold the kubelet yet.
	want := []string{
		"create " + KubeletUnitPath,
		"create " + KubeadmDropIn,
		"systemd enable kubelet.service",
		"install /usr/local/bin/kubeadm from " + f.srv.URL + "/bin/linux/amd64/kubeadm (sha256 verified before install)",
		"install /usr/local/bin/kubelet from " + f.srv.URL + "/bin/linux/amd64/kubelet (sha256 verified before install)",
		"install /usr/local/bin/kubectl from " + f.srv.URL + "/bin/linux/amd64/kubectl (sha256 verified before install)",
	}
	if got := p.Summaries(); !slices.Equal(got, want) {
		t.Fatalf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := f.binHits(); n != 0 {
		t.Fatalf("planning downloaded %d times", n)
	}
	if err := (p).Apply(context.Background(), f.h); err != nil {
		t.Fatal(err)
	}

	for name, data := range f.bins {
		path := "/usr/local/bin/" + name
		got, err := f.h.FS.ReadFile(path)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: %v, bytes equal %v", path, err, bytes.Equal(got, data))
		}
		fi, err := f.h.FS.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s mode: %v %v", path, fi.Mode(), err)
		}
	}
	if got := dirEntries(t, f.h, "/usr/local/bin"); !slices.Equal(got, []string{"kubeadm", "kubectl", "kubelet"}) {
		t.Errorf("install dir holds %q", got)
	}
	if !slices.Equal(f.sd.Enabled, []string{"kubelet.service"}) || f.sd.Reloads != 0 {
		t.Errorf("enabled %q, %d reloads", f.sd.Enabled, f.sd.Reloads)
	}
	if !strings.Contains(progress.String(), "kubelet: 0.0 MiB in") || !strings.Contains(progress.String(), "sha256 verified") {
		t.Errorf("progress lines:\n%s", progress.String())
	}
	hits := f.srv.Hits("")

	again := mustPlan(t, f.step(), f.h)
	if !again.Empty() {
		t.Fatalf("second plan not empty: %q", again.Summaries())
	}
	if n := f.srv.Hits(""); n != hits {
		t.Fatalf("re-run made %d requests", n-hits)
	}
}

func TestChecksumMismatchLeavesNothing(t *testing.T) {
	f := newFixture(t)
	path := releasetest.Path("kubelet", "amd64")
	f.srv.Fail(path, releasetest.Corrupt)
	p := mustPlan(t, f.step(), f.h)
	err := installOf(t, p, "kubelet").Apply(context.Background(), f.h)
	var ce *ChecksumError
	if !errors.As(err, &ce) || ce.Algo != "sha256" {
		t.Fatalf("want a sha256 ChecksumError, got %v", err)
	}
	if !strings.Contains(err.Error(), "sha256 mismatch") || !strings.Contains(err.Error(), "nothing was installed") {
		t.Errorf("error text: %v", err)
	}
	if n := f.srv.Hits(path); n != 1 {
		t.Errorf("a checksum mismatch was retried: %d requests", n)
	}
	onlyOthers(t, f, "kubelet")
}

func TestTruncatedBodyRetriedThenFails(t *testing.T) {
	f := newFixture(t)
	path := releasetest.Path("kubeadm", "amd64")
	f.srv.Fail(path, releasetest.Truncate, releasetest.Truncate, releasetest.Truncate)
	p := mustPlan(t, f.step(), f.h)
	err := installOf(t, p, "kubeadm").Apply(context.Background(), f.h)
	if err == nil || !strings.Contains(err.Error(), "unexpected EOF") || !strings.Contains(err.Error(), "(after 3 attempts)") {
		t.Fatalf("want unexpected EOF, got %v", err)
	}
	if n := f.srv.Hits(path); n != fastRetry.Attempts {
		t.Errorf("%d requests, want %d (every attempt)", n, fastRetry.Attempts)
	}
	onlyOthers(t, f, "kubeadm")
}

func TestTruncatedOnceThenComplete(t *testing.T) {
	f := newFixture(t)
	path := releasetest.Path("kubeadm", "amd64")
	f.srv.Fail(path, releasetest.Truncate)
	p := mustPlan(t, f.step(), f.h)
	if err := installOf(t, p, "kubeadm").Apply(context.Background(), f.h); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.h.FS.ReadFile("/usr/local/bin/kubeadm"); !bytes.Equal(got, f.bins["kubeadm"]) {
		t.Error("kubeadm content differs after retry")
	}
}

func TestServerErrorThenSuccess(t *testing.T) {
	f := newFixture(t)
	path := releasetest.Path("kubectl", "amd64")
	f.srv.Fail(path, releasetest.Status500)
	p := mustPlan(t, f.step(), f.h)
	if err := installOf(t, p, "kubectl").Apply(context.Background(), f.h); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.Hits(path); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	if got, _ := f.h.FS.ReadFile("/usr/local/bin/kubectl"); !bytes.Equal(got, f.bins["kubectl"]) {
		t.Error("kubectl content differs")
	}
}

func TestNotFoundFailsAtOnce(t *testing.T) {
	f := newFixture(t)
	path := releasetest.Path("kubectl", "amd64")
	f.srv.Fail(path, releasetest.Status404)
	p := mustPlan(t, f.step(), f.h)
	err := installOf(t, p, "kubectl").Apply(context.Background(), f.h)
	if err == nil || !strings.Contains(err.Error(), f.srv.URL+path) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("want a 404 naming the URL, got %v", err)
	}
	if n := f.srv.Hits(path); n != 1 {
		t.Errorf("404 was retried: %d requests", n)
	}
}

func TestRightContentWrongModeOnlyChmods(t *testing.T) {
	f := newFixture(t)
	for name, data := range f.bins {
		if _, err := f.h.FS.WriteFile("/usr/local/bin/"+name, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.h.FS.WriteFile("/usr/local/bin/kubectl", f.bins["kubectl"], 0o644); err != nil {
		t.Fatal(err)
	}
	s := f.step()
	p := mustPlan(t, s, f.h)
	in := installOf(t, p, "kubectl")
	if !strings.HasPrefix(in.Summary(), "set mode 0755 on /usr/local/bin/kubectl") {
		t.Errorf("summary %q", in.Summary())
	}
	if err := (p).Apply(context.Background(), f.h); err != nil {
		t.Fatal(err)
	}
	if fi, _ := f.h.FS.Stat("/usr/local/bin/kubectl"); fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v", fi.Mode())
	}
	if n := f.binHits(); n != 0 {
		t.Errorf("%d downloads for a mode fix", n)
	}
	if again := mustPlan(t, s, f.h); !again.Empty() {
		t.Errorf("second plan: %q", again.Summaries())
	}
}

func TestWrongBinaryPresentIsReplaced(t *testing.T) {
	f := newFixture(t)
	if _, err := f.h.FS.WriteFile("/usr/local/bin/kubeadm", []byte("old kubeadm"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := mustPlan(t, f.step(), f.h)
	if err := (p).Apply(context.Background(), f.h); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.h.FS.ReadFile("/usr/local/bin/kubeadm"); !bytes.Equal(got, f.bins["kubeadm"]) {
		t.Error("kubeadm not replaced")
	}
}

func TestNoChecksumRefusedUnlessInsecure(t *testing.T) {
	f := newFixture(t)
	emb, err := eksd.Lookup("1-36", 7)
	if err != nil {
		t.Fatal(err)
	}
	s := &Step{Release: emb, Arch: "amd64"}
	_, err = s.Plan(context.Background(), f.h)
	var in *badinput.Error
	if !errors.As(err, &in) {
		t.Fatalf("want an input error, got %v", err)
	}
	for _, want := range []string{"refusing to install kubeadm", emb.ManifestURL(), "--insecure-skip-verify", "spec.release.manifest"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}

	s.DryRun = true
	p := mustPlan(t, s, f.h)
	if len(p.Changes) < 3 || !strings.Contains(strings.Join(p.Notes, "\n"), "has no checksum here; checksums come from the release manifest EKS-D publishes, "+emb.ManifestURL()) {
		t.Errorf("dry run: %q notes %q", p.Summaries(), p.Notes)
	}

	s.DryRun, s.InsecureSkipVerify = false, true
	p = mustPlan(t, s, f.h)
	if got := installOf(t, p, "kubelet"); !got.Unverified || !strings.Contains(got.Summary(), "NOT verified") {
		t.Errorf("insecure install: %q", got.Summary())
	}

	// A dry-run plan applied anyway still refuses the unverifiable binary.
	s.InsecureSkipVerify, s.DryRun = false, true
	p = mustPlan(t, s, f.h)
	if err := installOf(t, p, "kubeadm").Apply(context.Background(), f.h); err == nil || !strings.Contains(err.Error(), "refusing to install /usr/local/bin/kubeadm without a checksum") {
		t.Errorf("apply of an unverifiable install: %v", err)
	}
}

func TestArtifactsDirVerifiedAndInstalled(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	for name, data := range f.bins {
		p := filepath.Join(dir, "bin", "linux", "amd64", name)
		if name == "kubectl" {
			p = filepath.Join(dir, name) // the flat layout works too
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := f.step()
	s.ArtifactsDir = dir
	var progress bytes.Buffer
	s.Progress = &progress
	p := mustPlan(t, s, f.h)
	if got := installOf(t, p, "kubelet").Summary(); !strings.Contains(got, "from "+filepath.Join(dir, "bin/linux/amd64/kubelet")) {
		t.Errorf("summary %q", got)
	}
	if err := (p).Apply(context.Background(), f.h); err != nil {
		t.Fatal(err)
	}
	// Verified at plan time, so copied by the kernel, not read in again.
	if got := progress.String(); strings.Count(got, " copied from ") != len(f.bins) || strings.Contains(got, " read from ") {
		t.Errorf("progress %q: want every artifact copied", got)
	}
	for name, data := range f.bins {
		if got, _ := f.h.FS.ReadFile("/usr/local/bin/" + name); !bytes.Equal(got, data) {
			t.Errorf("%s differs", name)
		}
	}
	if n := f.binHits(); n != 0 {
		t.Errorf("%d downloads with --artifacts-dir", n)
	}
	if again := mustPlan(t, s, f.h); !again.Empty() {
		t.Errorf("second plan: %q", again.Summaries())
	}

	// A wrong artifact is refused at plan time, before any step changes the host.
	if err := os.WriteFile(filepath.Join(dir, "bin/linux/amd64/kubeadm"), []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	fresh := newFixture(t)
	s.Release = fresh.rel
	_, err := s.Plan(context.Background(), fresh.h)
	var in *badinput.Error
	if !errors.As(err, &in) || !strings.Contains(err.Error(), "sha256 mismatch") {
		t.Fatalf("want an input error on the tampered artifact, got %v", err)
	}

	if err := os.WriteFile(filepath.Join(dir, "bin/linux/amd64/kubeadm"), f.bins["kubeadm"], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "kubectl")); err != nil {
		t.Fatal(err)
	}
	_, err = s.Plan(context.Background(), fresh.h)
	if !errors.As(err, &in) || !strings.Contains(err.Error(), "has no kubectl: looked for "+filepath.Join(dir, "bin/linux/amd64/kubectl")) {
		t.Fatalf("want a missing-artifact error, got %v", err)
	}
}

// plannedFromArtifacts plans the binaries from an artifacts directory
// holding the right ones, flat.
func plannedFromArtifacts(t *testing.T) (*fixture, string, *plan.Plan) {
	t.Helper()
	f, dir, s := fromArtifacts(t)
	return f, dir, mustPlan(t, s, f.h)
}

// fromArtifacts is a step installing from an artifacts directory holding
// the right binaries, flat.
func fromArtifacts(t *testing.T) (*fixture, string, *Step) {
	t.Helper()
	f := newFixture(t)
	dir := t.TempDir()
	for name, data := range f.bins {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := f.step()
	s.ArtifactsDir = dir
	return f, dir, s
}

// An artifact changed between the plan, which verified it, and the
// install is checked again and refused, and nothing is installed.
func TestArtifactChangedAfterThePlanIsRefused(t *testing.T) {
	f, dir, p := plannedFromArtifacts(t)
	tampered := append([]byte("tampered "), f.bins["kubelet"]...)
	if err := os.WriteFile(filepath.Join(dir, "kubelet"), tampered, 0o644); err != nil {
		t.Fatal(err)
	}
	err := installOf(t, p, "kubelet").Apply(context.Background(), f.h)
	var ce *ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("want a checksum error for the changed kubelet, got %v", err)
	}
	if ok, _ := f.h.FS.Exists("/usr/local/bin/kubelet"); ok {
		t.Error("the changed kubelet was installed")
	}
}

// An artifact that changes while it is copied is not installed.
func TestArtifactChangedDuringTheCopyIsRefused(t *testing.T) {
	f, dir, p := plannedFromArtifacts(t)
	kubeadm := filepath.Join(dir, "kubeadm")
	f.h.FS.SetFault(func(point string) {
		if strings.HasPrefix(point, "before-rename ") && strings.Contains(point, ".kubeadm") {
			if err := os.WriteFile(kubeadm, f.bins["kubeadm"], 0o644); err != nil { // same bytes, new mtime
				t.Error(err)
			}
		}
	})
	err := installOf(t, p, "kubeadm").Apply(context.Background(), f.h)
	if err == nil || !strings.Contains(err.Error(), kubeadm+" changed while it was installed from it") {
		t.Fatalf("want the change during the copy refused, got %v", err)
	}
	if ok, _ := f.h.FS.Exists("/usr/local/bin/kubeadm"); ok {
		t.Error("kubeadm was installed from a file that changed during the copy")
	}
}

func TestBadArchAndInstallDir(t *testing.T) {
	f := newFixture(t)
	s := f.step()
	s.Arch = "s390x"
	if _, err := s.Plan(context.Background(), f.h); err == nil || !strings.Contains(err.Error(), "no node binaries for s390x") {
		t.Errorf("arch: %v", err)
	}
	s = f.step()
	s.InstallDir = "usr/bin"
	if _, err := s.Plan(context.Background(), f.h); err == nil || !strings.Contains(err.Error(), "not an absolute path") {
		t.Errorf("install dir: %v", err)
	}
}

// onlyOthers: the install of failed left nothing behind (no file, no
// temporary); the binaries installed beside it are whole.
func onlyOthers(t *testing.T, f *fixture, failed string) {
	t.Helper()
	for _, name := range dirEntries(t, f.h, "/usr/local/bin") {
		want, ok := f.bins[name]
		if !ok || name == failed {
			t.Errorf("left behind: %q", name)
			continue
		}
		if got, err := f.h.FS.ReadFile("/usr/local/bin/" + name); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s installed beside the failed %s is not whole: %v", name, failed, err)
		}
	}
}

// probe is a phase that records, as it applies, which binaries are in place.
func probe(f *fixture, name string, need *plan.Milestone, seen map[string][]string) bootstrap.Phase {
	return bootstrap.Phase{Name: name, Needs: []bootstrap.Need{need}, Step: &probeStep{name: name, do: func() {
		for _, bin := range eksd.RequiredBinaries {
			if _, err := f.h.FS.Stat("/usr/local/bin/" + bin); err == nil {
				seen[name] = append(seen[name], bin)
			}
		}
	}}}
}

type probeStep struct {
	name string
	do   func()
}

func (s *probeStep) Name() string { return s.name }

func (s *probeStep) Plan(context.Context, *host.Host) (*plan.Plan, error) {
	p := &plan.Plan{}
	p.Add(&plan.Func{Text: "list the binaries", Do: func(context.Context, *host.Host) error { s.do(); return nil }})
	return p, nil
}

// TestMilestonesFollowTheInstalls: kubeadm is installed first, then the
// kubelet; what waits for "kubeadm installed" finds kubeadm in place, and
// what waits for "kubelet installed" finds both.
func TestMilestonesFollowTheInstalls(t *testing.T) {
	f := newFixture(t)
	s := f.step()
	s.KubeadmInstalled, s.KubeletInstalled = plan.NewMilestone("kubeadm installed"), plan.NewMilestone("kubelet installed")
	seen := map[string][]string{}
	phases := []bootstrap.Phase{
		{Name: "binaries", Step: s, Provides: []*plan.Milestone{s.KubeadmInstalled, s.KubeletInstalled}},
		probe(f, "after-kubeadm", s.KubeadmInstalled, seen),
		probe(f, "after-kubelet", s.KubeletInstalled, seen),
	}
	if _, err := bootstrap.RunPhases(context.Background(), f.h, phases, bootstrap.Options{}); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(seen["after-kubeadm"], "kubeadm") {
		t.Errorf("after kubeadm installed, found %q", seen["after-kubeadm"])
	}
	if got := seen["after-kubelet"]; !slices.Contains(got, "kubeadm") || !slices.Contains(got, "kubelet") {
		t.Errorf("after kubelet installed, found %q", got)
	}
	p := mustPlan(t, s, f.h)
	if !p.Empty() {
		t.Errorf("plan after the run: %q", p.Summaries())
	}
}
