package config

import (
	"strings"
	"testing"
)

// TestLongValuesAreShortenedInErrors: a 300 KB value is quoted by its
// first characters and its size, whatever field and check reports it.
func TestLongValuesAreShortenedInErrors(t *testing.T) {
	long := strings.Repeat("a", 300000)
	p := writeTemp(t, "apiVersion: eksd-kata.io/v1alpha1\nkind: NodeConfig\nspec:\n  network: {podCIDR: "+long+"}\n  node: {name: "+long+", role: "+long[:1000]+"}\n  "+long[:1000]+": 1\n")
	_, err := Load(p, osInput, nil)
	if err == nil {
		t.Fatal("Load accepted 300 KB values")
	}
	msg := err.Error()
	short := strings.Repeat("a", 64) + "… (300000 bytes)"
	for _, want := range []string{
		`spec.network.podCIDR: Invalid value: "` + short + `"`,
		`spec.node.name: Invalid value: "` + short + `"`,
		`spec.node.role: Unsupported value: "` + strings.Repeat("a", 64) + `… (1000 bytes)"`,
		"spec." + strings.Repeat("a", 195) + "… (1005 bytes): unknown field",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not contain %q:\n%.600s", want, msg)
		}
	}
	if len(msg) > 4000 {
		t.Errorf("error is %d bytes long:\n%.2000s", len(msg), msg)
	}
}
