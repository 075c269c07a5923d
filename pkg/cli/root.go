// Package cli is the eksd-kata command line: cobra commands that parse
// flags, load the configuration and hand a host.Host to the packages that
// do the work.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/redact"
	"github.com/eksd-kata/eksd-kata/pkg/suggest"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// globals are the flags every verb shares.
type globals struct {
	configFile string
	root       string
	verbose    bool
	logFormat  string

	log   *slog.Logger
	stdin io.Reader
	// euid is the effective user id; tests stand in for a user that is not root.
	euid func() int
	// fault is called at every point where a crash must leave the host
	// recoverable (host.FS.SetFault): fault-injection tests kill the run there.
	fault func(point string)
	// args is the command line, for the hint to run it again; secrets are
	// hidden from everything the verb prints.
	args    []string
	secrets *redact.Set
}

// secretFlags carry a join's secrets: their values are hidden from every
// output, even from a parse error's.
var secretFlags = []string{"token", "certificate-key"}

// Main runs the command line with args (without the program name) and
// returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return execute(ctx, &globals{stdin: stdin, euid: os.Geteuid}, args, stdout, stderr)
}

// execute runs the command line args for g, prints its error and returns
// the exit code. Everything it prints goes through a writer that hides the
// secrets the flags carry, and those the configuration will carry.
func execute(ctx context.Context, g *globals, args []string, stdout, stderr io.Writer) int {
	g.args, g.secrets = args, &redact.Set{}
	if g.stdin != nil {
		g.stdin = ctxReader{ctx: ctx, r: g.stdin}
	}
	g.secrets.FlagValues(args, secretFlags...)
	out, errOut := g.secrets.Writer(stdout), g.secrets.Writer(stderr)
	defer func() {
		// Nothing more to report if the terminal is gone.
		_ = out.Flush()
		_ = errOut.Flush()
	}()
	cmd := newRoot(g, out, errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		code := exitCode(err)
		// cobra reports an unknown verb before any of our code runs.
		if strings.HasPrefix(err.Error(), "unknown command") {
			code = ExitUsage
		}
		// A signal ended the context of the run: it failed, whatever the
		// step or read it stopped took the cancellation for.
		if ctx.Err() != nil {
			fmt.Fprintf(errOut, "error: interrupted: %v\n", err)
			return ExitFailure
		}
		fmt.Fprintf(errOut, "error: %v\n", err)
		return code
	}
	return ExitOK
}

// newRoot builds the command tree.
func newRoot(g *globals, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "eksd-kata",
		Short: "Turn a Linux host into an EKS Distro node that runs pods in Kata Containers VMs",
		Long: `eksd-kata prepares a Linux host (bare metal, a cloud VM with nested
virtualisation, a test VM, or cloud-init) as an Amazon EKS Distro node whose
pods can run inside Kata Containers VMs: it checks the host, tunes it,
configures containerd with runc and Kata runtimes, installs the EKS-D
binaries and images, runs kubeadm and applies the kata RuntimeClass.`,
		Example: `  # Read-only preflight, then make this host a single-node cluster
  sudo eksd-kata check
  sudo eksd-kata bootstrap

  # On another host: join that cluster, with the command bootstrap pointed to
  sudo eksd-kata join 10.0.0.10:6443 --token <token> --discovery-token-ca-cert-hash sha256:<hash>

  # Start a configuration file from the defaults
  eksd-kata config print > node.yaml

  # Complete commands, flags and their values in bash (zsh and fish too)
  eksd-kata completion bash > ~/.local/share/bash-completion/completions/eksd-kata`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.setup(stderr)
		},
	}
	root.SetIn(g.stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError(flagError(cmd, err)) })

	pf := root.PersistentFlags()
	pf.StringVarP(&g.configFile, "config", "c", "", "NodeConfig file (YAML); - reads stdin")
	pf.StringVar(&g.root, "root", "/", "operate on a host file system mounted at this directory (live operations are skipped)")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "log debug detail")
	pf.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")

	bootstrap, join, reset, upgrade := newBootstrapCmd(g), newJoinCmd(g), newResetCmd(g), newUpgradeCmd(g)
	root.AddCommand(
		newCheckCmd(g),
		bootstrap,
		join,
		reset,
		newImagesCmd(g),
		newConfigCmd(g),
		newVerifyCmd(g),
		newStatusCmd(g),
		upgrade,
		newVersionCmd(),
	)
	// These change the host: a user who is not root is told so before any
	// work, not by a failure halfway (the lock, a file under /etc).
	for _, c := range []*cobra.Command{bootstrap, join, reset, upgrade} {
		c.PreRunE = g.requireRoot
	}
	checkUnknownSubcommands(root)
	completeFlags(root)
	return root
}

