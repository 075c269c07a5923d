package cli

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/containerd/ctrtest"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/kubeadm"
)

// TestBootstrapRootConfigLoadsInRealContainerd is the promise of the
// containerd step: over a --root tree, bootstrap writes a config.toml that
// the real containerd of that version loads with every runtime listed;
// a second run plans nothing and writes nothing.
func TestBootstrapRootConfigLoadsInRealContainerd(t *testing.T) {
	ctrtest.RequireRoot(t)
	for _, tc := range []struct {
		name, version, release string
		bin                    func(testing.TB) string
	}{
		{"containerd-1.6", "1.6.20", "1-34", ctrtest.Containerd16},
		{"containerd-2.4", "2.4.2", "1-36", ctrtest.Containerd2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := tc.bin(t)
			root := t.TempDir()
			hosttest.WriteTree(t, root, map[string]string{
				"/etc/fstab": "UUID=1 / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n",
			})
			args := []string{"--root", root, "bootstrap", "--only", "host,containerd",
				"--containerd-version", tc.version, "--release", tc.release,
				"--hypervisors", "qemu,clh", "--cgroup-driver", "cgroupfs"}
			code, out, stderr := run(t, "", args...)
			if code != ExitOK {
				t.Fatalf("bootstrap exit %d\n%s%s", code, out, stderr)
			}
			data, err := os.ReadFile(filepath.Join(root, "etc/containerd/config.toml"))
			if err != nil {
				t.Fatal(err)
			}

			d := ctrtest.Start(t, bin, data)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cfg, err := ctrtest.DialCRI(t, d).Config(ctx)
			if err != nil {
				t.Fatalf("%v\n%s", err, d.LogTail(20))
			}
			var names []string
			for n := range cfg.Containerd.Runtimes {
				names = append(names, n)
			}
			slices.Sort(names)
			if want := []string{"kata", "kata-clh", "kata-qemu", "runc"}; !slices.Equal(names, want) {
				t.Fatalf("containerd %s loaded runtimes %v, want %v", tc.version, names, want)
			}
			if rt := cfg.Containerd.Runtimes["kata-clh"]; rt.Type != "io.containerd.kata.v2" || rt.Options["ConfigPath"] != "/opt/kata/share/defaults/kata-containers/configuration-clh.toml" {
				t.Errorf("kata-clh as containerd sees it: %+v", rt)
			}

			before := hosttest.HashTree(t, root)
			code, out, stderr = run(t, "", args...)
			if code != ExitOK || !strings.Contains(out, "bootstrap: 0 change(s) applied") {
				t.Fatalf("re-run: exit %d\n%s%s", code, out, stderr)
			}
			if hosttest.HashTree(t, root) != before {
				t.Fatal("the converged re-run changed the root")
			}
		})
	}
}

func TestBootstrapDryRunChangesNothing(t *testing.T) {
	root := t.TempDir()
	hosttest.WriteTree(t, root, map[string]string{"/etc/fstab": "/dev/sda2 none swap sw 0 0\n"})
	before := hosttest.HashTree(t, root)
	code, out, stderr := run(t, "", "--root", root, "bootstrap", "--only", "host,containerd", "--containerd-version", "2.4.2", "--dry-run")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	if !strings.Contains(out, "+++ b/etc/containerd/config.toml") || !strings.Contains(out, "dry run: nothing changed") {
		t.Fatalf("dry-run output:\n%s", out)
	}
	if hosttest.HashTree(t, root) != before {
		t.Fatal("--dry-run changed the root")
	}
}

