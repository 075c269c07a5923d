package cli

import (
	"context"
	"errors"
	"fmt"
)

// Exit codes every verb keeps, so scripts can rely on them.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2 // bad usage or bad input; nothing on the host was changed
)

// exitError carries the exit code an error should end the process with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks bad input: exit 2.
func usageError(err error) error { return &exitError{code: ExitUsage, err: err} }

func usageErrorf(format string, a ...any) error { return usageError(fmt.Errorf(format, a...)) }

// exitCode maps an error to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	// A cancelled read or step is not bad input, even when the error of
	// the input it was reading wraps it.
	if errors.Is(err, context.Canceled) {
		return ExitFailure
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitFailure
}
