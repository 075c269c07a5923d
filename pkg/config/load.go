package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"regexp"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/clip"
	"github.com/eksd-kata/eksd-kata/pkg/suggest"
	"github.com/eksd-kata/eksd-kata/pkg/yamldoc"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Error is a configuration that cannot be used: every problem, each named by
// its field path, or the file that could not be read. Callers exit 2 on it.
type Error struct {
	Source string // file name, "-" for stdin, or "flags"
	Errs   field.ErrorList
	// Read is why the file could not be read at all; Errs is then empty.
	Read error
}

// unknownFieldOrigin marks the errors of fields the schema does not have:
// they read better without field.Error's "Forbidden:".
const unknownFieldOrigin = "eksd-kata:unknownField"

func (e *Error) Error() string {
	var b strings.Builder
	prefix := func() {
		if e.Source != "" {
			b.WriteString(e.Source)
			b.WriteString(": ")
		}
	}
	if e.Read != nil {
		prefix()
		b.WriteString(e.Read.Error())
	}
	for i, fe := range e.Errs {
		if i > 0 {
			b.WriteByte('\n')
		}
		fe = clipped(fe)
		prefix()
		if fe.Origin == unknownFieldOrigin {
			b.WriteString(fe.Field + ": " + fe.Detail)
		} else {
			b.WriteString(fe.Error())
		}
	}
	return b.String()
}

// Unwrap lets a caller see why a read failed (the end of the run's context).
func (e *Error) Unwrap() error { return e.Read }

// MaxFile bounds a configuration file: real ones are a few KB.
const MaxFile = 1 << 20

// maxField is how much of a field name an error prints: real ones,
// with the flag that set them, are far shorter; an unknown key can be huge.
const maxField = 200

// clipped is fe with a long value and field name shortened: every field
// error is printed here, so no check needs to shorten what it reports.
func clipped(fe *field.Error) *field.Error {
	c := *fe
	c.Field = clip.Prefix(c.Field, maxField)
	if v := reflect.ValueOf(c.BadValue); v.Kind() == reflect.String {
		c.BadValue = clip.String(v.String())
	}
	return &c
}

// Input is where Load reads the configuration file from. config touches
// no file itself: Read is the caller's bounded read of a regular file
// (host.ReadInput), Stdin serves "-".
type Input struct {
	Stdin io.Reader
	Read  func(path string, limit int64) ([]byte, error)
}

// readFile reads path ("-" reads stdin), at most MaxFile bytes; the error
// names the file once, as the source, and says why (no such file,
// permission denied, a FIFO, too large).
func readFile(path string, in Input) ([]byte, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(io.LimitReader(in.Stdin, MaxFile+1))
		if err == nil && len(data) > MaxFile {
			err = fmt.Errorf("too large (more than the limit of %d MiB): not a NodeConfig", MaxFile>>20)
		}
	} else {
		data, err = in.Read(path, MaxFile)
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		// A reason that names the path says it again after the source.
		if msg, ok := strings.CutPrefix(err.Error(), path+": "); ok {
			err = errors.New(msg)
		}
		return nil, &Error{Source: path, Read: err}
	}
	return data, nil
}

// Parse decodes YAML (or JSON) strictly over the defaults: an unknown or
// duplicate field is an error, as kubeadm does with its own config.
func Parse(data []byte, source string) (*NodeConfig, error) {
	cfg, strict, err := decode(data, source)
	if err != nil {
		return nil, err
	}
	if len(strict) > 0 {
		return nil, &Error{Source: source, Errs: strict}
	}
	return cfg, nil
}

// decode is Parse that returns the unknown and duplicate fields beside
// what it decoded, so that Load can list them with the validation's
// problems. Any other error stops it.
func decode(data []byte, source string) (*NodeConfig, field.ErrorList, error) {
	cfg := Default()
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, &Error{Source: source, Errs: field.ErrorList{field.Required(nil, "the file is empty: it needs apiVersion "+APIVersion+", kind "+Kind+" and spec")}}
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, nil, &Error{Source: source, Errs: field.ErrorList{documentError("not valid YAML: " + err.Error())}}
	}
	if err := yamldoc.Single(data); err != nil {
		return nil, nil, &Error{Source: source, Errs: field.ErrorList{documentError("the file " + err.Error())}}
	}
	// Decode the type header first so a wrong kind is reported as such rather
	// than as a pile of unknown fields.
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(js, &tm); err != nil {
		return nil, nil, &Error{Source: source, Errs: field.ErrorList{documentError("not a YAML mapping: " + err.Error())}}
	}
	var errs field.ErrorList
	if tm.APIVersion != APIVersion {
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), tm.APIVersion, []string{APIVersion}))
	}
	if tm.Kind != Kind {
		errs = append(errs, field.NotSupported(field.NewPath("kind"), tm.Kind, []string{Kind}))
	}
	if len(errs) > 0 {
		return nil, nil, &Error{Source: source, Errs: errs}
	}
	// The strict errors name every unknown field, not just the first.
	strict, err := kjson.UnmarshalStrict(js, cfg)
	if err != nil {
		return nil, nil, &Error{Source: source, Errs: field.ErrorList{decodeError(err)}}
	}
	for _, se := range strict {
		errs = append(errs, decodeError(se))
	}
	return cfg, errs, nil
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
		return unknownField(p, m[2])
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

// unknownField reports a field the schema does not have, with the known
// field of that object it is closest to.
func unknownField(p *field.Path, dotted string) *field.Error {
	parts := strings.Split(dotted, ".")
	detail := "unknown field (eksd-kata config print shows every field)"
	if s := suggest.Closest(parts[len(parts)-1], knownFields(parts[:len(parts)-1])); s != "" {
		detail = "unknown field, did you mean " + s + "?"
	}
	return field.Forbidden(p, detail).WithOrigin(unknownFieldOrigin)
}

// knownFields are the JSON names of the fields of the object at path,
// found by walking NodeConfig's Go types by their json tags; nil when the
// path leads to no struct (a map such as spec.kubeadm's documents).
func knownFields(path []string) []string {
	t := reflect.TypeFor[NodeConfig]()
	for _, name := range path {
		name, _, _ = strings.Cut(name, "[") // an element of a list
		t = structType(t)
		if t == nil {
			return nil
		}
		f, ok := fieldByJSONName(t, name)
		if !ok {
			return nil
		}
		t = f.Type
	}
	if t = structType(t); t == nil {
		return nil
	}
	var names []string
	for f := range t.Fields() {
		if name := jsonName(f); name != "" {
			names = append(names, name)
		}
	}
	return names
}

// structType is t with pointers and lists taken off, or nil when that is not a struct.
func structType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	return t
}

func fieldByJSONName(t reflect.Type, name string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		if jsonName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	return name
}

func fieldPath(dotted string) *field.Path {
	parts := strings.Split(dotted, ".")
	return field.NewPath(parts[0], parts[1:]...)
}

// Marshal renders a NodeConfig as YAML.
func Marshal(cfg *NodeConfig) ([]byte, error) {
	return yaml.Marshal(cfg)
}
