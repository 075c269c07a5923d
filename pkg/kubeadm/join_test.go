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

// kubeadmLoadJoin reads a JoinConfiguration as kubeadm's loader does
// (strict decoding, defaults, validation); see kubeadmLoad.
func kubeadmLoadJoin(data []byte) (*kubeadmapi.JoinConfiguration, error) {
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
			data, err := RenderJoin(workerConfig(), r, &testJoin)
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
			jc, err := kubeadmLoadJoin(data)
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
	_, err := RenderJoin(workerConfig(), eksd.Default(), &bad)
	if err == nil || !strings.Contains(err.Error(), "spec.join.token") || strings.Contains(err.Error(), bad.Token) {
		t.Fatalf("err = %v", err)
	}
}

// TestKubeadmValidatesJoinConfig: the real kubeadm accepts the file too.
func TestKubeadmValidatesJoinConfig(t *testing.T) {
	bin := kubeadmBinary(t)
	data, err := RenderJoin(workerConfig(), eksd.Default(), &testJoin)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "join.yaml")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "config", "validate", "--config", p).CombinedOutput(); err != nil {
		t.Fatalf("kubeadm config validate: %v\n%s", err, out)
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
