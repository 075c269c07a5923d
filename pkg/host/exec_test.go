package host

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestExecRunner(t *testing.T) {
	ctx := context.Background()
	var r ExecRunner

	out, err := Output(ctx, r, "sh", "-c", "echo out; echo err >&2")
	if err != nil || string(out) != "out\n" {
		t.Fatalf("Output = %q, %v", out, err)
	}

	_, err = Output(ctx, r, "sh", "-c", "echo partial; echo 'no such thing' >&2; exit 3")
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Fatalf("want ExitError code 3, got %v", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "sh ") || !strings.Contains(msg, "exit status 3") || !strings.Contains(msg, "no such thing") {
		t.Fatalf("error %q lacks argv, exit code or stderr", msg)
	}

	// Streamed stderr goes to the caller, not into the error.
	var stderr bytes.Buffer
	err = r.Run(ctx, Cmd{Argv: []string{"sh", "-c", "echo streamed >&2; exit 1"}, Stderr: &stderr})
	if !errors.As(err, &ee) || ee.Stderr != "" || stderr.String() != "streamed\n" {
		t.Fatalf("streamed stderr: err=%v stderr=%q", err, stderr.String())
	}

	// Only the tail of a long stderr is kept.
	_, err = Output(ctx, r, "sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo line$i >&2; i=$((i+1)); done; exit 1")
	if !errors.As(err, &ee) || len(ee.Stderr) > stderrTail || !strings.HasSuffix(ee.Stderr, "line1999\n") {
		t.Fatalf("stderr tail: %d bytes, err %v", len(ee.Stderr), err)
	}

	// Dir, Env and Stdin are passed through.
	var stdout bytes.Buffer
	err = r.Run(ctx, Cmd{Argv: []string{"sh", "-c", "pwd; echo $EKSD_X; cat"}, Dir: "/", Env: []string{"EKSD_X=y"}, Stdin: strings.NewReader("in"), Stdout: &stdout})
	if err != nil || stdout.String() != "/\ny\nin" {
		t.Fatalf("Run = %q, %v", stdout.String(), err)
	}

	if err := r.Run(ctx, Cmd{Argv: []string{"eksd-kata-no-such-binary"}}); !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), "eksd-kata-no-such-binary") {
		t.Fatalf("missing binary: %v", err)
	}
	if err := r.Run(ctx, Cmd{}); err == nil {
		t.Fatal("empty argv accepted")
	}
}

func TestExecRunnerCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := ExecRunner{}.Run(ctx, Cmd{Argv: []string{"sleep", "10"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want DeadlineExceeded, got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cancel took %v", d)
	}
}
