// Package preflighttest builds machine fixtures for preflight and CLI tests:
// txtar-like files under pkg/preflight/testdata/hosts, laid out as a root
// tree that --root can point at.
//
// In a machine file, "-- /host/path --" sections are files (content
// "!absent" removes a file of base.txtar; "-- /a -> b --" is a symlink),
// "-- probe --" scripts the live probes and "-- expect --" lists
// "id status [+fix] [~substring]" lines, or "ok" for no failures.
package preflighttest

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Machine is a parsed fixture.
type Machine struct {
	Files  map[string]string // host path -> content, "!absent" or "!symlink TARGET"
	Probe  []string
	Expect []string
}

// Dir is the directory of the machine files.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "hosts")
}

// Parse reads machine file name (e.g. "pvm-host.txtar").
func Parse(t testing.TB, name string) Machine {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(), name))
	if err != nil {
		t.Fatal(err)
	}
	m := Machine{Files: map[string]string{}}
	section := ""
	var body []string
	flush := func() {
		text := strings.Join(body, "\n")
		if len(body) > 0 {
			text += "\n"
		}
		switch {
		case section == "probe":
			m.Probe = body
		case section == "expect":
			m.Expect = body
		case strings.Contains(section, " -> "):
			p, target, _ := strings.Cut(section, " -> ")
			m.Files[p] = "!symlink " + target
		case section != "":
			m.Files[section] = text
		}
		body = nil
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if strings.HasPrefix(line, "-- ") && strings.HasSuffix(line, " --") {
			flush()
			section = strings.TrimSuffix(strings.TrimPrefix(line, "-- "), " --")
			continue
		}
		if section != "" {
			body = append(body, line)
		}
	}
	flush()
	return m
}

// Build writes base.txtar overlaid with machine into a new temporary root
// and returns the root and the machine's own sections.
func Build(t testing.TB, machine string) (string, Machine) {
	t.Helper()
	base, m := Parse(t, "base.txtar"), Parse(t, machine)
	for p, c := range m.Files {
		base.Files[p] = c
	}
	root := t.TempDir()
	for p, content := range base.Files {
		if content == "!absent\n" {
			continue
		}
		real := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "!symlink "); ok {
			if err := os.Symlink(target, real); err != nil {
				t.Fatal(err)
			}
			continue
		}
		mode := os.FileMode(0o644)
		if strings.Contains(p, "/bin/") || strings.Contains(p, "/sbin/") {
			mode = 0o755 // LookPath wants executables
		}
		if err := os.WriteFile(real, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	return root, m
}
