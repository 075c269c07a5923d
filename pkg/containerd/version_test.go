package containerd

import "testing"

func TestSupportsKubernetes(t *testing.T) {
	cases := []struct {
		ctrd string
		kube int
		ok   bool
	}{
		{"1.6.20", 34, true},
		{"1.6.20", 35, false},
		{"1.7.27", 35, false},
		{"1.7.28", 35, true},
		{"2.0.5", 35, false},
		{"2.1.4", 35, false},
		{"2.1.5", 35, true},
		{"2.2.0", 35, true},
		{"2.4.2", 35, true},
		{"1.7.30", 36, false},
		{"2.1.9", 36, false},
		{"2.2.1", 36, true},
		{"2.4.2", 36, true},
		{"2.2.0", 37, true},
		{"1.5.9", 30, false},
	}
	for _, c := range cases {
		err := SupportsKubernetes(c.ctrd, c.kube)
		if (err == nil) != c.ok {
			t.Errorf("containerd %s for 1.%d: err = %v, want ok=%v", c.ctrd, c.kube, err, c.ok)
		}
	}
}
