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

func TestParseVersionIsStrict(t *testing.T) {
	for s, want := range map[string][2]int{"1.6.20": {1, 6}, "v2.4.2": {2, 4}, "1.6.20~ds1": {1, 6}, "2.2.0-rc.1": {2, 2}, "2.2.1+unknown": {2, 2}, " 3.21.0\n": {3, 21}, "1.7": {1, 7}} {
		major, minor, err := ParseVersion(s)
		if err != nil || major != want[0] || minor != want[1] {
			t.Errorf("ParseVersion(%q) = %d, %d, %v, want %v", s, major, minor, err, want)
		}
	}
	for _, s := range []string{"x2.4.2junk", "2.4.2junk", "latest", "2", "2.4.2 1.6.20", "containerd 1.6.20", "v2.4.2x"} {
		if _, _, err := ParseVersion(s); err == nil {
			t.Errorf("ParseVersion(%q) accepted it", s)
		}
	}
}
