// Package badinput marks the errors that are the operator's input's fault:
// a malformed flag, configuration, manifest, archive or file on the host.
// The command line exits 2 for them, which promises that nothing on the
// host was changed.
package badinput

import "errors"

// Error is bad input.
type Error struct{ Err error }

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Wrap marks err as bad input.
func Wrap(err error) error { return &Error{Err: err} }

// Is reports whether err is, or wraps, bad input.
func Is(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
