package cniplugins

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/artifacts"
	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	"github.com/eksd-kata/eksd-kata/pkg/release/releasetest"
)

type fixture struct {
	srv     *releasetest.Server
	plugins map[string][]byte
	tarball []byte
	rel     *eksd.Release
	root    string
	h       *host.Host
}

// newFixture serves a CNI plugins tarball built as EKS-D builds it, named
// by a release manifest with its checksums, over a root that holds a
// plugin of another network (calico) and an older bridge.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{plugins: releasetest.CNIPlugins(), root: t.TempDir()}
	f.tarball = releasetest.CNITarball(t, f.plugins)
	f.srv = releasetest.NewServer(t, map[string][]byte{"/" + releasetest.CNIFileName("amd64"): f.tarball})
	f.rel = releasetest.Release(t, "1-36", 7, f.srv.URL, releasetest.Binaries())
	releasetest.AddCNIPlugins(f.rel, f.srv.URL, map[string][]byte{"amd64": f.tarball})
	hosttest.WriteTree(t, f.root, map[string]string{"/opt/cni/bin/calico": "calico\n", "/opt/cni/bin/bridge": "old bridge\n"})
	f.h = hosttest.NewTestHost(t, f.root)
	return f
}

func (f *fixture) step() *Step {
	return &Step{Release: f.rel, Arch: "amd64", Client: f.srv.Client()}
}

func (f *fixture) hits() int { return f.srv.Hits("/" + releasetest.CNIFileName("amd64")) }

func mustPlan(t *testing.T, s *Step, h *host.Host) *plan.Plan {
	t.Helper()
	p, err := s.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, root, p string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestInstallKeepsOtherPluginsThenRerunPlansNothing: one change, fetched
// only when applied; every plugin of the tarball lands 0755, calico stays,
// the licences beside the plugins are not installed; the re-run plans
// nothing and fetches nothing.
func TestInstallKeepsOtherPluginsThenRerunPlansNothing(t *testing.T) {
	f := newFixture(t)
	var progress bytes.Buffer
	s := f.step()
	s.Progress = &progress
	p := mustPlan(t, s, f.h)
	want := []string{"install the CNI plugins v1.6.2 into /opt/cni/bin from " + f.srv.URL + "/" + releasetest.CNIFileName("amd64") + " (sha256 verified first; other plugins there are kept)"}
	if got := p.Summaries(); !slices.Equal(got, want) {
		t.Fatalf("plan %q, want %q", got, want)
	}
	if f.hits() != 0 {
		t.Fatal("planning downloaded the tarball")
	}
	if err := p.Apply(context.Background(), f.h); err != nil {
		t.Fatal(err)
	}
	for name, data := range f.plugins {
		fi, err := os.Stat(filepath.Join(f.root, "opt/cni/bin", name))
		if err != nil || fi.Mode().Perm() != 0o755 || readFile(t, f.root, "/opt/cni/bin/"+name) != string(data) {
			t.Errorf("%s: %v, mode %v", name, err, fi.Mode())
		}
	}
	entries, _ := os.ReadDir(filepath.Join(f.root, "opt/cni/bin"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"bandwidth", "bridge", "calico", "host-local", "loopback", "portmap"}; !slices.Equal(names, want) {
		t.Errorf("/opt/cni/bin holds %q, want %q", names, want)
	}
	if readFile(t, f.root, "/opt/cni/bin/calico") != "calico\n" {
		t.Error("calico changed")
	}
	if !strings.Contains(progress.String(), "sha256 verified, 5 plugins") {
		t.Errorf("progress: %q", progress.String())
	}

	hits := f.hits()
	if again := mustPlan(t, f.step(), f.h); !again.Empty() {
		t.Fatalf("re-run plans %q", again.Summaries())
	}
	if f.hits() != hits {
		t.Fatal("the re-run fetched the tarball")
	}

	// A plugin changed since: the record no longer holds, and the install
	// puts it back.
	hosttest.WriteTree(t, f.root, map[string]string{"/opt/cni/bin/portmap": "tampered\n"})
	if again := mustPlan(t, f.step(), f.h); len(again.Changes) != 1 {
		t.Fatalf("a changed plugin plans %q", again.Summaries())
	}
}

// TestChecksumMismatchInstallsNothing: a download that is not the
// manifest's tarball is refused, not retried, and nothing is written.
func TestChecksumMismatchInstallsNothing(t *testing.T) {
	f := newFixture(t)
	f.srv.Fail("/"+releasetest.CNIFileName("amd64"), releasetest.Corrupt)
	before := hosttest.HashTree(t, f.root)
	err := mustPlan(t, f.step(), f.h).Apply(context.Background(), f.h)
	var ce *artifacts.ChecksumError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), releasetest.CNIFileName("amd64")) || !strings.Contains(err.Error(), "not installing it") {
		t.Fatalf("want a checksum error naming the tarball, got %v", err)
	}
	if f.hits() != 1 {
		t.Errorf("a checksum mismatch was retried: %d requests", f.hits())
	}
	if hosttest.HashTree(t, f.root) != before {
		t.Error("a tarball that failed its checksum changed the root")
	}
}

