package systemd

import (
	"os"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
)

// TestFirstBootUnit: the oneshot runs bootstrap once the network and
// containerd are up, and never again after kubeadm made this a node.
func TestFirstBootUnit(t *testing.T) {
	f, err := os.Open("eksd-kata-bootstrap.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	opts, err := unit.DeserializeOptions(f)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, o := range opts {
		got[o.Section+"."+o.Name] = append(got[o.Section+"."+o.Name], o.Value)
	}
	want := map[string]string{
		"Unit.After":               "network-online.target containerd.service",
		"Unit.Wants":               "network-online.target",
		"Service.Type":             "oneshot",
		"Service.RemainAfterExit":  "yes",
		"Install.WantedBy":         "multi-user.target",
		"Unit.ConditionPathExists": "!/etc/kubernetes/admin.conf",
		"Service.StandardOutput":   "journal+console",
		"Service.ExecStart":        "/usr/local/bin/eksd-kata bootstrap --config /etc/eksd-kata/config.yaml",
	}
	for k, v := range want {
		if !contains(got[k], v) {
			t.Errorf("%s = %v, want %q", k, got[k], v)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.TrimSpace(x) == s {
			return true
		}
	}
	return false
}
