package clip

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	if got := String("10.244.0.0/16"); got != "10.244.0.0/16" {
		t.Errorf("a short value changed: %q", got)
	}
	if got, want := String(strings.Repeat("a", 300000)), strings.Repeat("a", 64)+"… (300000 bytes)"; got != want {
		t.Errorf("String of 300000 bytes = %q, want %q", got, want)
	}
	// A character cut in two would print as garbage.
	if got, want := String("a"+strings.Repeat("é", 40)), "a"+strings.Repeat("é", 31)+"… (81 bytes)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
