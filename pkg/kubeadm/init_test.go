package kubeadm

import (
	"bytes"
	"context"
	"errors"
	"github.com/eksd-kata/eksd-kata/pkg/redact"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
)

const (
	testToken   = "z2q2nz.rh6dmtlkslo39xff"
	testCertKey = "3f1c2a9b8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c"
	testHash    = "sha256:5beafb7ec967a66642a35ffdc7bcd244200d4eb8f86148fc053dece2c60e39f3"
	kubeadmBin  = "/usr/local/bin/kubeadm"
)

// initOutput is the end of a real kubeadm init's output (see
// TestKubeadmInitDryRun), with a certificate key line added.
var initOutput = `[init] Using Kubernetes version: v1.36.2-eks-1-36-7
[upload-certs] Using certificate key:
` + testCertKey + `
Your Kubernetes control-plane has initialized successfully!

Then you can join any number of worker nodes by running the following on each as root:

kubeadm join 192.0.2.10:6443 --token ` + testToken + ` \
	--discovery-token-ca-cert-hash ` + testHash + ` 
`

// initRunner plays kubeadm init: it leaves what init leaves, then prints
// the scripted output.
type initRunner struct {
	*hosttest.FakeRunner
	root string
}

func (r *initRunner) Run(ctx context.Context, c host.Cmd) error {
	if len(c.Argv) > 1 && c.Argv[1] == "init" {
		writeControlPlane(r.root)
	}
	return r.FakeRunner.Run(ctx, c)
}

func writeControlPlane(root string) {
	for p, content := range map[string]string{
		AdminConf:    "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://192.0.2.10:6443\n",
		CACert:       "-----BEGIN CERTIFICATE-----\n",
		APIServerPod: "kind: Pod\n",
	} {
		_ = os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		_ = os.WriteFile(filepath.Join(root, p), []byte(content), 0o600)
	}
}

// fixtureHost is a fresh node: alice ran sudo, kubeadm is installed.
func fixtureHost(t *testing.T) (*host.Host, string, *hosttest.FakeRunner) {
	root := t.TempDir()
	hosttest.WriteTree(t, root, map[string]string{
		"/etc/passwd":   "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1001:Alice:/home/alice:/bin/bash\n",
		kubeadmBin:      "#!/bin/sh\n",
		"/home/alice/x": "",
	})
	if err := os.Chmod(filepath.Join(root, kubeadmBin), 0o755); err != nil {
		t.Fatal(err)
	}
	h := hosttest.NewTestHost(t, root)
	fr := &hosttest.FakeRunner{}
	fr.Script(hosttest.FakeResult{Stdout: initOutput}, kubeadmBin, "init", "--config", ConfigFile)
	h.Exec = &initRunner{FakeRunner: fr, root: root}
	return h, root, fr
}

var stamp = time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)

func initStep(out *bytes.Buffer, probe Probe) *InitStep {
	return &InitStep{Config: testConfig(), Release: eksd.Default(), Out: out, Probe: probe,
		SudoUser: "alice", Now: func() time.Time { return stamp }}
}

func probeOK(context.Context, *host.Host) error { return nil }

