// Package templates holds the manifests eksd-kata renders and applies,
// embedded in the binary but kept as plain YAML text templates so that an
// operator can read exactly what goes into the cluster.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"text/template"
)

// Names of the templates.
const (
	RuntimeClass = "runtimeclass.yaml"
	VerifyPod    = "verify-pod.yaml"
)

//go:embed runtimeclass.yaml verify-pod.yaml
var files embed.FS

var parsed = template.Must(template.New("").Option("missingkey=error").ParseFS(files, RuntimeClass, VerifyPod))

// Render executes the template name with data.
func Render(name string, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := parsed.ExecuteTemplate(&buf, name, data); err != nil {
		return nil, fmt.Errorf("rendering template %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// Source returns the template text itself, for `config render`-style output.
func Source(name string) ([]byte, error) { return files.ReadFile(name) }
