package config

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Error is a configuration that cannot be used: every problem, each named by
// its field path. Callers exit 2 on it.
type Error struct {
	Source string // file name, "-" for stdin, or "flags"
	Errs   field.ErrorList
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, fe := range e.Errs {
		if i > 0 {
			b.WriteByte('\n')
		}
		if e.Source != "" {
			b.WriteString(e.Source)
			b.WriteString(": ")
		}
		b.WriteString(fe.Error())
	}
	return b.String()
}

// LoadFile reads a NodeConfig from path ("-" reads stdin) over the defaults.
func LoadFile(path string, stdin io.Reader) (*NodeConfig, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, &Error{Source: path, Errs: field.ErrorList{field.InternalError(nil, err)}}
	}
	return Parse(data, path)
}

// Parse decodes YAML (or JSON) strictly over the defaults: an unknown or
// duplicate field is an error, as kubeadm does with its own config.
func Parse(data []byte, source string) (*NodeConfig, error) {
	cfg := Default()
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Error{Source: source, Errs: field.ErrorList{field.Required(nil, "the file is empty: it needs apiVersion "+APIVersion+", kind "+Kind+" and spec")}}
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, &Error{Source: source, Errs: field.ErrorList{documentError("not valid YAML: " + err.Error())}}
	}
	// Decode the type header first so a wrong kind is reported as such rather
	// than as a pile of unknown fields.
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(js, &tm); err != nil {
		return nil, &Error{Source: source, Errs: field.ErrorList{documentError("not a YAML mapping: " + err.Error())}}
	}
	var errs field.ErrorList
	if tm.APIVersion != APIVersion {
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), tm.APIVersion, []string{APIVersion}))
	}
	if tm.Kind != Kind {
		errs = append(errs, field.NotSupported(field.NewPath("kind"), tm.Kind, []string{Kind}))
	}
	if len(errs) > 0 {
		return nil, &Error{Source: source, Errs: errs}
	}
	strict, err := kjson.UnmarshalStrict(js, cfg)
	if err != nil {
		return nil, &Error{Source: source, Errs: field.ErrorList{decodeError(err)}}
	}
	for _, se := range strict {
		errs = append(errs, decodeError(se))
	}
	if len(errs) > 0 {
		return nil, &Error{Source: source, Errs: errs}
	}
	return cfg, nil
}

var (
	strictFieldRe = regexp.MustCompile(`^(unknown|duplicate) field "([^"]+)"$`)
	typeErrorRe   = regexp.MustCompile(`cannot unmarshal (\w+) into Go struct field \w+\.(\S+) of type (\S+)`)
)

// decodeError turns the JSON decoder's wording into a field error that
// names the YAML field a user wrote.
func decodeError(err error) *field.Error {
	msg := err.Error()
	if m := strictFieldRe.FindStringSubmatch(msg); m != nil {
		p := fieldPath(m[2])
		if m[1] == "duplicate" {
			return field.Duplicate(p, field.OmitValueType{})
		}
		return field.Forbidden(p, "unknown field (eksd-kata config print shows every field)")
	}
	if m := typeErrorRe.FindStringSubmatch(msg); m != nil {
		return field.Invalid(fieldPath(m[2]), field.OmitValueType{}, fmt.Sprintf("is a %s, must be a %s", m[1], m[3]))
	}
	return documentError(msg)
}

// documentError is a problem of the whole file rather than of one field.
func documentError(detail string) *field.Error {
	return &field.Error{Type: field.ErrorTypeInvalid, Field: "document", BadValue: field.OmitValueType{}, Detail: detail}
}

func fieldPath(dotted string) *field.Path {
	parts := strings.Split(dotted, ".")
	return field.NewPath(parts[0], parts[1:]...)
}

// Marshal renders a NodeConfig as YAML.
func Marshal(cfg *NodeConfig) ([]byte, error) {
	return yaml.Marshal(cfg)
}
