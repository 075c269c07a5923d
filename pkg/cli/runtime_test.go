package cli

import (
	"archive/tar"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/artifacts"
	"github.com/eksd-kata/eksd-kata/pkg/containerd"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/release/releasetest"
	"github.com/eksd-kata/eksd-kata/pkg/runtimeinstall/runtimetest"
	"github.com/spf13/cobra"
)

// runtimeManifest writes a release manifest that lists containerd 2.2.7
// and runc 1.3.4 served at baseURL, as a private mirror's does, and
// returns its path and the release files.
func runtimeManifest(t *testing.T, baseURL string) (string, runtimetest.Files) {
	t.Helper()
	r, files := runtimetest.Release(t, "2.2.7", "1.3.4", runtime.GOARCH, baseURL)
	m := filepath.Join(t.TempDir(), "kubernetes-1-36-eks-7.yaml")
	if err := os.WriteFile(m, releasetest.Manifest(t, r), 0o644); err != nil {
		t.Fatal(err)
	}
	return m, files
}

// mirrorManifest serves the release files of runtimeManifest.
func mirrorManifest(t *testing.T) (string, *runtimetest.Server) {
	t.Helper()
	srv := runtimetest.NewServer(t, nil)
	m, files := runtimeManifest(t, srv.URL)
	srv.Put(files)
	return m, srv
}

func executable(t *testing.T, root string, files map[string]string) {
	t.Helper()
	hosttest.WriteTree(t, root, files)
	for p := range files {
		if strings.Contains(p, "bin/") {
			if err := os.Chmod(filepath.Join(root, p), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func fileIs(t *testing.T, root, p, want string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, p))
	if err != nil || !strings.Contains(string(b), want) {
		t.Errorf("%s: %v, want it to hold %q:\n%s", p, err, want, b)
		return
	}
	if fi, _ := os.Stat(filepath.Join(root, p)); fi.Mode().Perm() != mode {
		t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), mode)
	}
}

// TestBootstrapInstallsContainerd: over an image without containerd, the
// dry run lists the install and the config for the containerd to come,
// downloading nothing; the run installs containerd and runc from the
// manifest's release files and writes a config of the version they read;
// a re-run changes nothing.
func TestBootstrapInstallsContainerd(t *testing.T) {
	m, srv := mirrorManifest(t)
	root := t.TempDir()
	args := []string{"--root", root, "bootstrap", "--only", "runtime,containerd", "--release-manifest", m}
	code, out, stderr := run(t, "", append(args, "--dry-run")...)
	if code != ExitOK || srv.Hits() != 0 {
		t.Fatalf("dry run: exit %d, %d downloads\n%s%s", code, srv.Hits(), out, stderr)
	}
	containsAll(t, "dry run", out,
		"[1/2] runtime: 3 change(s) planned",
		"  + install containerd 2.2.7 into /usr/local/bin from "+srv.URL+"/containerd-static-2.2.7-linux-"+runtime.GOARCH+".tar.gz (containerd is not installed; downloaded, sha256 verified before anything is written)",
		"  + install runc 1.3.4 as /usr/local/sbin/runc from "+srv.URL+"/runc."+runtime.GOARCH,
		"+++ b/etc/systemd/system/containerd.service",
		"note: containerd 2.2.7 (installed by eksd-kata): config version 3")

	code, out, stderr = run(t, "", args...)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	for _, p := range runtimetest.Programs {
		fileIs(t, root, "/usr/local/bin/"+p, runtimetest.Program(p, "2.2.7"), 0o755)
	}
	fileIs(t, root, "/usr/local/sbin/runc", string(runtimetest.Runc("1.3.4")), 0o755)
	fileIs(t, root, "/etc/systemd/system/containerd.service", "ExecStart=/usr/local/bin/containerd\n", 0o644)
	fileIs(t, root, "/etc/containerd/config.toml", "version = 3\n", 0o644)

	hits, before := srv.Hits(), hosttest.HashTree(t, root)
	code, out, _ = run(t, "", args...)
	if code != ExitOK || !strings.Contains(out, "bootstrap: 0 change(s) applied") || srv.Hits() != hits {
		t.Fatalf("re-run: exit %d, %d downloads\n%s", code, srv.Hits()-hits, out)
	}
	if hosttest.HashTree(t, root) != before {
		t.Fatal("the converged re-run changed the root")
	}
}

