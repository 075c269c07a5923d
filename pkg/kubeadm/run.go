package kubeadm

import (
	"context"
	"errors"
	"fmt"
	"github.com/eksd-kata/eksd-kata/pkg/redact"
	"io"
	"path"
	"strings"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// LogDir keeps the redacted output of every kubeadm run.
const LogDir = "/var/log/eksd-kata"

// outputPrefix marks kubeadm's lines among ours on screen.
const outputPrefix = "kubeadm: "

// Run is a change that runs kubeadm (argv), streams its output with secrets
// redacted to Out and keeps the same redacted output in LogFile.
type Run struct {
	Argv []string
	Why  string
	// Out receives the output line by line, prefixed; nil: not shown.
	Out io.Writer
	// LogFile is a host path (0600); empty: no log kept.
	LogFile string
	// Raw sees every line before redaction (to pick the join command out).
	Raw func(line string)
}

func (c *Run) Summary() string {
	s := "run " + strings.Join(c.Argv, " ")
	if c.Why != "" {
		s += " (" + c.Why + ")"
	}
	if c.LogFile != "" {
		s += ", output kept in " + c.LogFile
	}
	return s
}

func (c *Run) Apply(ctx context.Context, h *host.Host) error {
	sink := &lineSink{prefix: outputPrefix, out: c.Out, raw: c.Raw}
	start := time.Now()
	err := h.Exec.Run(ctx, host.Cmd{Argv: c.Argv, Stdout: sink, Stderr: sink})
	sink.Flush()
	if c.Out != nil && len(c.Argv) > 1 {
		// The time kubeadm itself took, beside the step's own (make e2e compares them).
		fmt.Fprintf(c.Out, "kubeadm %s took %s\n", c.verb(), time.Since(start).Round(time.Millisecond))
	}
	if c.LogFile != "" {
		// Kept on failure too: that is when it is read.
		if _, werr := h.FS.WriteFile(c.LogFile, sink.Log(), 0o600); werr != nil && err == nil {
			return werr
		}
	}
	if err != nil {
		// The error may quote kubeadm's stderr: redact it as well.
		err = errors.New(redact.String(err.Error()))
		if c.LogFile != "" {
			return fmt.Errorf("%s (full output in %s)", err, c.LogFile)
		}
	}
	return err
}

// verb is the kubeadm command run: its words up to the first flag
// ("init", "init phase certs all").
func (c *Run) verb() string {
	words := c.Argv[1:]
	for i, w := range words {
		if strings.HasPrefix(w, "-") {
			words = words[:i]
			break
		}
	}
	return strings.Join(words, " ")
}

// logFile names the log of one kubeadm verb run at t.
func logFile(verb string, t time.Time) string {
	return path.Join(LogDir, fmt.Sprintf("kubeadm-%s-%s.log", verb, t.UTC().Format("20060102T150405Z")))
}