// TestInitRedactsAndHandsOver: kubeadm init runs once through argv, its
// output is shown and logged with the token and certificate key redacted,
// alice gets admin.conf as her kubeconfig (0600, hers), the join command
// lands in a 0600 file; the next plan on the now healthy control plane is empty.
func TestInitRedactsAndHandsOver(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown the kubeconfig to alice")
	}
	h, root, fr := fixtureHost(t)
	var out bytes.Buffer
	s := initStep(&out, probeOK)
	if _, err := bootstrap.Run(context.Background(), h, []bootstrap.Step{s}, bootstrap.Options{Out: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if got := fr.Argvs(); len(got) != 1 || strings.Join(got[0], " ") != kubeadmBin+" init --config "+ConfigFile {
		t.Fatalf("commands: %q", got)
	}
	screen := out.String()
	logPath := "/var/log/eksd-kata/kubeadm-init-20260504T030201Z.log"
	logData := readFile(t, root, logPath, 0o600)
	for name, text := range map[string]string{"screen": screen, "log": logData} {
		if strings.Contains(text, testToken) || strings.Contains(text, testCertKey) {
			t.Errorf("%s shows a secret:\n%s", name, text)
		}
		if !strings.Contains(text, "--token "+redact.Hidden) || !strings.Contains(text, testHash) {
			t.Errorf("%s: want the token redacted and the discovery hash kept:\n%s", name, text)
		}
	}
	if !strings.Contains(screen, "kubeadm: Your Kubernetes control-plane has initialized successfully!") {
		t.Errorf("kubeadm's output is not streamed with its prefix:\n%s", screen)
	}
	if !strings.Contains(screen, "sudo cat "+JoinCommandFile) {
		t.Errorf("the user is not told where the join command is:\n%s", screen)
	}
	join := readFile(t, root, JoinCommandFile, 0o600)
	if join != "kubeadm join 192.0.2.10:6443 --token "+testToken+" --discovery-token-ca-cert-hash "+testHash+"\n" {
		t.Errorf("join command %q", join)
	}
	kc := readFile(t, root, "/home/alice/.kube/config", 0o600)
	if kc != readFile(t, root, AdminConf, 0o600) {
		t.Errorf("kubeconfig is not admin.conf")
	}
	for _, p := range []string{"/home/alice/.kube/config", "/home/alice/.kube"} {
		fi, err := h.FS.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if uid, gid := host.Owner(fi); uid != 1000 || gid != 1001 {
			t.Errorf("%s owned by %d:%d, want alice 1000:1001", p, uid, gid)
		}
	}
	readFile(t, root, ConfigFile, 0o600)
	wantEmptyPlan(t, s, h, "healthy control plane")
}

func wantEmptyPlan(t *testing.T, s bootstrap.Step, h *host.Host, when string) {
	t.Helper()
	p, err := s.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() {
		t.Fatalf("%s: plan %v", when, p.Summaries())
	}
}

func TestInitRefusesUnhealthyOrHalfDone(t *testing.T) {
	h, root, _ := fixtureHost(t)
	writeControlPlane(root)
	down := func(context.Context, *host.Host) error { return errors.New("connection refused") }
	if _, err := initStep(nil, down).Plan(context.Background(), h); err == nil || !strings.Contains(err.Error(), "eksd-kata reset") || !strings.Contains(err.Error(), "readyz") {
		t.Fatalf("API down: err = %v", err)
	}
	if err := os.Remove(filepath.Join(root, APIServerPod)); err != nil {
		t.Fatal(err)
	}
	// Past the certificates: another static pod, or the kubelet's config
	// (a joined worker has it), without the API server's.
	for _, p := range []string{ManifestsDir + "/etcd.yaml", KubeletConfig} {
		hosttest.WriteTree(t, root, map[string]string{p: "x\n"})
		_, err := initStep(nil, probeOK).Plan(context.Background(), h)
		if err == nil || !strings.Contains(err.Error(), "eksd-kata reset") || !strings.Contains(err.Error(), APIServerPod) || !strings.Contains(err.Error(), p) {
			t.Fatalf("half-initialised (%s): err = %v", p, err)
		}
		if err := os.Remove(filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestInitPlanFreshAndOffline: a fresh host plans the config, init, the
// kubeconfig and the join command; under --root only the config and a note
// (the certs step too).
func TestInitPlanFreshAndOffline(t *testing.T) {
	h, _, fr := fixtureHost(t)
	p, err := initStep(nil, probeOK).Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"create " + ConfigFile,
		"run " + kubeadmBin + " init --config " + ConfigFile + ", output kept in /var/log/eksd-kata/kubeadm-init-20260504T030201Z.log",
		"copy " + AdminConf + " to /home/alice/.kube/config (0600, owner alice)",
		"write the worker join command to " + JoinCommandFile + " (0600; it holds a bootstrap token and is not shown)",
	}
	if got := p.Summaries(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(fr.Argvs()) != 0 {
		t.Fatalf("planning ran %q", fr.Argvs())
	}
	// Offline, both steps that run kubeadm init's phases plan the config
	// and say what runs on the node.
	h.Offline = true
	for _, s := range []bootstrap.Step{initStep(nil, nil), certsStep()} {
		p, err = s.Plan(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Summaries(); len(got) != 1 || got[0] != "create "+ConfigFile || !strings.Contains(strings.Join(p.Notes, "\n"), "skipped (--root)") {
			t.Fatalf("%s: offline plan %v, notes %v", s.Name(), got, p.Notes)
		}
	}
}

func TestInitUnknownSudoUser(t *testing.T) {
	h, _, _ := fixtureHost(t)
	s := initStep(nil, probeOK)
	s.SudoUser = "mallory"
	_, err := s.Plan(context.Background(), h)
	var in *badinput.Error
	if !errors.As(err, &in) || !strings.Contains(err.Error(), "mallory") {
		t.Fatalf("err = %v", err)
	}
}

func readFile(t *testing.T, root, p string, mode os.FileMode) string {
	t.Helper()
	real := filepath.Join(root, p)
	fi, err := os.Stat(real)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != mode {
		t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), mode)
	}
	b, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestInitUploadsCertsForMoreControlPlanes: with a controlPlaneEndpoint,
// init uploads the certificates and both join commands land in 0600
// files; the certificate key is shown nowhere else. When init printed no
// control-plane command, the step fails before writing the worker's file.
func TestInitUploadsCertsForMoreControlPlanes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown the kubeconfig to alice")
	}
	cpJoin := "kubeadm join cp.example.com:6443 --token " + testToken + " --discovery-token-ca-cert-hash " + testHash + " --control-plane --certificate-key " + testCertKey
	output := initOutput + "\nYou can now join any number of control-plane nodes running the following command on each as root:\n\n" +
		"  kubeadm join cp.example.com:6443 --token " + testToken + " \\\n\t--discovery-token-ca-cert-hash " + testHash + " \\\n\t--control-plane --certificate-key " + testCertKey + "\n"
	for _, tc := range []struct {
		name, output string
		wantErr      string
	}{
		{"both printed", output, ""},
		{"no control-plane command", initOutput, "no control-plane join command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, root, fr := fixtureHost(t)
			argv := []string{kubeadmBin, "init", "--config", ConfigFile, "--upload-certs"}
			fr.Script(hosttest.FakeResult{Stdout: tc.output}, argv...)
			var out bytes.Buffer
			s := initStep(&out, probeOK)
			s.Config.Spec.Network.ControlPlaneEndpoint = "cp.example.com"
			_, err := bootstrap.Run(context.Background(), h, []bootstrap.Step{s}, bootstrap.Options{Out: &out})
			if got := fr.Argvs(); len(got) != 1 || strings.Join(got[0], " ") != strings.Join(argv, " ") {
				t.Fatalf("commands: %q", got)
			}
			if strings.Contains(out.String(), testCertKey) || strings.Contains(out.String(), testToken) {
				t.Fatalf("a secret is shown:\n%s", out.String())
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "upload-certs") {
					t.Fatalf("err = %v", err)
				}
				for _, p := range []string{JoinCommandFile, JoinControlPlaneCommandFile} {
					if _, err := os.Stat(filepath.Join(root, p)); err == nil {
						t.Errorf("%s written", p)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if got := readFile(t, root, JoinControlPlaneCommandFile, 0o600); got != cpJoin+"\n" {
				t.Errorf("control-plane join command %q", got)
			}
			if got := readFile(t, root, JoinCommandFile, 0o600); strings.Contains(got, "--control-plane") || !strings.Contains(got, testToken) {
				t.Errorf("worker join command %q", got)
			}
			if !strings.Contains(out.String(), JoinControlPlaneCommandFile) || !strings.Contains(out.String(), "two hours") {
				t.Errorf("the user is not told where the control-plane join command is, or for how long it works:\n%s", out.String())
			}
			if !strings.Contains(readFile(t, root, ConfigFile, 0o600), "controlPlaneEndpoint: cp.example.com") {
				t.Errorf("the ClusterConfiguration has no controlPlaneEndpoint")
			}
		})
	}
}

// TestInitRerunWritesMissingJoinCommands: a run that stopped after kubeadm
// init left no join command files; the re-run on the healthy control plane
// writes them, the control-plane one with the certificates uploaded again
// under a new key, and shows neither secret. Then nothing is left to do.
func TestInitRerunWritesMissingJoinCommands(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown the kubeconfig to alice")
	}
	h, root, fr := fixtureHost(t)
	writeControlPlane(root)
	cpJoin := "kubeadm join cp.example.com:6443 --token " + testToken + " --discovery-token-ca-cert-hash " + testHash + " --control-plane --certificate-key " + testCertKey
	fr.Script(hosttest.FakeResult{Stdout: "[upload-certs] Storing the certificates in Secret \"kubeadm-certs\" in the \"kube-system\" Namespace\n[upload-certs] Using certificate key:\n" + testCertKey + "\n"},
		kubeadmBin, "init", "phase", "upload-certs", "--upload-certs", "--config", ConfigFile)
	fr.Script(hosttest.FakeResult{Stdout: cpJoin + " \n"}, kubeadmBin, "token", "create", "--print-join-command", "--certificate-key", testCertKey, "--kubeconfig", AdminConf)
	var out bytes.Buffer
	s := initStep(&out, probeOK)
	s.Config.Spec.Network.ControlPlaneEndpoint = "cp.example.com"
	if _, err := bootstrap.Run(context.Background(), h, []bootstrap.Step{s}, bootstrap.Options{Out: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if got := fr.Argvs(); len(got) != 2 || got[0][1] != "init" || got[1][1] != "token" {
		t.Fatalf("commands %q", got)
	}
	if strings.Contains(out.String(), testToken) || strings.Contains(out.String(), testCertKey) {
		t.Fatalf("a secret is shown:\n%s", out.String())
	}
	if got := readFile(t, root, JoinControlPlaneCommandFile, 0o600); got != cpJoin+"\n" {
		t.Errorf("control-plane join command %q", got)
	}
	if got := readFile(t, root, JoinCommandFile, 0o600); got != "kubeadm join cp.example.com:6443 --token "+testToken+" --discovery-token-ca-cert-hash "+testHash+"\n" {
		t.Errorf("worker join command %q", got)
	}
	wantEmptyPlan(t, s, h, "both join commands written")
}
