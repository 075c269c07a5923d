package hosttest

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// HashTree hashes every path, mode, symlink target and file content under
// dir, so a test can prove that a command changed nothing.
func HashTree(t testing.TB, dir string) string {
	t.Helper()
	return hashTree(t, dir, false, nil)
}

// HashTreeCanon is HashTree with each file's content first passed through
// canon (given its path under dir): what two runs may write differently
// and still agree on (a time in a record) is left out so.
func HashTreeCanon(t testing.TB, dir string, canon func(p string, data []byte) []byte) string {
	t.Helper()
	return hashTree(t, dir, false, canon)
}

// HashTreeTimes is HashTree with modification times too: for read-only
// commands, which must not even touch a file.
func HashTreeTimes(t testing.TB, dir string) string {
	t.Helper()
	return hashTree(t, dir, true, nil)
}

func hashTree(t testing.TB, dir string, times bool, canon func(string, []byte) []byte) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %v\n", strings.TrimPrefix(p, dir), info.Mode())
		if times {
			fmt.Fprintf(h, "mtime %d\n", info.ModTime().UnixNano())
		}
		switch {
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if canon != nil {
				b = canon(strings.TrimPrefix(p, dir), b)
			}
			h.Write(b)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "-> %s\n", target)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// WriteTree creates files under root from a map of host path to content.
func WriteTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		real := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(real, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// LinkDir makes directory target (a host path) under root and, at host
// path link, a symlink to it.
func LinkDir(t testing.TB, root, link, target string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, target), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
		t.Fatal(err)
	}
}
