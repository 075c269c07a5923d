package config

import (
	"os"
	"path/filepath"
	"testing"
)

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// osInput reads files as a caller does, without the bounds host.ReadInput
// adds (tested there).
var osInput = Input{Read: func(path string, _ int64) ([]byte, error) { return os.ReadFile(path) }}
