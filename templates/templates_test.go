package templates

import (
	"strings"
	"testing"
)

func TestRenderRuntimeClass(t *testing.T) {
	out, err := Render(RuntimeClass, struct{ Name, Handler, Memory, CPU string }{"kata-fc", "kata-fc", "130Mi", "250m"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: kata-fc\n", "handler: kata-fc\n", "memory: 130Mi\n", "cpu: 250m\n", `katacontainers.io/kata-runtime: "true"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

// A field the data lacks is an error, never an empty value in a manifest.
func TestRenderMissingFieldFails(t *testing.T) {
	if _, err := Render(RuntimeClass, map[string]string{"Name": "kata"}); err == nil {
		t.Fatal("rendered with missing fields")
	}
	if _, err := Render("nope.yaml", nil); err == nil {
		t.Fatal("rendered an unknown template")
	}
}

func TestSourceIsReadable(t *testing.T) {
	src, err := Source(VerifyPod)
	if err != nil || !strings.Contains(string(src), `command: ["uname", "-r"]`) {
		t.Fatalf("%v\n%s", err, src)
	}
}
