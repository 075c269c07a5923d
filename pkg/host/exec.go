package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// stderrTail is how much of a command's stderr an error keeps.
const stderrTail = 4096

// Cmd is a process to run: an argv, never a shell string.
type Cmd struct {
	Argv   []string
	Dir    string
	Env    []string // nil: inherit ours
	Stdin  io.Reader
	Stdout io.Writer // nil: discarded
	Stderr io.Writer // nil: the tail goes into the error
}

// Runner runs processes. Its error names argv[0], the exit code and, when
// Stderr was not given, the tail of stderr.
type Runner interface {
	Run(ctx context.Context, c Cmd) error
}

// Output runs argv and returns its stdout; a failure carries stderr.
func Output(ctx context.Context, r Runner, argv ...string) ([]byte, error) {
	var out bytes.Buffer
	err := r.Run(ctx, Cmd{Argv: argv, Stdout: &out})
	return out.Bytes(), err
}

// ExecRunner runs processes with os/exec on this machine.
type ExecRunner struct{}

// ExitError is a process that ran and failed.
type ExitError struct {
	Argv   []string
	Code   int    // -1 when killed by a signal
	Stderr string // tail, when it was not streamed
	Err    error
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s: %v", strings.Join(e.Argv, " "), e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

func (e *ExitError) Unwrap() error { return e.Err }

// Run implements Runner.
func (ExecRunner) Run(ctx context.Context, c Cmd) error {
	if len(c.Argv) == 0 {
		return errors.New("run: empty argv")
	}
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Dir, cmd.Env, cmd.Stdin, cmd.Stdout = c.Dir, c.Env, c.Stdin, c.Stdout
	// A grandchild holding our pipes open must not hang us after a cancel.
	cmd.WaitDelay = 5 * time.Second
	tail := &tailBuffer{max: stderrTail}
	cmd.Stderr = c.Stderr
	if c.Stderr == nil {
		cmd.Stderr = tail
	}
	err := cmd.Run()
	if err == nil {
		return nil
	}
	ee := &ExitError{Argv: c.Argv, Code: -1, Stderr: string(tail.buf), Err: err}
	var xe *exec.ExitError
	if errors.As(err, &xe) {
		ee.Code = xe.ExitCode()
	}
	if ctx.Err() != nil {
		ee.Err = fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	return ee
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}
