package kubeadm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// JoinCommandFile holds the worker join command kubeadm init printed. It
// holds a bootstrap token, so it is 0600 and never shown or logged.
const JoinCommandFile = "/etc/eksd-kata/join-command"

// joinParser picks the worker `kubeadm join` command out of kubeadm init's
// output: the one without --control-plane, continuation lines joined.
type joinParser struct {
	mu      sync.Mutex
	current []string // the command being read, nil outside one
	worker  string
}

func (p *joinParser) Line(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := strings.TrimSpace(line)
	if p.current == nil {
		if !strings.HasPrefix(s, "kubeadm join ") {
			return
		}
		p.current = []string{}
	}
	more := strings.HasSuffix(s, `\`)
	p.current = append(p.current, strings.TrimSpace(strings.TrimSuffix(s, `\`)))
	if more {
		return
	}
	cmd := strings.Join(strings.Fields(strings.Join(p.current, " ")), " ")
	p.current = nil
	if !strings.Contains(cmd, "--control-plane") {
		p.worker = cmd
	}
}

// Command is the worker join command seen so far ("" when none).
func (p *joinParser) Command() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.worker
}

// WriteJoinCommand writes the join command kubeadm init printed, or, when
// init printed none, a fresh one from `kubeadm token create`.
type WriteJoinCommand struct {
	Kubeadm string // host path of the binary
	Out     io.Writer
	parser  *joinParser
}

func (c *WriteJoinCommand) Summary() string {
	return "write the worker join command to " + JoinCommandFile + " (0600; it holds a bootstrap token and is not shown)"
}

func (c *WriteJoinCommand) Apply(ctx context.Context, h *host.Host) error {
	cmd := ""
	if c.parser != nil {
		cmd = c.parser.Command()
	}
	if cmd == "" {
		out, err := host.Output(ctx, h.Exec, c.Kubeadm, "token", "create", "--print-join-command", "--kubeconfig", AdminConf)
		if err != nil {
			return errors.New(Redact(err.Error()))
		}
		cmd = strings.Join(strings.Fields(string(out)), " ")
	}
	if !strings.HasPrefix(cmd, "kubeadm join ") {
		return fmt.Errorf("no worker join command from kubeadm (got %q)", Redact(cmd))
	}
	if _, err := h.FS.WriteFile(JoinCommandFile, []byte(cmd+"\n"), 0o600); err != nil {
		return err
	}
	if c.Out != nil {
		fmt.Fprintf(c.Out, "to join workers: run `sudo cat %s` on this node for the join command (it holds a secret token)\n", JoinCommandFile)
	}
	return nil
}