// TestInstallContainerdReplacesTheDistributionsAndResetPutsItBack: a
// distribution's containerd too old for the release stops the run before
// any change, naming the flag; with it, containerd and runc go to
// /usr/local and the unit takes the distribution's place; reset brings
// the image back as it was.
func TestInstallContainerdReplacesTheDistributionsAndResetPutsItBack(t *testing.T) {
	m, _ := mirrorManifest(t)
	root := t.TempDir()
	executable(t, root, map[string]string{
		"/usr/bin/containerd":                    "#!/bin/sh\necho containerd 1.6.20\n",
		"/usr/sbin/runc":                         "#!/bin/sh\necho runc 1.1.5\n",
		"/lib/systemd/system/containerd.service": "[Service]\nExecStart=/usr/bin/containerd\n",
		"/etc/containerd/config.toml":            "version = 2\n",
		"/etc/hostname":                          "node-1\n",
	})
	if err := os.MkdirAll(filepath.Join(root, "var/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := hosttest.HashTree(t, root)
	args := []string{"--root", root, "bootstrap", "--only", "runtime,containerd", "--release-manifest", m, "--containerd-version", "1.6.20"}
	code, out, stderr := run(t, "", args...)
	if code != ExitFailure || !strings.Contains(stderr, "containerd 1.6.20 (/usr/bin/containerd) is too old for Kubernetes 1.36") ||
		!strings.Contains(stderr, "pass --install-containerd 2.2.7 to install containerd 2.2.7") {
		t.Fatalf("exit %d, want 1 naming the flag\n%s%s", code, out, stderr)
	}
	if hosttest.HashTree(t, root) != before {
		t.Fatal("a blocked run changed the root")
	}

	code, out, stderr = run(t, "", append(args, "--install-containerd", "2.2.7")...)
	if code != ExitOK {
		t.Fatalf("--install-containerd: exit %d\n%s%s", code, out, stderr)
	}
	fileIs(t, root, "/usr/local/bin/containerd", runtimetest.Program("containerd", "2.2.7"), 0o755)
	fileIs(t, root, "/usr/local/sbin/runc", string(runtimetest.Runc("1.3.4")), 0o755)
	fileIs(t, root, "/etc/systemd/system/containerd.service", "ExecStart=/usr/local/bin/containerd\n", 0o644)
	fileIs(t, root, "/usr/bin/containerd", "containerd 1.6.20", 0o755)
	fileIs(t, root, "/etc/containerd/config.toml", "version = 3\n", 0o644)
	if !strings.Contains(out, "(--install-containerd, in place of containerd 1.6.20; sha256 verified)") {
		t.Errorf("output:\n%s", out)
	}

	code, out, stderr = run(t, "", "--root", root, "reset")
	if code != ExitOK {
		t.Fatalf("reset: exit %d\n%s%s", code, out, stderr)
	}
	containsAll(t, "reset", out, "remove /usr/local/bin/containerd (created by eksd-kata)", "remove /etc/systemd/system/containerd.service (created by eksd-kata)",
		"remove /usr/local/sbin/runc (created by eksd-kata)", "restore /etc/containerd/config.toml")
	if hosttest.HashTree(t, root) != before {
		t.Fatalf("reset did not bring the image back:\n%s", out)
	}
}

// TestRuntimeFromArtifactsDir: offline, the release files come from
// --artifacts-dir (the manifest's host is not even resolvable).
func TestRuntimeFromArtifactsDir(t *testing.T) {
	m, files := runtimeManifest(t, "https://mirror.invalid")
	dir := files.Dir(t)
	root := t.TempDir()
	code, out, stderr := run(t, "", "--root", root, "bootstrap", "--only", "runtime", "--release-manifest", m, "--artifacts-dir", dir)
	if code != ExitOK || !strings.Contains(out, "install containerd 2.2.7 (containerd, containerd-shim-runc-v2, containerd-stress, ctr) into /usr/local/bin from https://mirror.invalid/") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	fileIs(t, root, "/usr/local/bin/ctr", runtimetest.Program("ctr", "2.2.7"), 0o755)
}

// TestRuntimeFlagsBadInput: requests that cannot be met exit 2, name the
// flag, and change nothing.
func TestRuntimeFlagsBadInput(t *testing.T) {
	m, _ := mirrorManifest(t)
	dir := t.TempDir()
	unsafe := filepath.Join(dir, runtimetest.ContainerdName("2.2.7", runtime.GOARCH))
	data := runtimetest.Tarball(t, runtimetest.Entry{Name: "bin/containerd", Body: "x"}, runtimetest.Entry{Name: "bin/ctr", Type: tar.TypeSymlink, Linkname: "/usr/bin/sudo"})
	if err := os.WriteFile(unsafe, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := runtimetest.SHA256(data)
	root := t.TempDir()
	before := hosttest.HashTree(t, root)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--containerd-sha256", sum}, "--containerd-sha256 checks the tarball of --install-containerd, which is not given"},
		{[]string{"--install-containerd", "1.7.28"}, "--install-containerd 1.7.28: containerd 1.7.28 is too old for Kubernetes 1.36"},
		{[]string{"--install-containerd", "9.9.9"}, "pass --containerd-sha256 SUM from the release page"},
		{[]string{"--install-containerd", "2.3.4", "--containerd-sha256", sum}, "--containerd-sha256: eksd-kata carries the checksum of containerd 2.3.4 itself"},
		{[]string{"--install-containerd", unsafe}, "refusing to install without a checksum; pass --containerd-sha256 SUM"},
		{[]string{"--install-containerd", unsafe, "--containerd-sha256", sum}, `archive entry "bin/ctr" is a symlink to "/usr/bin/sudo", outside the tree`},
		{[]string{"--install-containerd", unsafe, "--containerd-sha256", strings.Repeat("0", 64)}, "sha256 is " + sum},
	} {
		code, out, stderr := run(t, "", append([]string{"--root", root, "bootstrap", "--only", "runtime", "--release-manifest", m}, tc.args...)...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, want 2 saying %q\n%s%s", tc.args, code, tc.want, out, stderr)
		}
	}
	if hosttest.HashTree(t, root) != before {
		t.Fatal("bad input changed the root")
	}
}

// TestCheckSaysWhatBootstrapInstalls: on an image without containerd,
// check says which containerd and runc bootstrap installs, and does not
// fail for it.
func TestCheckSaysWhatBootstrapInstalls(t *testing.T) {
	ctr, _ := artifacts.Newest(artifacts.Containerd, runtime.GOARCH, func(v string) bool {
		return containerd.SupportsKubernetes(v, eksd.ChannelMinor(eksd.Default().Channel())) == nil
	})
	runc, _ := artifacts.Newest(artifacts.Runc, runtime.GOARCH, nil)
	_, out, stderr := run(t, "", "--root", t.TempDir(), "check", "-o", "json")
	want := `"message": "containerd is not installed: bootstrap installs containerd ` + ctr.Version + ` and runc ` + runc.Version + ` from their releases"`
	if !strings.Contains(out, want) || !strings.Contains(out, `"id": "containerd.installed",`+"\n      \"category\": \"containerd\",\n      \"status\": \"warn\"") {
		t.Fatalf("check does not say %s as a warning:\n%s%s", want, out, stderr)
	}
}

func TestCompleteInstallContainerd(t *testing.T) {
	got, d := complete(t, "bootstrap", "--install-containerd", "2.2")
	if !slices.Contains(got, "2.2") || !slices.Contains(got, "2.2.7") || slices.Contains(got, "2.3.4") || d != cobra.ShellCompDirectiveNoFileComp {
		t.Errorf("--install-containerd 2.2: %q, directive %d", got, d)
	}
	if got[0] != "2.2" {
		t.Errorf("the line comes before its versions: %q", got)
	}
	if got, d := complete(t, "join", "--install-containerd", "./dl/"); len(got) != 0 || d != cobra.ShellCompDirectiveDefault {
		t.Errorf("a path: %q, directive %d; want files", got, d)
	}
}

// TestRuntimeCrashAnywhereThenRerunConverges kills the runtime step's
// install at every fault point in turn (before and after each program,
// the unit and the record are renamed into place): each time a re-run
// installs what is missing, leaves the tree an uninterrupted run leaves,
// and a run after it changes nothing.
func TestRuntimeCrashAnywhereThenRerunConverges(t *testing.T) {
	m, files := runtimeManifest(t, "https://mirror.invalid")
	dir := files.Dir(t)
	args := func(root string) []string {
		return []string{"--root", root, "bootstrap", "--only", "runtime", "--release-manifest", m, "--artifacts-dir", dir}
	}
	// The record holds the programs' identities, which differ from tree to
	// tree: the trees are compared without it, and the run after shows it right.
	record := func(root string) string { return filepath.Join(root, "var/lib/eksd-kata/runtime.json") }
	withoutRecord := func(root string) string {
		data, err := os.ReadFile(record(root))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(record(root)); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := os.WriteFile(record(root), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}()
		return treeHash(t, root)
	}
	ref := foundHost(t)
	var fc faultCounter
	if code, out, stderr := runFault(t, fc.hit, args(ref)...); code != ExitOK {
		t.Fatalf("uninterrupted run: exit %d\n%s%s", code, out, stderr)
	}
	points := fc.count()
	want := withoutRecord(ref)
	if points < 12 {
		t.Fatalf("only %d fault points: the hooks are not wired", points)
	}
	for at := 1; at <= points; at++ {
		root := foundHost(t)
		killAt(t, at, args(root))
		if code, out, stderr := run(t, "", args(root)...); code != ExitOK {
			t.Fatalf("fault point %d: re-run exit %d\n%s%s", at, code, out, stderr)
		}
		if got := withoutRecord(root); got != want {
			t.Fatalf("fault point %d: the re-run left a different tree than an uninterrupted run", at)
		}
		if code, out, _ := run(t, "", args(root)...); code != ExitOK || !strings.Contains(out, "bootstrap: 0 change(s) applied") {
			t.Fatalf("fault point %d: the run after the re-run: exit %d\n%s", at, code, out)
		}
	}
	t.Logf("%d fault points, each converged", points)
}
