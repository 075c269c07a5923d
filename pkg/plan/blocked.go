package plan

import (
	"errors"
	"strings"
)

// Problem is something eksd-kata cannot fix by itself, on the host or on
// the command line, with what the operator can do about it.
type Problem struct {
	What   string
	Remedy string
}

func (p Problem) String() string {
	if p.Remedy == "" {
		return p.What
	}
	return p.What + ": " + p.Remedy
}

// Blocked is the error of a plan that cannot be carried out until its
// problems are fixed. A real run stops with it; a dry run lists the
// problems and goes on planning the steps after it. A step may return the
// part of its plan it could make along with it.
type Blocked struct {
	Problems []Problem
	// Text is how a run reports the error; empty: each problem with its remedy.
	Text string
}

func (e *Blocked) Error() string {
	if e.Text != "" {
		return e.Text
	}
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Block is the error of a plan blocked by one problem.
func Block(what, remedy string) error {
	return &Blocked{Problems: []Problem{{What: what, Remedy: remedy}}}
}

// Problems returns the problems of a Blocked error anywhere in err's chain
// (also inside a badinput.Error: a missing flag blocks a dry run, it does not
// end it), and whether there is one.
func Problems(err error) ([]Problem, bool) {
	var b *Blocked
	if !errors.As(err, &b) {
		return nil, false
	}
	return b.Problems, true
}
