package kubeadm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/kata"
	"k8s.io/apimachinery/pkg/runtime"
	kubeadmapi "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm"
	kubeadmscheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme"
	"k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/validation"
	kubeadmutil "k8s.io/kubernetes/cmd/kubeadm/app/util"
	"k8s.io/kubernetes/cmd/kubeadm/app/util/config/strict"
)

var testJoin = config.Join{ControlPlaneEndpoint: "192.0.2.10:6443", Token: testToken, DiscoveryTokenCACertHash: testHash}

func workerConfig() *config.NodeConfig {
	cfg := testConfig()
	cfg.Spec.Node.Role = config.RoleWorker
	cfg.Spec.Node.Name = "worker-1"
	return cfg
}

// loadInitJoin reads a JoinConfiguration as kubeadm's loader does
// (strict decoding, defaults, validation); see loadInit.
func loadInitJoin(data []byte) (*kubeadmapi.JoinConfiguration, error) {
	docs, err := kubeadmutil.SplitConfigDocuments(data)
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 {
		return nil, fmt.Errorf("want one document, got %d", len(docs))
	}
	for gvk, b := range docs {
		if err := strict.VerifyUnmarshalStrict([]*runtime.Scheme{kubeadmscheme.Scheme}, gvk, b); err != nil {
			return nil, err
		}
		obj, err := runtime.Decode(kubeadmscheme.Codecs.UniversalDecoder(), b)
		if err != nil {
			return nil, err
		}
		jc, ok := obj.(*kubeadmapi.JoinConfiguration)
		if !ok {
			return nil, fmt.Errorf("got %T", obj)
		}
		if errs := validation.ValidateJoinConfiguration(jc); len(errs) > 0 {
			return nil, errs.ToAggregate()
		}
		return jc, nil
	}
	return nil, nil
}

func TestRenderJoinRoundTripsThroughKubeadm(t *testing.T) {
	for _, r := range eksd.Embedded() {
		t.Run(r.String(), func(t *testing.T) {
			data, err := RenderJoin(workerConfig(), r, &testJoin, true)
			if err != nil {
				t.Fatal(err)
			}
			wantAPI := "apiVersion: kubeadm.k8s.io/v1beta4"
			if r.Channel() == "1-30" {
				wantAPI = "apiVersion: kubeadm.k8s.io/v1beta3"
			}
			if !strings.Contains(string(data), wantAPI) || !strings.Contains(string(data), "kind: JoinConfiguration") {
				t.Fatalf("want %s JoinConfiguration:\n%s", wantAPI, data)
			}
			jc, err := loadInitJoin(data)
			if err != nil {
				t.Fatalf("kubeadm rejects it: %v\n%s", err, data)
			}
			bt := jc.Discovery.BootstrapToken
			if bt == nil || bt.Token != testToken || bt.APIServerEndpoint != "192.0.2.10:6443" || len(bt.CACertHashes) != 1 || bt.CACertHashes[0] != testHash ||
				jc.NodeRegistration.Name != "worker-1" || jc.NodeRegistration.CRISocket != CRISocket || jc.ControlPlane != nil {
				t.Fatalf("kubeadm read back %+v", jc)
			}
		})
	}
}

func TestRenderJoinRefusesBadInputWithoutShowingToken(t *testing.T) {
	bad := testJoin
	bad.Token = "ABCDEF.0123456789abcdef"
	_, err := RenderJoin(workerConfig(), eksd.Default(), &bad, true)
	if err == nil || !strings.Contains(err.Error(), "spec.join.token") || strings.Contains(err.Error(), bad.Token) {
		t.Fatalf("err = %v", err)
	}
}

// TestKubeadmValidatesJoinConfig: the real kubeadm accepts the file too,
// for a worker and for a control plane.
func TestKubeadmValidatesJoinConfig(t *testing.T) {
	bin := kubeadmBinary(t)
	for name, c := range map[string]struct {
		cfg  *config.NodeConfig
		join config.Join
	}{
		"worker":        {workerConfig(), testJoin},
		"control plane": {controlPlaneJoinConfig(), testJoinControlPlane},
	} {
		data, err := RenderJoin(c.cfg, eksd.Default(), &c.join, true)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "join.yaml")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, "config", "validate", "--config", p).CombinedOutput(); err != nil {
			t.Fatalf("%s: kubeadm config validate: %v\n%s", name, err, out)
		}
	}
}

