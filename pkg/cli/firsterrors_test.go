package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// TestConfigValidateListsEveryProblem: unknown fields, each with the field
// meant, and the problems of the known fields, all in one run.
func TestConfigValidateListsEveryProblem(t *testing.T) {
	file := filepath.Join(t.TempDir(), "node.yaml")
	yaml := "apiVersion: eksd-kata.io/v1alpha1\nkind: NodeConfig\nspec:\n  network: {podCidr: 10.0.0.0/16}\n  node: {rolee: worker, cgroupDriver: cgroupv2}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "", "config", "validate", "-f", file)
	want := "error: " + file + ": spec.network.podCidr: unknown field, did you mean podCIDR?\n" +
		file + ": spec.node.rolee: unknown field, did you mean role?\n" +
		file + `: spec.node.cgroupDriver: Unsupported value: "cgroupv2": supported values: "systemd", "cgroupfs"` + "\n"
	if code != ExitUsage || stderr != want {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit 2 and:\n%s", code, stderr, want)
	}
}
