package yamldoc

import (
	"strings"
	"testing"
)

func TestSingle(t *testing.T) {
	for _, doc := range []string{"a: 1\n", "---\na: 1\n", "a: 1\n...\n", `{"a": 1}`, "# only a comment\na: 1\n"} {
		if err := Single([]byte(doc)); err != nil {
			t.Errorf("Single(%q) = %v, want nil", doc, err)
		}
	}
	for _, doc := range []string{"a: 1\n---\nb: 2\n", "a: 1\n---\n", "a: 1\n---\n# c\n", "a: 1\n---\n~\n", "a: 1\n---\n{}\n", "a: 1\n...\ngarbage\n"} {
		err := Single([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), "give one document") {
			t.Errorf("Single(%q) = %v, want an error", doc, err)
		}
	}
	if err := Single([]byte("a: [\n")); err == nil || !strings.Contains(err.Error(), "is not valid YAML") {
		t.Errorf("Single of broken YAML = %v", err)
	}
}
