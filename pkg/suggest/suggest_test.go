package suggest

import "testing"

func TestClosest(t *testing.T) {
	flags := []string{"dry-run", "only", "skip", "role", "release", "no-restart"}
	for _, tc := range []struct{ name, want string }{
		{"dryrun", "dry-run"},
		{"DRY-RUN", "dry-run"},
		{"rolee", "role"},
		{"relase", "release"},
		{"norestart", "no-restart"},
		{"frobnicate", ""},
		{"x", ""},
		{"oly", "only"},
		{"kind", ""}, // "role" and "only" are more than one edit away
	} {
		if got := Closest(tc.name, flags); got != tc.want {
			t.Errorf("Closest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	// Case alone beats a candidate one edit away.
	if got := Closest("podCidr", []string{"podCIDRs", "podCIDR"}); got != "podCIDR" {
		t.Errorf("Closest(podCidr) = %q, want podCIDR", got)
	}
}
