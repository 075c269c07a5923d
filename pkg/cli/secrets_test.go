package cli

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
)

// TestNoSecretInAnyOutput drives bootstrap, join, reset and config print,
// each on its success and its failure path, with a known bootstrap token
// and certificate key given as flags and in spec.join, in text and JSON
// logs. Neither secret may be in any byte written: stdout, stderr, the logs
// under /var/log/eksd-kata, or a file under /etc/eksd-kata that is not 0600.
func TestNoSecretInAnyOutput(t *testing.T) {
	// The key is what a Set must know by value: 64 hex digits are a
	// checksum's shape too, so nothing hides them by their look alone.
	const token, key = "s3cr3t.t0k3nt0k3nt0k3n0", "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7"
	joinFlags := []string{"--token", token, "--discovery-token-ca-cert-hash", goodHash,
		"--control-plane", "--certificate-key=" + key, "--advertise-address", "192.0.2.11", "--node-name", "node-2"}
	configDir := t.TempDir()
	configFile := filepath.Join(configDir, "join.yaml")
	hosttest.WriteTree(t, configDir, map[string]string{"/join.yaml": `apiVersion: eksd-kata.io/v1alpha1
kind: NodeConfig
spec:
  node: {name: node-2, advertiseAddress: 192.0.2.11}
  join:
    controlPlaneEndpoint: cp.example.com:6443
    token: ` + token + `
    discoveryTokenCACertHash: ` + goodHash + `
    controlPlane: true
    certificateKey: ` + key + `
`})
	// breakEtc makes the first write under /etc/eksd-kata fail, so the step
	// fails and the hint quotes the command line.
	breakEtc := func(t *testing.T, root string) {
		hosttest.WriteTree(t, root, map[string]string{"/etc/eksd-kata": "not a directory\n"})
	}
	breakSysctl := func(t *testing.T, root string) {
		hosttest.WriteTree(t, root, map[string]string{"/etc/sysctl.d": "not a directory\n"})
	}
	cases := []struct {
		name  string
		args  []string
		setup func(*testing.T, string)
		fails bool
	}{
		{"join flags", append([]string{"join", "cp.example.com:6443", "--only", "kubeadm"}, joinFlags...), nil, false},
		{"join flags, failing", append([]string{"join", "cp.example.com:6443", "--only", "kubeadm"}, joinFlags...), breakEtc, true},
		{"join config", []string{"--config", configFile, "join", "--only", "kubeadm"}, nil, false},
		{"join config, failing", []string{"--config", configFile, "join", "--only", "kubeadm"}, breakEtc, true},
		{"join config, dry run", []string{"--config", configFile, "join", "--dry-run", "--ignore", "all", "--containerd-version", "2.2.1"}, nil, false},
		{"join, bad flag", append([]string{"join", "cp.example.com:6443", "--no-such-flag"}, joinFlags...), nil, true},
		{"bootstrap", []string{"--config", configFile, "bootstrap", "--only", "host"}, nil, false},
		{"bootstrap, failing", []string{"--config", configFile, "bootstrap", "--only", "host"}, breakSysctl, true},
		{"reset", []string{"--config", configFile, "reset"}, nil, false},
		{"config print", []string{"--config", configFile, "config", "print"}, nil, false},
		{"config print, flags", append([]string{"config", "print", "--role", "nope"}, "--token="+token), nil, true},
	}
	for _, tc := range cases {
		for _, logs := range [][]string{nil, {"-v"}, {"--log-format", "json", "-v"}} {
			t.Run(tc.name+" "+strings.Join(logs, " "), func(t *testing.T) {
				root := t.TempDir()
				hosttest.WriteTree(t, root, map[string]string{"/etc/hostname": "node-2\n", "/etc/fstab": "/swapfile none swap sw 0 0\n"})
				if tc.setup != nil {
					tc.setup(t, root)
				}
				args := append(append([]string{"--root", root}, logs...), tc.args...)
				code, stdout, stderr := run(t, "", args...)
				if (code != ExitOK) != tc.fails {
					t.Fatalf("exit %d:\n%s%s", code, stdout, stderr)
				}
				if tc.fails && strings.Contains(strings.Join(args, " "), token) && strings.Contains(stderr, "run the same command again") && !strings.Contains(stderr, "<redacted>") {
					t.Errorf("the hint quotes no hidden secret:\n%s", stderr)
				}
				written := map[string]string{"stdout": stdout, "stderr": stderr}
				for _, dir := range []string{"/var/log/eksd-kata", "/etc/eksd-kata"} {
					_ = filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
						if err != nil || d.IsDir() {
							return nil
						}
						if fi, err := d.Info(); err == nil && fi.Mode().Perm() == 0o600 {
							return nil
						}
						data, err := os.ReadFile(p)
						if err != nil {
							t.Fatal(err)
						}
						written[p] = string(data)
						return nil
					})
				}
				for where, text := range written {
					for _, secret := range []string{token, key} {
						if strings.Contains(text, secret) {
							t.Errorf("%s shows a secret:\n%s", where, text)
						}
					}
				}
			})
		}
	}
}