// TestBootstrapBadInput: each exits 2 naming the problem, and the root is
// unchanged although the host step had changes to make.
func TestBootstrapBadInput(t *testing.T) {
	base := []string{"bootstrap", "--only", "host,containerd", "--containerd-version", "2.4.2"}
	cases := []struct {
		name  string
		files map[string]string
		args  []string
		want  string
	}{
		{"malformed config.toml", map[string]string{"/etc/containerd/config.toml": "version = 2\n[plugins\n"}, nil, "/etc/containerd/config.toml:2:"},
		{"config version 3 for containerd 1.x", map[string]string{"/etc/containerd/config.toml": "version = 3\n"}, []string{"--containerd-version", "1.7.28", "--release", "1-34"}, "config.toml"},
		{"firecracker without devmapper", nil, []string{"--hypervisors", "fc"}, "devmapper"},
		{"no containerd version under --root", nil, []string{"--containerd-version", ""}, "--containerd-version"},
		{"bad containerd version", nil, []string{"--containerd-version", "latest"}, "--containerd-version"},
		{"unknown step", nil, []string{"--only", "host,kubelet"}, `unknown step "kubelet"`},
		{"everything skipped", nil, []string{"--skip", "host,containerd"}, "no step"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			files := map[string]string{"/etc/fstab": "/dev/sda2 none swap sw 0 0\n"}
			for k, v := range tc.files {
				files[k] = v
			}
			hosttest.WriteTree(t, root, files)
			before := hosttest.HashTree(t, root)
			args := append(append([]string{"--root", root}, base...), tc.args...)
			code, out, stderr := run(t, "", args...)
			if code != ExitUsage || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d (want 2), stderr should name %q:\n%s%s", code, tc.want, out, stderr)
			}
			if hosttest.HashTree(t, root) != before {
				t.Fatal("bad input changed the root")
			}
		})
	}
}

func TestBootstrapTooOldContainerdFails(t *testing.T) {
	root := t.TempDir()
	code, _, stderr := run(t, "", "--root", root, "bootstrap", "--only", "containerd", "--containerd-version", "1.6.20", "--release", "1-36")
	if code != ExitFailure || !strings.Contains(stderr, "containerd 1.6.20 is too old for Kubernetes 1.36") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// TestBootstrapEveryStepUnderRoot: all eleven steps plan and run over an
// offline root (the cluster steps only say what they would do there), and
// the second run changes nothing.
func TestBootstrapEveryStepUnderRoot(t *testing.T) {
	root := t.TempDir()
	args := []string{"--root", root, "bootstrap", "--containerd-version", "2.4.2", "--ignore", "all", "--skip", "binaries,cni", "--node-name", "node-1", "--advertise-address", "192.0.2.10"}
	code, out, stderr := run(t, "", args...)
	if code != ExitOK || !strings.Contains(out, "in 10 step(s)") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc/eksd-kata/kubeadm.yaml")); err != nil || !strings.Contains(string(b), "advertiseAddress: 192.0.2.10") {
		t.Fatalf("kubeadm.yaml: %v\n%s", err, b)
	}
	if fi, _ := os.Stat(filepath.Join(root, "etc/eksd-kata/kubeadm.yaml")); fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeadm.yaml mode %v, want 0600", fi.Mode().Perm())
	}
	before := hosttest.HashTree(t, root)
	code, out, _ = run(t, "", args...)
	if code != ExitOK || !strings.Contains(out, "bootstrap: 0 change(s) applied") {
		t.Fatalf("re-run: exit %d\n%s", code, out)
	}
	if hosttest.HashTree(t, root) != before {
		t.Fatal("the converged re-run changed the root")
	}
}

// TestInitSkipsKubeconfigsOnlyAfterTheCertsStep: kubeadm init leaves out
// its kubeconfig phase only in a run whose certs step made the files.
func TestInitSkipsKubeconfigsOnlyAfterTheCertsStep(t *testing.T) {
	for _, tc := range []struct {
		only, skip []string
		want       bool
	}{
		{nil, nil, true},
		{nil, []string{"certs"}, false},
		{[]string{"kubeadm"}, nil, false},
		{[]string{"certs", "kubeadm"}, nil, true},
	} {
		f := &bootstrapFlags{only: tc.only, skip: tc.skip}
		for _, p := range bootstrapPhases(phaseInputs{cfg: config.Default(), rel: eksd.Default(), f: f, out: io.Discard, errOut: io.Discard}) {
			if init, ok := p.Step.(*kubeadm.InitStep); ok && init.AfterCertsStep != tc.want {
				t.Errorf("--only %v --skip %v: AfterCertsStep %v, want %v", tc.only, tc.skip, init.AfterCertsStep, tc.want)
			}
		}
	}
}
