package upgrade

import (
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/noderecord"
)

// at is the record's release of an embedded release, as bootstrap writes it.
func at(t *testing.T, channel string) noderecord.Release {
	t.Helper()
	r := embedded(t, channel)
	return noderecord.Release{Name: r.String(), Channel: r.Channel(), Number: r.Number(), KubernetesVersion: r.KubernetesVersion()}
}

func embedded(t *testing.T, channel string) *eksd.Release {
	t.Helper()
	r, err := eksd.Lookup(channel, 0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSkew: the next minor and a newer number of the same channel go; a
// downgrade, a skipped minor and an older number of the channel are bad
// input that names both versions.
func TestSkew(t *testing.T) {
	newer := embedded(t, "1-36")
	newer.Spec.Number++
	for _, tc := range []struct {
		name string
		from noderecord.Release
		to   *eksd.Release
		kind Kind
		want []string // in the error
	}{
		{"next minor", at(t, "1-35"), embedded(t, "1-36"), Minor, nil},
		{"same release", at(t, "1-36"), embedded(t, "1-36"), Same, nil},
		{"newer number", at(t, "1-36"), newer, Patch, nil},
		{"older number", noderecord.Release{Name: "kubernetes-1-36-eks-8", Channel: "1-36", Number: 8, KubernetesVersion: "v1.36.2"}, embedded(t, "1-36"),
			"", []string{"kubernetes-1-36-eks-8 (Kubernetes v1.36.2)", "kubernetes-1-36-eks-7 (Kubernetes v1.36.2) is older", "--rollback"}},
		{"downgrade", at(t, "1-36"), embedded(t, "1-35"), "", []string{"kubernetes-1-36-eks-7 (Kubernetes v1.36.2)", "kubernetes-1-35-eks-13 (Kubernetes v1.35.6) is older"}},
		{"skipped minor", at(t, "1-34"), embedded(t, "1-36"), "",
			[]string{"kubernetes-1-34-eks-21 (Kubernetes v1.34.9)", "kubernetes-1-36-eks-7 (Kubernetes v1.36.2) skips a minor", "to 1.35 first (--release 1-35)"}},
	} {
		kind, err := Skew(tc.from, tc.to)
		if tc.want == nil {
			if err != nil || kind != tc.kind {
				t.Errorf("%s: %q, %v; want %q", tc.name, kind, err, tc.kind)
			}
			continue
		}
		if err == nil || !badinput.Is(err) {
			t.Fatalf("%s: %v, want bad input", tc.name, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", tc.name, err, w)
			}
		}
	}
}

// TestControlPlane: a worker or another control plane never goes past the
// API server's version; the first control plane never goes back from it.
func TestControlPlane(t *testing.T) {
	r136 := embedded(t, "1-36")
	for _, tc := range []struct {
		server string
		first  bool
		ok     bool
	}{
		{"v1.36.2-eks-1-36-7", false, true},
		{"v1.36.3", false, true},
		{"v1.35.6-eks-1-35-13", false, false},
		{"v1.36.1", false, false},
		{"v1.35.6-eks-1-35-13", true, true},
		{"v1.36.2-eks-1-36-7", true, true},
		{"v1.37.0", true, false},
	} {
		err := ControlPlane(r136, tc.server, tc.first)
		if (err == nil) != tc.ok {
			t.Errorf("server %s, first %v: %v", tc.server, tc.first, err)
		}
		if err != nil && (!badinput.Is(err) || !strings.Contains(err.Error(), tc.server) || !strings.Contains(err.Error(), "v1.36.2")) {
			t.Errorf("server %s: %v does not name both versions as bad input", tc.server, err)
		}
	}
	if err := ControlPlane(r136, "garbage", false); err == nil {
		t.Error("an unreadable server version passed")
	}
}
