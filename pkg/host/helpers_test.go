package host

import (
	"os"
	"path/filepath"
	"testing"
)

// mkfile writes a fixture file at host path p under root.
func mkfile(t *testing.T, root, p, data string, mode os.FileMode) {
	t.Helper()
	real := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(real, mode); err != nil { // umask
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, real string) string {
	t.Helper()
	b, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustMode(t *testing.T, real string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(real)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".*.eksd-kata-*.tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
