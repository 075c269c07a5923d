package reset

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/cniplugins"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/containerd"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/kubeadm"
	"github.com/eksd-kata/eksd-kata/pkg/owned"
	"github.com/eksd-kata/eksd-kata/pkg/release/releasetest"
	"github.com/eksd-kata/eksd-kata/pkg/tuning"
)

// dockerConfig is what a Docker Engine install leaves: it must come back
// byte for byte.
const dockerConfig = `#   Copyright 2018-2022 Docker Inc.
disabled_plugins = ["cri"]

#root = "/var/lib/containerd"
`

// debianRoot is a node image as found: swap in fstab, Docker's containerd
// config, the usual directories.
func debianRoot(t *testing.T) string {
	root := t.TempDir()
	hosttest.WriteTree(t, root, map[string]string{
		"/etc/fstab":                       "UUID=1 / ext4 defaults 0 1\n/swap.img none swap sw 0 0\n",
		"/etc/containerd/config.toml":      dockerConfig,
		"/etc/modules-load.d/modules.conf": "# /etc/modules\n",
		"/etc/sysctl.d/README.sysctl":      "see sysctl.d(5)\n",
		"/etc/systemd/system.conf":         "[Manager]\n",
		"/etc/hostname":                    "node-1\n",
	})
	for _, d := range []string{"run", "var/lib", "var/log", "home"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A mode that is not the default must come back too.
	if err := os.Chmod(filepath.Join(root, "etc/containerd/config.toml"), 0o600); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestResetRestoresByteIdentical: host, containerd and kubeadm (config
// only, --root) applied over an image, then reset: the tree is as before,
// backup directory and /etc/eksd-kata included (reset removes them), and a
// second reset changes nothing.
func TestResetRestoresByteIdentical(t *testing.T) {
	root := debianRoot(t)
	before := hosttest.HashTree(t, root)
	h, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Spec.Node.Name = "node-1"
	cfg.Spec.Node.AdvertiseAddress = "192.0.2.10"
	cfg.Spec.Node.CgroupDriver = config.CgroupDriverSystemd
	steps := []bootstrap.Step{
		&tuning.Step{Config: cfg},
		&containerd.Step{Config: cfg, Release: eksd.Default(), Version: "2.2.1"},
		&kubeadm.InitStep{Config: cfg, Release: eksd.Default()},
	}
	ctx := context.Background()
	rep, err := bootstrap.Run(ctx, h, steps, bootstrap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed() < 4 {
		t.Fatalf("bootstrap changed only %d things", rep.Changed())
	}
	if hosttest.HashTree(t, root) == before {
		t.Fatal("bootstrap changed nothing")
	}

	var dry bytes.Buffer
	if _, err := bootstrap.Run(ctx, h, Steps(Options{}), bootstrap.Options{DryRun: true, Out: &dry}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"restore /etc/fstab", "restore /etc/containerd/config.toml", "remove " + tuning.SysctlFile + " (created by eksd-kata)", "remove " + kubeadm.ConfigFile} {
		if !strings.Contains(dry.String(), want) {
			t.Errorf("dry run does not list %q:\n%s", want, dry.String())
		}
	}

	var out bytes.Buffer
	if _, err := bootstrap.Run(ctx, h, Steps(Options{}), bootstrap.Options{Out: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if after := hosttest.HashTree(t, root); after != before {
		t.Fatalf("reset did not bring the tree back:\n%s\n%s", out.String(), listTree(t, root))
	}
	rep, err = bootstrap.Run(ctx, h, Steps(Options{}), bootstrap.Options{})
	if err != nil || rep.Changed() != 0 {
		t.Fatalf("second reset: %v changes, %v", rep, err)
	}
	if after := hosttest.HashTree(t, root); after != before {
		t.Fatal("second reset changed the tree")
	}
}

// stopSystemd adds the stop and disable reset needs to the fake.
type stopSystemd struct {
	*hosttest.FakeSystemd
	calls []string
}

func (s *stopSystemd) Stop(_ context.Context, unit string) error {
	s.calls = append(s.calls, "stop "+unit)
	return nil
}

func (s *stopSystemd) Disable(_ context.Context, units ...string) error {
	s.calls = append(s.calls, "disable "+strings.Join(units, " "))
	return nil
}

// TestResetLiveNode: kubeadm reset -f runs (argv, our kubeadm) when a
// cluster was set up, the kubelet is stopped and disabled, files are
// restored and containerd restarted to drop our runtimes.
func TestResetLiveNode(t *testing.T) {
	root := debianRoot(t)
	h := hosttest.NewTestHost(t, root)
	sd := &stopSystemd{FakeSystemd: hosttest.NewFakeSystemd()}
	sd.Units["kubelet.service"] = host.UnitState{Load: "loaded", Active: "active", UnitFileState: "enabled"}
	sd.Units[containerd.Unit] = host.UnitState{Load: "loaded", Active: "active"}
	h.Systemd = sd
	hosttest.WriteTree(t, root, map[string]string{kubeadm.AdminConf: "x", "/usr/local/bin/kubeadm": "#!/bin/sh\n"})
	if err := os.Chmod(filepath.Join(root, "usr/local/bin/kubeadm"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := h.FS.WriteFile("/etc/containerd/config.toml", []byte("version = 3\n"), 0); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep, err := bootstrap.Run(context.Background(), h, Steps(Options{Out: &out}), bootstrap.Options{Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	fr := h.Exec.(*hosttest.FakeRunner)
	if got := fr.Argvs(); len(got) != 1 || strings.Join(got[0], " ") != "/usr/local/bin/kubeadm reset -f --cri-socket "+kubeadm.CRISocket+" --cleanup-tmp-dir" {
		t.Fatalf("commands %q", got)
	}
	if strings.Join(sd.calls, ",") != "stop kubelet.service,disable kubelet.service" {
		t.Fatalf("systemd calls %v", sd.calls)
	}
	if len(sd.Restarted) != 1 || sd.Restarted[0] != containerd.Unit {
		t.Fatalf("restarted %v", sd.Restarted)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/containerd/config.toml")); string(b) != dockerConfig {
		t.Fatalf("containerd config not restored:\n%s", b)
	}
	if rep.Changed() != 6 {
		t.Errorf("changes: %+v", rep.Steps)
	}
	if strings.Contains(out.String(), "kubectl delete node") {
		t.Errorf("the first control plane is told to delete its Node:\n%s", out.String())
	}
}

// TestResetJoinedNodeNotes: on a node that joined, reset says that the
// cluster keeps its Node object and how to remove it.
func TestResetJoinedNodeNotes(t *testing.T) {
	root := debianRoot(t)
	h := hosttest.NewTestHost(t, root)
	hosttest.WriteTree(t, root, map[string]string{kubeadm.KubeletConf: "x", kubeadm.JoinConfigFile: "x", "/usr/local/bin/kubeadm": "#!/bin/sh\n"})
	if err := os.Chmod(filepath.Join(root, "usr/local/bin/kubeadm"), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := (&KubeadmStep{}).Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 1 || !strings.Contains(strings.Join(p.Notes, "\n"), "kubectl delete node") {
		t.Fatalf("plan %v, notes %v", p.Summaries(), p.Notes)
	}
}

func listTree(t *testing.T, root string) string {
	var b strings.Builder
	_ = filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			b.WriteString(strings.TrimPrefix(p, root) + " " + fi.Mode().String() + "\n")
		}
		return nil
	})
	return b.String()
}

// TestResetLeavesASymlinkAtItsOwnDirectory: a symlink where eksd-kata
// keeps a directory of its own (its log directory) is not eksd-kata's to
// remove, even to an empty directory: reset leaves it and succeeds.
func TestResetLeavesASymlinkAtItsOwnDirectory(t *testing.T) {
	root := debianRoot(t)
	hosttest.LinkDir(t, root, "/var/log/eksd-kata", "/srv/logs")
	before := hosttest.HashTree(t, root)
	h, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := bootstrap.Run(context.Background(), h, Steps(Options{}), bootstrap.Options{})
	if err != nil || rep.Changed() != 0 {
		t.Fatalf("reset: %v, %v; want nothing to do", rep, err)
	}
	if hosttest.HashTree(t, root) != before {
		t.Fatal("reset changed the tree")
	}
}

// TestResetTakesBackTheCNIPlugins: reset removes the plugins the cni step
// added, puts back the one it replaced, and keeps the plugin of another
// network that was there before, from the backups alone.
func TestResetTakesBackTheCNIPlugins(t *testing.T) {
	root := debianRoot(t)
	hosttest.WriteTree(t, root, map[string]string{"/opt/cni/bin/calico": "calico\n", "/opt/cni/bin/bridge": "old bridge\n"})
	before := hosttest.HashTree(t, root)
	plugins := releasetest.CNIPlugins()
	tgz := releasetest.CNITarball(t, plugins)
	srv := releasetest.NewServer(t, map[string][]byte{"/" + releasetest.CNIFileName("amd64"): tgz})
	rel := releasetest.Release(t, "1-36", 7, srv.URL, releasetest.Binaries())
	releasetest.AddCNIPlugins(rel, srv.URL, map[string][]byte{"amd64": tgz})
	h, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	step := &cniplugins.Step{Release: rel, Arch: "amd64", Client: srv.Client()}
	if rep, err := bootstrap.Run(ctx, h, []bootstrap.Step{step}, bootstrap.Options{}); err != nil || rep.Changed() != 1 {
		t.Fatalf("install: %v, %v", rep, err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "opt/cni/bin/bridge")); string(b) != string(plugins["bridge"]) {
		t.Fatal("the bridge plugin was not replaced")
	}

	var out bytes.Buffer
	if _, err := bootstrap.Run(ctx, h, Steps(Options{}), bootstrap.Options{Out: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"restore /opt/cni/bin/bridge", "remove /opt/cni/bin/portmap (created by eksd-kata)", "remove " + cniplugins.RecordFile} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("reset does not say %q:\n%s", want, out.String())
		}
	}
	if hosttest.HashTree(t, root) != before {
		t.Fatalf("reset did not bring the plugins back:\n%s\n%s", out.String(), listTree(t, root))
	}
}

// TestResetEksdKatasContainerd: containerd eksd-kata installed where there
// was none is stopped before its programs and unit go; one installed in
// place of a distribution's gives way to it: its unit back, systemd
// reloaded, containerd restarted.
func TestResetEksdKatasContainerd(t *testing.T) {
	for _, tc := range []struct {
		name     string
		packaged bool
		want     []string // the systemd actions, in order
	}{
		{"fresh host", false, []string{"stop containerd.service", "daemon-reload"}},
		{"in place of a package", true, []string{"daemon-reload", "restart containerd.service"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for _, d := range []string{"var/lib", "opt"} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if tc.packaged {
				hosttest.WriteTree(t, root, map[string]string{"/lib/systemd/system/containerd.service": "[Service]\nExecStart=/usr/bin/containerd\n"})
			}
			// containerd's opt plugin makes /opt/containerd the first time it
			// runs: the distribution's before eksd-kata came, or eksd-kata's.
			optDirs := func() {
				for _, d := range []string{"opt/containerd/bin", "opt/containerd/lib"} {
					if err := os.MkdirAll(filepath.Join(root, d), 0o711); err != nil {
						t.Fatal(err)
					}
				}
			}
			if tc.packaged {
				optDirs()
			}
			before := hosttest.HashTree(t, root)
			if !tc.packaged {
				optDirs()
			}
			h := hosttest.NewTestHost(t, root)
			sd := &stopSystemd{FakeSystemd: hosttest.NewFakeSystemd()}
			sd.Units[containerd.Unit] = host.UnitState{Load: "loaded", Active: "active", UnitFileState: "enabled"}
			h.Systemd = sd
			for p, mode := range map[string]os.FileMode{"/usr/local/bin/containerd": 0o755, "/usr/local/sbin/runc": 0o755, owned.ContainerdUnitPath: 0o644} {
				if _, err := h.FS.WriteFile(p, []byte("ours\n"), mode); err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			rep, err := bootstrap.Run(context.Background(), h, []bootstrap.Step{&RestoreStep{}}, bootstrap.Options{Out: &out})
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			var got []string
			for _, c := range rep.Steps[0].Changes {
				if s, ok := strings.CutPrefix(c, "systemd "); ok {
					s, _, _ = strings.Cut(s, " (")
					got = append(got, s)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("systemd actions %q, want %q\n%s", got, tc.want, strings.Join(rep.Steps[0].Changes, "\n"))
			}
			if first := rep.Steps[0].Changes[0]; tc.packaged == strings.HasPrefix(first, "systemd stop") {
				t.Errorf("first change: %s", first)
			}
			if hosttest.HashTree(t, root) != before {
				t.Fatalf("the tree is not as before:\n%s", listTree(t, root))
			}
		})
	}
}