// requireRoot refuses a verb that changes this host unless it runs as
// root. Under --root DIR it works on files the user may own (preparing an
// image), so there it needs no root.
func (g *globals) requireRoot(cmd *cobra.Command, _ []string) error {
	if filepath.Clean(g.root) != "/" || g.euid() == 0 {
		return nil
	}
	return usageErrorf("%s must run as root (sudo)", cmd.CommandPath())
}

// checkUnknownSubcommands makes each command that only groups others (images,
// config) refuse an unknown verb as the top level does: cobra checks the
// arguments only of a command that runs, so "images lst" printed help and
// exited 0.
func checkUnknownSubcommands(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		if c.HasSubCommands() && !c.Runnable() {
			c.RunE = func(c *cobra.Command, args []string) error {
				if len(args) > 0 {
					return usageErrorf("unknown command %q for %q%s", args[0], c.CommandPath(), suggestCommands(c, args[0]))
				}
				return c.Help()
			}
			c.Args = cobra.ArbitraryArgs
			c.SuggestionsMinimumDistance = 2 // cobra's default, which it sets only at the top
		}
		checkUnknownSubcommands(c)
	}
}

// suggestCommands is cobra's "Did you mean this?" for the verbs under cmd.
func suggestCommands(cmd *cobra.Command, arg string) string {
	s := cmd.SuggestionsFor(arg)
	if len(s) == 0 {
		return ""
	}
	return "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t") + "\n"
}

// flagError adds to pflag's "unknown flag: --NAME" the flag of the command
// that NAME most likely misspells: cobra suggests verbs but not flags.
func flagError(cmd *cobra.Command, err error) error {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return err
	}
	var names []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	})
	if s := suggest.Closest(name, names); s != "" {
		return fmt.Errorf("%w (did you mean --%s?)", err, s)
	}
	return err
}

func (g *globals) setup(stderr io.Writer) error {
	level := slog.LevelInfo
	if g.verbose {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	switch g.logFormat {
	case "text":
		g.log = slog.New(slog.NewTextHandler(stderr, opts))
	case "json":
		g.log = slog.New(slog.NewJSONHandler(stderr, opts))
	default:
		return usageErrorf("--log-format: %q is not supported: use text or json", g.logFormat)
	}
	return nil
}

// host opens the machine (or the tree under --root) the verb works on.
func (g *globals) host() (*host.Host, error) {
	h, err := host.New(g.root)
	if err != nil {
		return nil, usageErrorf("--root %s: %v", g.root, err)
	}
	h.FS.SetFault(g.fault)
	return h, nil
}

// loadConfig reads defaults, --config and the override flags; bad input is a usage error.
func (g *globals) loadConfig(o *config.Overrides) (*config.NodeConfig, error) {
	return g.loadConfigFrom(g.configFile, config.Input{Stdin: g.stdin, Read: host.ReadInput}, o)
}

// loadConfigFrom is loadConfig with the file at path read through in.
func (g *globals) loadConfigFrom(path string, in config.Input, o *config.Overrides) (*config.NodeConfig, error) {
	cfg, err := config.Load(path, in, o)
	if cfg != nil {
		g.secrets.Add(cfg.Spec.Join.Token, cfg.Spec.Join.CertificateKey)
	}
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			return nil, usageError(err)
		}
		return nil, err
	}
	return cfg, nil
}

// oneArg is cobra.ExactArgs(1) for a command whose argument is what
// ("image archive"): the error says what to give, with the command line.
func oneArg(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 1 {
			return nil
		}
		verb := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
		line := cmd.CommandPath() + " " + strings.Join(strings.Fields(cmd.Use)[1:], " ")
		if len(args) == 0 {
			return usageErrorf("%s: name the %s: %s", verb, what, line)
		}
		return usageErrorf("%s: takes one %s, not %d: %s", verb, what, len(args), line)
	}
}

// positional wraps a cobra argument check so that a wrong argument count is a usage error.
func positional(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError(err)
		}
		return nil
	}
}

// bindOutput adds -o/--output, the format of what a verb prints.
func bindOutput(cmd *cobra.Command, output *string) {
	cmd.Flags().StringVarP(output, "output", "o", "text", "output format: text or json")
}

// jsonOutput reports whether -o asks for JSON; a format other than text
// or json is bad usage.
func jsonOutput(output string) (bool, error) {
	switch output {
	case "text":
		return false, nil
	case "json":
		return true, nil
	}
	return false, usageErrorf("-o/--output: %q is not supported: use text or json", output)
}
