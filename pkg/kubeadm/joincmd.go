package kubeadm

import (
	"context"
	"errors"
	"fmt"
	"github.com/eksd-kata/eksd-kata/pkg/redact"
	"io"
	"strings"
	"sync"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// JoinCommandFile holds the worker join command kubeadm init printed. It
// holds a bootstrap token, so it is 0600 and never shown or logged.
const JoinCommandFile = "/etc/eksd-kata/join-command"

// JoinControlPlaneCommandFile holds the control-plane join command (with
// the certificate key) when the cluster has a controlPlaneEndpoint; 0600.
const JoinControlPlaneCommandFile = "/etc/eksd-kata/join-command-control-plane"

// joinParser picks the `kubeadm join` commands out of kubeadm init's
// output, continuation lines joined: the worker's, and the control
// plane's (--control-plane) when init uploaded the certificates.
type joinParser struct {
	mu           sync.Mutex
	current      []string // the command being read, nil outside one
	worker       string
	controlPlane string
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
	if strings.Contains(cmd, "--control-plane") {
		p.controlPlane = cmd
	} else {
		p.worker = cmd
	}
}

// Commands are the worker and control-plane join commands seen so far
// ("" when none).
func (p *joinParser) Commands() (worker, controlPlane string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.worker, p.controlPlane
}

// WriteJoinCommand writes the join command kubeadm init printed, or, when
// init printed none, a fresh one from `kubeadm token create`. With
// ControlPlane it also writes the control-plane join command: init's, or,
// on a re-run after init (no parser), one with a fresh certificate key
// (the certificates uploaded again) and token.
type WriteJoinCommand struct {
	Kubeadm      string // host path of the binary
	Out          io.Writer
	ControlPlane bool
	parser       *joinParser
}

func (c *WriteJoinCommand) Summary() string {
	if c.ControlPlane {
		return "write the worker and control-plane join commands to " + JoinCommandFile + " and " + JoinControlPlaneCommandFile + " (0600; they hold a bootstrap token and the certificate key and are not shown)"
	}
	return "write the worker join command to " + JoinCommandFile + " (0600; it holds a bootstrap token and is not shown)"
}

// mint uploads the control-plane certificates again under a new key and
// makes a token: the control-plane join command, and the worker's (the same
// without the control-plane flags).
func (c *WriteJoinCommand) mint(ctx context.Context, h *host.Host) (worker, controlPlane string, err error) {
	out, err := host.Output(ctx, h.Exec, c.Kubeadm, "init", "phase", "upload-certs", "--upload-certs", "--config", ConfigFile)
	if err != nil {
		return "", "", err
	}
	// Its last line is the key ("[upload-certs] Using certificate key:" before it).
	fields := strings.Fields(string(out))
	key := ""
	if len(fields) > 0 {
		key = fields[len(fields)-1]
	}
	if !config.IsCertificateKey(key) {
		return "", "", fmt.Errorf("kubeadm init phase upload-certs printed no certificate key")
	}
	out, err = host.Output(ctx, h.Exec, c.Kubeadm, "token", "create", "--print-join-command", "--certificate-key", key, "--kubeconfig", AdminConf)
	if err != nil {
		return "", "", err
	}
	controlPlane = strings.Join(strings.Fields(string(out)), " ")
	worker = strings.Replace(controlPlane, " --control-plane --certificate-key "+key, "", 1)
	if worker == controlPlane || strings.Contains(worker, "--control-plane") {
		return "", "", fmt.Errorf("kubeadm token create printed no control-plane join command (got %q)", controlPlane)
	}
	return worker, controlPlane, nil
}

func (c *WriteJoinCommand) Apply(ctx context.Context, h *host.Host) error {
	cmd, cpCmd := "", ""
	if c.parser != nil {
		cmd, cpCmd = c.parser.Commands()
	}
	if c.ControlPlane && c.parser == nil {
		var err error
		if cmd, cpCmd, err = c.mint(ctx, h); err != nil {
			return errors.New(redact.String(err.Error()))
		}
	}
	if c.ControlPlane {
		// Before the worker's file: when this fails neither is written,
		// and a re-run writes both.
		if !strings.Contains(cpCmd, "--certificate-key ") {
			return fmt.Errorf("kubeadm init printed no control-plane join command with a certificate key: make one with `kubeadm init phase upload-certs --upload-certs --config %s` and `kubeadm token create --print-join-command --certificate-key KEY`", ConfigFile)
		}
		if _, err := h.FS.WriteFile(JoinControlPlaneCommandFile, []byte(cpCmd+"\n"), 0o600); err != nil {
			return err
		}
	}
	if cmd == "" {
		out, err := host.Output(ctx, h.Exec, c.Kubeadm, "token", "create", "--print-join-command", "--kubeconfig", AdminConf)
		if err != nil {
			return errors.New(redact.String(err.Error()))
		}
		cmd = strings.Join(strings.Fields(string(out)), " ")
	}
	if !strings.HasPrefix(cmd, "kubeadm join ") {
		return fmt.Errorf("no worker join command from kubeadm (got %q)", redact.String(cmd))
	}
	if _, err := h.FS.WriteFile(JoinCommandFile, []byte(cmd+"\n"), 0o600); err != nil {
		return err
	}
	if c.Out != nil {
		fmt.Fprintf(c.Out, "to join workers: run `sudo cat %s` on this node for the join command (it holds a secret token); on the new node run it with eksd-kata in place of kubeadm\n", JoinCommandFile)
		if c.ControlPlane {
			fmt.Fprintf(c.Out, "to join control planes: likewise with %s, within two hours (kubeadm then deletes the uploaded certificates; `kubeadm init phase upload-certs --upload-certs` uploads them again under a new key)\n", JoinControlPlaneCommandFile)
		}
	}
	return nil
}
