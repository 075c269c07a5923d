package systemd

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
)

// TestFirstBootUnits: each oneshot runs its verb once the network and
// containerd are up, and never again after kubeadm made this a node.
func TestFirstBootUnits(t *testing.T) {
	for file, want := range map[string]map[string]string{
		"eksd-kata-bootstrap.service": {
			"Unit.ConditionPathExists": "!/etc/kubernetes/admin.conf",
			"Service.ExecStart":        "/usr/local/bin/eksd-kata bootstrap --config /etc/eksd-kata/config.yaml",
		},
		"eksd-kata-join.service": {
			"Unit.ConditionPathExists": "!/etc/kubernetes/kubelet.conf",
			"Service.ExecStart":        "/usr/local/bin/eksd-kata join --config /etc/eksd-kata/config.yaml",
		},
	} {
		t.Run(file, func(t *testing.T) {
			f, err := os.Open(file)
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
			for k, v := range map[string]string{
				"Unit.Wants":              "network-online.target",
				"Service.Type":            "oneshot",
				"Service.RemainAfterExit": "yes",
				"Install.WantedBy":        "multi-user.target",
				"Service.StandardOutput":  "journal+console",
			} {
				want[k] = v
			}
			for k, v := range want {
				if !contains(got[k], v) {
					t.Errorf("%s = %v, want %q", k, got[k], v)
				}
			}
			if after := strings.Join(got["Unit.After"], " "); !strings.Contains(after, "network-online.target") || !strings.Contains(after, "containerd.service") {
				t.Errorf("Unit.After = %q", after)
			}
		})
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

// TestContainerdUnit: the unit containerd publishes, for its release in
// /usr/local/bin: started once ready (notify), its shims left running when
// it restarts, wanted at boot.
func TestContainerdUnit(t *testing.T) {
	opts, err := unit.DeserializeOptions(bytes.NewReader(Containerd))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range opts {
		got[o.Section+"."+o.Name] = o.Value
	}
	for k, v := range map[string]string{
		"Service.ExecStart":  "/usr/local/bin/containerd",
		"Service.Type":       "notify",
		"Service.Delegate":   "yes",
		"Service.KillMode":   "process",
		"Service.Restart":    "always",
		"Install.WantedBy":   "multi-user.target",
		"Unit.Documentation": "https://containerd.io",
	} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