// TestJoinStep: the config is written 0600 without a diff (it holds the
// token), kubeadm join runs with --config only, and the token is in no
// output; a joined host plans nothing more, a half-joined one fails.
func TestJoinStep(t *testing.T) {
	h, root, fr := fixtureHost(t)
	fr.Script(hosttest.FakeResult{Stdout: "This node has joined the cluster\n"}, kubeadmBin, "join", "--config", JoinConfigFile)
	var out bytes.Buffer
	s := &JoinStep{Config: workerConfig(), Release: eksd.Default(), Join: testJoin, Out: &out}
	p, err := s.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	sum := strings.Join(p.Summaries(), "\n")
	for _, c := range p.Changes {
		if err := c.Apply(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(sum, testToken) || strings.Contains(out.String(), testToken) {
		t.Fatalf("token shown:\n%s\n%s", sum, out.String())
	}
	if got := fr.Argvs(); len(got) != 1 || strings.Join(got[0], " ") != kubeadmBin+" join --config "+JoinConfigFile {
		t.Fatalf("commands %q", got)
	}
	if data := readFile(t, root, JoinConfigFile, 0o600); !strings.Contains(data, testToken) {
		t.Fatalf("join config without the token:\n%s", data)
	}
	if strings.Contains(strings.Join(p.Notes, "\n"), "spec.kubeadm") {
		t.Fatalf("a note about spec.kubeadm, which is not set: %v", p.Notes)
	}
	s.Config.Spec.Kubeadm.KubeletConfiguration = map[string]any{"maxPods": 60}
	if p, err := s.Plan(context.Background(), h); err != nil || !strings.Contains(strings.Join(p.Notes, "\n"), "spec.kubeadm is for kubeadm init") {
		t.Fatalf("spec.kubeadm on a joining node: %v %v", p.Notes, err)
	}
	s.Config.Spec.Kubeadm = config.Kubeadm{}
	hosttest.WriteTree(t, root, map[string]string{KubeletConf: "x"})
	if p, err = s.Plan(context.Background(), h); err != nil || !p.Empty() {
		t.Fatalf("joined host: %v %v", p.Summaries(), err)
	}
	if err := os.Remove(filepath.Join(root, KubeletConf)); err != nil {
		t.Fatal(err)
	}
	hosttest.WriteTree(t, root, map[string]string{BootstrapKubelet: "x"})
	if _, err := s.Plan(context.Background(), h); err == nil || !strings.Contains(err.Error(), "eksd-kata reset") {
		t.Fatalf("half-joined: err = %v", err)
	}
}

var testJoinControlPlane = config.Join{ControlPlaneEndpoint: "cp.example.com:6443", Token: testToken, DiscoveryTokenCACertHash: testHash,
	ControlPlane: true, CertificateKey: testCertKey}

func controlPlaneJoinConfig() *config.NodeConfig {
	cfg := testConfig()
	cfg.Spec.Node.Name = "cp-2"
	cfg.Spec.Node.AdvertiseAddress = "192.0.2.11"
	return cfg
}

// TestRenderJoinControlPlane: kubeadm's loader reads back a control-plane
// join (its own API endpoint and the certificate key) and the Kata label
// the kubelet registers with; a worker without Kata gets no label.
func TestRenderJoinControlPlane(t *testing.T) {
	for _, r := range []*eksd.Release{eksd.Default(), mustLookup(t, "1-30")} {
		t.Run(r.String(), func(t *testing.T) {
			data, err := RenderJoin(controlPlaneJoinConfig(), r, &testJoinControlPlane, true)
			if err != nil {
				t.Fatal(err)
			}
			jc, err := loadInitJoin(data)
			if err != nil {
				t.Fatalf("kubeadm rejects it: %v\n%s", err, data)
			}
			cp := jc.ControlPlane
			if cp == nil || cp.CertificateKey != testCertKey || cp.LocalAPIEndpoint.AdvertiseAddress != "192.0.2.11" || cp.LocalAPIEndpoint.BindPort != 6443 {
				t.Fatalf("control plane %+v\n%s", cp, data)
			}
			if jc.NodeRegistration.Taints == nil || len(jc.NodeRegistration.Taints) != 0 {
				t.Errorf("untaintControlPlane: want no taints, got %v", jc.NodeRegistration.Taints)
			}
			if got := jc.NodeRegistration.KubeletExtraArgs; len(got) != 1 || got[0].Name != "node-labels" || got[0].Value != "katacontainers.io/kata-runtime=true" {
				t.Errorf("kubelet args %v", got)
			}
		})
	}
	noKata := workerConfig()
	noKata.Spec.Kata.Enabled = false
	notInstalled := workerConfig()
	for name, c := range map[string]struct {
		cfg   *config.NodeConfig
		label bool
	}{"Kata off": {noKata, true}, "Kata not installed": {notInstalled, false}} {
		data, err := RenderJoin(c.cfg, eksd.Default(), &testJoin, c.label)
		if err != nil {
			t.Fatal(err)
		}
		if jc, err := loadInitJoin(data); err != nil || len(jc.NodeRegistration.KubeletExtraArgs) != 0 || jc.NodeRegistration.Taints != nil {
			t.Fatalf("worker, %s: %v %+v", name, err, jc.NodeRegistration)
		}
	}
	worker := workerConfig()
	if _, err := RenderJoin(worker, eksd.Default(), &testJoinControlPlane, true); err == nil || !strings.Contains(err.Error(), "spec.node.role") {
		t.Fatalf("control-plane join with role worker: err = %v", err)
	}
}

func mustLookup(t *testing.T, channel string) *eksd.Release {
	t.Helper()
	r, err := eksd.Lookup(channel, 0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestValidateJoinCertificateKey: the key is required for a control plane,
// refused for a worker, and never part of an error.
func TestValidateJoinCertificateKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*config.Join)
		want string
	}{
		{"missing", func(j *config.Join) { j.CertificateKey = "" }, "spec.join.certificateKey: Required value"},
		{"malformed", func(j *config.Join) { j.CertificateKey = strings.ToUpper(testCertKey) }, "spec.join.certificateKey: Invalid value"},
		{"worker", func(j *config.Join) { j.ControlPlane = false }, "only for a control plane"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := testJoinControlPlane
			tc.edit(&j)
			_, err := RenderJoin(controlPlaneJoinConfig(), eksd.Default(), &j, true)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(strings.ToLower(err.Error()), testCertKey) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// TestJoinStepControlPlane: kubeadm join runs with the config, then alice
// gets admin.conf; a control plane is joined only when its etcd member and
// API server are there, and a re-run keeps her kubeconfig in step.
func TestJoinStepControlPlane(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown the kubeconfig to alice")
	}
	h, root, fr := fixtureHost(t)
	t.Setenv("SUDO_USER", "alice")
	s := &JoinStep{Config: controlPlaneJoinConfig(), Release: eksd.Default(), Join: testJoinControlPlane}
	p, err := s.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"create " + JoinConfigFile + " (0600; it holds the bootstrap token and the certificate key, not shown)",
		"run " + kubeadmBin + " join --config " + JoinConfigFile,
		"copy " + AdminConf + " to /home/alice/.kube/config (0600, owner alice)",
	}
	got := p.Summaries()
	if len(got) != 3 || got[0] != want[0] || !strings.HasPrefix(got[1], want[1]+", output kept in") || got[2] != want[2] {
		t.Fatalf("plan:\n%s", strings.Join(got, "\n"))
	}
	if err := p.Changes[0].Apply(context.Background(), h); err != nil { // the JoinConfiguration
		t.Fatal(err)
	}
	// Joined past the kubelet's start, before its etcd member: half-done.
	hosttest.WriteTree(t, root, map[string]string{KubeletConf: "x", CACert: "x", AdminConf: "x", APIServerPod: "x"})
	if _, err := s.Plan(context.Background(), h); err == nil || !strings.Contains(err.Error(), EtcdPod) || !strings.Contains(err.Error(), "eksd-kata reset") {
		t.Fatalf("no etcd member yet: err = %v", err)
	}
	hosttest.WriteTree(t, root, map[string]string{EtcdPod: "x"})
	if p, err = s.Plan(context.Background(), h); err != nil || strings.Join(p.Summaries(), "\n") != want[2] {
		t.Fatalf("joined, no kubeconfig yet: %v %v", p.Summaries(), err)
	}
	if err := p.Changes[0].Apply(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	wantEmptyPlan(t, s, h, "joined control plane")
	if len(fr.Argvs()) != 0 {
		t.Fatalf("planning ran %q", fr.Argvs())
	}
}

// TestJoinStepLabelsOnlyWhereKataIsInstalled: the kubelet registers with
// the Kata label only when Kata is installed on the joining node; without
// it a note names what is missing and how to add Kata and the label.
func TestJoinStepLabelsOnlyWhereKataIsInstalled(t *testing.T) {
	h, root, _ := fixtureHost(t)
	s := &JoinStep{Config: workerConfig(), Release: eksd.Default(), Join: testJoin}
	written := func() string {
		t.Helper()
		p, err := s.Plan(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Changes[0].Apply(context.Background(), h); err != nil { // the JoinConfiguration
			t.Fatal(err)
		}
		return strings.Join(p.Notes, "\n") + "\n---\n" + readFile(t, root, JoinConfigFile, 0o600)
	}
	got := written()
	for _, want := range []string{"no /opt/kata/bin/containerd-shim-kata-v2", "--install-kata " + kata.Newest() + "`", "kubectl label node worker-1 katacontainers.io/kata-runtime=true"} {
		if !strings.Contains(got, want) {
			t.Fatalf("without Kata, want %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "node-labels") {
		t.Fatalf("without Kata, the kubelet gets the label:\n%s", got)
	}
	hosttest.WriteTree(t, root, map[string]string{
		"/opt/kata/bin/containerd-shim-kata-v2":                            "shim",
		"/opt/kata/bin/qemu-system-x86_64":                                 "qemu",
		"/opt/kata/share/defaults/kata-containers/configuration-qemu.toml": "[hypervisor.qemu]\npath = \"/opt/kata/bin/qemu-system-x86_64\"\n",
	})
	got = written()
	if !strings.Contains(got, "value: katacontainers.io/kata-runtime=true") || strings.Contains(got, "Kata is not installed") {
		t.Fatalf("with Kata:\n%s", got)
	}
}
