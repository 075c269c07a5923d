package config

import (
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Load builds the configuration in order: defaults, then the file (if
// path is not empty; "-" is stdin), then the flags the user set, and
// validates the result. Any problem is an *Error.
func Load(path string, in Input, o *Overrides) (*NodeConfig, error) {
	cfg, source := Default(), "defaults"
	// The file's unknown fields are listed with the validation's problems:
	// every problem at once.
	var errs field.ErrorList
	if path != "" {
		data, err := readFile(path, in)
		if err != nil {
			return nil, err
		}
		if cfg, errs, err = decode(data, path); err != nil {
			return nil, err
		}
		source = path
	}
	if o != nil {
		if err := o.Apply(cfg); err != nil {
			return nil, err
		}
		if o.flags != nil && o.flags.NFlag() > 0 {
			source += " and flags"
		}
	}
	if errs = append(errs, Validate(cfg)...); len(errs) > 0 {
		return nil, &Error{Source: source, Errs: errs}
	}
	return cfg, nil
}
