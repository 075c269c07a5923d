// Package yamldoc checks that a YAML input is one document: a second one
// (after ---), even empty, would otherwise be dropped without a word by
// decoders that read only the first.
package yamldoc

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	yaml "go.yaml.in/yaml/v3"
)

// Single returns an error when data holds more than one YAML document or
// anything that does not parse after the first one.
func Single(data []byte) error {
	d := yaml.NewDecoder(bytes.NewReader(data))
	for n := 0; ; n++ {
		var node yaml.Node
		err := d.Decode(&node)
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil && n == 0:
			return fmt.Errorf("is not valid YAML: %w", err)
		case err != nil:
			return fmt.Errorf("holds more after its first document (%v): give one document", err)
		case n == 1:
			return fmt.Errorf("holds more than one YAML document (a second one starts at line %d after ---): give one document", node.Line)
		}
	}
}