// TestUnsafeTarballRefusedBeforeAnyChange: a tarball with an entry that
// could leave /opt/cni/bin is refused as a whole, as bad input, before any
// plugin is written, though its checksum is the manifest's.
func TestUnsafeTarballRefusedBeforeAnyChange(t *testing.T) {
	plugin := releasetest.Entry{Name: "./bridge", Mode: 0o755, Data: []byte("new bridge\n")}
	for name, bad := range map[string]releasetest.Entry{
		"dot-dot":       {Name: "../x", Mode: 0o755, Data: []byte("x")},
		"absolute":      {Name: "/usr/bin/x", Mode: 0o755, Data: []byte("x")},
		"symlink out":   {Name: "./evil", Type: tar.TypeSymlink, Linkname: "/etc/passwd"},
		"symlink up":    {Name: "./evil", Type: tar.TypeSymlink, Linkname: "../../../etc"},
		"device":        {Name: "./null", Type: tar.TypeChar},
		"hard link out": {Name: "./x", Type: tar.TypeLink, Linkname: "../etc/passwd"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			tgz := releasetest.Tarball(t, plugin, bad)
			f.srv.Set("/"+releasetest.CNIFileName("amd64"), tgz)
			f.rel = releasetest.Release(t, "1-36", 7, f.srv.URL, releasetest.Binaries())
			releasetest.AddCNIPlugins(f.rel, f.srv.URL, map[string][]byte{"amd64": tgz})
			before := hosttest.HashTree(t, f.root)

			err := mustPlan(t, f.step(), f.h).Apply(context.Background(), f.h)
			var unsafe *host.UnsafeEntryError
			if !errors.As(err, &unsafe) || !badinput.Is(err) {
				t.Fatalf("from the network: want bad input refusing an entry, got %v", err)
			}
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, releasetest.CNIFileName("amd64")), tgz, 0o644)
			s := f.step()
			s.ArtifactsDir = dir
			if _, err := s.Plan(context.Background(), f.h); !errors.As(err, &unsafe) || !badinput.Is(err) {
				t.Fatalf("from --artifacts-dir: want the plan refused as bad input, got %v", err)
			}
			if hosttest.HashTree(t, f.root) != before {
				t.Error("an unsafe tarball changed the root")
			}
		})
	}
}

// TestArtifactsDirOffline: the tarball from --artifacts-dir is verified
// and read while planning, which names the plugins that change; nothing is
// fetched; plugins already right without a record plan only the record.
func TestArtifactsDirOffline(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, releasetest.CNIFileName("amd64")), f.tarball, 0o644); err != nil {
		t.Fatal(err)
	}
	s := f.step()
	s.ArtifactsDir = dir
	p := mustPlan(t, s, f.h)
	want := "install the CNI plugins v1.6.2 into /opt/cni/bin from " + filepath.Join(dir, releasetest.CNIFileName("amd64")) +
		" (sha256 verified first; other plugins there are kept): bandwidth, bridge, host-local, loopback, portmap"
	if got := p.Summaries(); len(got) != 1 || got[0] != want {
		t.Fatalf("plan %q, want %q", got, want)
	}
	if err := p.Apply(context.Background(), f.h); err != nil {
		t.Fatal(err)
	}
	if f.srv.Hits("") != 0 {
		t.Fatal("an offline install used the network")
	}
	if readFile(t, f.root, "/opt/cni/bin/bridge") != string(f.plugins["bridge"]) {
		t.Fatal("bridge not installed")
	}
	if again := mustPlan(t, s, f.h); !again.Empty() {
		t.Fatalf("re-run plans %q", again.Summaries())
	}
	if err := os.Remove(filepath.Join(f.root, RecordFile)); err != nil {
		t.Fatal(err)
	}
	if again := mustPlan(t, s, f.h); !slices.Equal(again.Summaries(), []string{"create " + RecordFile}) {
		t.Fatalf("plugins right, record missing: plan %q", again.Summaries())
	}

	// A tarball that is not the manifest's: bad input naming the file.
	bad := filepath.Join(dir, releasetest.CNIFileName("amd64"))
	os.WriteFile(bad, []byte("evil"), 0o644)
	_, err := (&Step{Release: f.rel, Arch: "amd64", ArtifactsDir: dir}).Plan(context.Background(), f.h)
	if !badinput.Is(err) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("a tampered artifact: %v", err)
	}
	os.Remove(bad)
	_, err = (&Step{Release: f.rel, Arch: "amd64", ArtifactsDir: dir}).Plan(context.Background(), f.h)
	if !badinput.Is(err) || !strings.Contains(err.Error(), releasetest.CNIFileName("amd64")) {
		t.Fatalf("a missing artifact: %v", err)
	}
}

