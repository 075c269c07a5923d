package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
)

const (
	goodCertKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	goodToken   = "k8stst.q1w2e3r4t5y6u7i8"
	goodHash    = "sha256:5beafb7ec967a66642a35ffdc7bcd244200d4eb8f86148fc053dece2c60e39f3"
)

// TestJoinBadInputExits2: a missing or malformed token, hash or endpoint
// exits 2 naming the flag, never echoes the token, and changes nothing.
func TestJoinBadInputExits2(t *testing.T) {
	root := t.TempDir()
	ok := []string{"--token", goodToken, "--discovery-token-ca-cert-hash", goodHash, "--control-plane-endpoint", "192.0.2.10:6443"}
	with := func(flag, value string) []string {
		args := []string{"--root", root, "join"}
		for i := 0; i < len(ok); i += 2 {
			switch {
			case ok[i] != flag:
				args = append(args, ok[i], ok[i+1])
			case value != "":
				args = append(args, flag, value)
			}
		}
		return args
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no token", with("--token", ""), "--token (spec.join.token): Required value"},
		{"bad token", with("--token", "ABCDEF.secretsecretsecr"), "--token: Invalid value"},
		{"no hash", with("--discovery-token-ca-cert-hash", ""), "--discovery-token-ca-cert-hash (spec.join.discoveryTokenCACertHash): Required value"},
		{"bad hash", with("--discovery-token-ca-cert-hash", "md5:abc"), "--discovery-token-ca-cert-hash: Invalid value"},
		{"no endpoint", with("--control-plane-endpoint", ""), "--control-plane-endpoint (spec.join.controlPlaneEndpoint): Required value"},
		{"bad endpoint", with("--control-plane-endpoint", "192.0.2.10"), "--control-plane-endpoint: Invalid value"},
		{"control-plane role", append(with("", ""), "--role", "control-plane"), "--role control-plane"},
		{"worker role", append(with("", ""), "--role", "worker", "--control-plane", "--certificate-key", goodCertKey), "--role worker"},
		{"no certificate key", append(with("", ""), "--control-plane"), "--certificate-key (spec.join.certificateKey): Required value"},
		{"bad certificate key", append(with("", ""), "--control-plane", "--certificate-key", "secretsecretsecr"), "--certificate-key: Invalid value"},
		{"certificate key for a worker", append(with("", ""), "--certificate-key", goodCertKey), "is only for a control plane"},
		{"endpoint twice", append(with("", ""), "192.0.2.11:6443"), "the endpoint is given twice"},
		{"two arguments", append(with("--control-plane-endpoint", ""), "192.0.2.10:6443", "192.0.2.11:6443"), "accepts at most 1 arg"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := hosttest.HashTree(t, root)
			code, stdout, stderr := run(t, "", tc.args...)
			if code != ExitUsage || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, want 2 naming %q:\n%s", code, tc.want, stderr)
			}
			if strings.Contains(stdout+stderr, "secretsecretsecr") || strings.Contains(stdout+stderr, goodToken) || strings.Contains(stdout+stderr, goodCertKey) {
				t.Fatalf("token echoed:\n%s%s", stdout, stderr)
			}
			if hosttest.HashTree(t, root) != before {
				t.Fatal("the root changed")
			}
		})
	}
}

// TestJoinDryRunHidesToken: the join plan names the 0600 JoinConfiguration
// but shows neither its content nor the secrets, whether the endpoint comes
// as a flag or, as in kubeadm's join command, as the argument.
func TestJoinDryRunHidesToken(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"worker", []string{"--control-plane-endpoint", "cp.example.com:6443"}, "(0600; it holds the bootstrap token, not shown)"},
		{"control plane, kubeadm's argument order", []string{"cp.example.com:6443", "--control-plane", "--certificate-key", goodCertKey, "--advertise-address", "192.0.2.11"},
			"(0600; it holds the bootstrap token and the certificate key, not shown)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"--root", root, "join", "--dry-run", "--only", "kubeadm", "--node-name", "node-2",
				"--token", goodToken, "--discovery-token-ca-cert-hash", goodHash}, tc.args...)
			code, out, stderr := run(t, "", args...)
			if code != ExitOK {
				t.Fatalf("exit %d:\n%s%s", code, out, stderr)
			}
			if strings.Contains(out+stderr, goodToken) || strings.Contains(out+stderr, goodCertKey) {
				t.Fatalf("a secret is shown:\n%s%s", out, stderr)
			}
			for _, want := range []string{"create /etc/eksd-kata/kubeadm-join.yaml " + tc.want, "kubeadm join: skipped (--root)"} {
				if !strings.Contains(out, want) {
					t.Errorf("missing %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestResetDryRunOnCleanRoot(t *testing.T) {
	root := t.TempDir()
	code, out, stderr := run(t, "", "--root", root, "reset", "--dry-run")
	if code != ExitOK || !strings.Contains(out, "reset: 0 change(s) planned") {
		t.Fatalf("exit %d:\n%s%s", code, out, stderr)
	}
}
