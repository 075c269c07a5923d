package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// runVerify runs the verify verb alone.
func runVerify(t *testing.T, root string, args ...string) (int, string) {
	t.Helper()
	g := &globals{root: root, stdin: strings.NewReader("")}
	cmd := newVerifyCmd(g)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		out.WriteString(err.Error())
	}
	return exitCode(err), out.String()
}

func TestVerifyBadUsage(t *testing.T) {
	for _, tc := range []struct {
		name, root string
		args       []string
		want       string
	}{
		{"under --root", t.TempDir(), nil, "does not work under --root"},
		{"kata disabled", "/", []string{"--kata=false", "--node-name", "n1"}, "kata is disabled"},
		{"zero timeout", "/", []string{"--timeout", "0s"}, "--timeout must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runVerify(t, tc.root, tc.args...)
			if code != ExitUsage || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d: %s", code, out)
			}
		})
	}
}

// No admin.conf: kubeadm has not run, and waiting would not help.
func TestVerifyWithoutKubeconfigFailsAtOnce(t *testing.T) {
	start := time.Now()
	code, out := runVerify(t, "/", "--node-name", "n1", "--kubeconfig", "/nonexistent/admin.conf")
	if code != ExitFailure || !strings.Contains(out, "has kubeadm init or join run on this host?") {
		t.Fatalf("exit %d: %s", code, out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s", d)
	}
}