// TestHardLinkedPlugin: a plugin hard-linked to another in the tarball is
// installed as a file of its own with the same content.
func TestHardLinkedPlugin(t *testing.T) {
	tgz := releasetest.Tarball(t,
		releasetest.Entry{Name: "./host-local", Mode: 0o755, Data: []byte("ipam\n")},
		releasetest.Entry{Name: "./static", Type: tar.TypeLink, Linkname: "./host-local"},
	)
	tb, err := readTarball(tgz)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tb.names(), []string{"host-local", "static"}) || string(tb.plugins["static"]) != "ipam\n" {
		t.Fatalf("plugins %q", tb.names())
	}
}

// TestSymlinkedPluginDir: /opt/cni/bin linked to a directory of CNI
// plugins (Debian's /usr/lib/cni) gets the plugins there, inside the
// root, and says so; a link to a directory of other programs is refused.
func TestSymlinkedPluginDir(t *testing.T) {
	f := newFixture(t)
	os.RemoveAll(filepath.Join(f.root, "opt/cni/bin"))
	hosttest.WriteTree(t, f.root, map[string]string{"/usr/lib/cni/dhcp": "debian dhcp\n"})
	if err := os.Symlink("/usr/lib/cni", filepath.Join(f.root, "opt/cni/bin")); err != nil {
		t.Fatal(err)
	}
	p := mustPlan(t, f.step(), f.h)
	if !strings.Contains(strings.Join(p.Notes, "\n"), "/opt/cni/bin leads to /usr/lib/cni: the CNI plugins are installed there") ||
		len(p.Changes) != 1 || !strings.Contains(p.Changes[0].Summary(), "into /usr/lib/cni from") {
		t.Fatalf("plan %q, notes %q", p.Summaries(), p.Notes)
	}
	if err := p.Apply(context.Background(), f.h); err != nil {
		t.Fatal(err)
	}
	if readFile(t, f.root, "/usr/lib/cni/bridge") != string(f.plugins["bridge"]) || readFile(t, f.root, "/usr/lib/cni/dhcp") != "debian dhcp\n" {
		t.Fatal("the plugins are not in the directory the link leads to, or dhcp changed")
	}
	if target, err := os.Readlink(filepath.Join(f.root, "opt/cni/bin")); err != nil || target != "/usr/lib/cni" {
		t.Fatalf("the link changed: %q %v", target, err)
	}
	if again := mustPlan(t, f.step(), f.h); !again.Empty() {
		t.Fatalf("re-run plans %q", again.Summaries())
	}

	// /opt/cni/bin -> /usr/sbin, where iproute2 keeps its own bridge.
	g := newFixture(t)
	os.RemoveAll(filepath.Join(g.root, "opt/cni/bin"))
	hosttest.WriteTree(t, g.root, map[string]string{"/usr/sbin/bridge": "iproute2\n"})
	os.Symlink("../../usr/sbin", filepath.Join(g.root, "opt/cni/bin"))
	_, err := g.step().Plan(context.Background(), g.h)
	if probs, ok := plan.Problems(err); !ok || !strings.Contains(probs[0].What, "leads to /usr/sbin, which is not a directory of CNI plugins") {
		t.Fatalf("a link to /usr/sbin: %v", err)
	}
}

// TestReleaseWithoutThePlugins: the embedded release data names no CNI
// plugins (they are only in the published manifest): a note, nothing
// planned, as for a manifest that lists none.
func TestReleaseWithoutThePlugins(t *testing.T) {
	h := hosttest.NewTestHost(t, "")
	p := mustPlan(t, &Step{Release: eksd.Default(), Arch: "amd64"}, h)
	if !p.Empty() || !strings.Contains(strings.Join(p.Notes, "\n"), "listed in the manifest EKS-D publishes, "+eksd.Default().ManifestURL()) {
		t.Fatalf("embedded release: plan %q, notes %q", p.Summaries(), p.Notes)
	}
	rel := releasetest.Release(t, "1-36", 7, "https://distro.invalid", releasetest.Binaries())
	p = mustPlan(t, &Step{Release: rel, Arch: "amd64"}, h)
	if !p.Empty() || !strings.Contains(strings.Join(p.Notes, "\n"), "lists no CNI plugins for amd64") {
		t.Fatalf("a manifest without them: plan %q, notes %q", p.Summaries(), p.Notes)
	}

	// Listed without a sha256: blocked, as bad input.
	releasetest.AddCNIPlugins(rel, "https://distro.invalid", map[string][]byte{"amd64": []byte("x")})
	rel.Status.Components[len(rel.Status.Components)-1].Assets[0].Archive.SHA256 = ""
	_, err := (&Step{Release: rel, Arch: "amd64"}).Plan(context.Background(), h)
	if probs, ok := plan.Problems(err); !ok || !badinput.Is(err) || !strings.Contains(probs[0].What, "no sha256") {
		t.Fatalf("no sha256: %v", err)
	}
}
