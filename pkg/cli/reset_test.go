package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
)

// foundHost is a host as found, before any bootstrap.
func foundHost(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	hosttest.WriteTree(t, root, map[string]string{
		"/etc/fstab":                  "UUID=1 / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n",
		"/etc/selinux/config":         "SELINUX=enforcing\nSELINUXTYPE=targeted\n",
		"/etc/containerd/config.toml": "# Docker Engine\ndisabled_plugins = [\"cri\"]\n",
	})
	// Every host has /var/lib: the parents of the state directory are not
	// recorded as created, so reset would leave them.
	if err := os.MkdirAll(filepath.Join(root, "var/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// bootstrapArgs bootstraps what changes files under root.
func bootstrapArgs(root string) []string {
	return []string{"--root", root, "bootstrap", "--only", "host,containerd", "--containerd-version", "2.4.2"}
}

func mustRun(t *testing.T, args ...string) {
	t.Helper()
	if code, out, stderr := run(t, "", args...); code != ExitOK {
		t.Fatalf("%s: exit %d\n%s%s", strings.Join(args, " "), code, out, stderr)
	}
}
