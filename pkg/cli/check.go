package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/preflight"
	"github.com/eksd-kata/eksd-kata/pkg/runtimeinstall"
	"github.com/spf13/cobra"
)

func newCheckCmd(g *globals) *cobra.Command {
	var (
		o      config.Overrides
		output string
		ignore []string
	)
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Read-only preflight: virtualisation, host, containerd, Kata, Kubernetes",
		Long: `check tells, before anything is touched, whether this host can become an
EKS-D node running Kata Containers VMs, and what bootstrap will fix by itself.
It changes nothing. Exit code 0 when nothing fails (warnings allowed), 1 when
a check fails, 2 on bad usage. A config with spec.join is checked for the
role join gives the node (worker, or control plane with controlPlane: true)
unless --role says otherwise. Check ids: ` + strings.Join(preflight.IDs(), ", ") + `.`,
		Example: `  # Check this host; nothing changes
  sudo eksd-kata check

  # As JSON, for a script or a support ticket
  sudo eksd-kata check -o json

  # Check a host that is to be a worker, with the memory check only a warning
  sudo eksd-kata check --role worker --ignore host.memory

  # Check against another release and a configuration file
  sudo eksd-kata check --release 1-35 --config node.yaml`,
		Args: positional(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := jsonOutput(output)
			if err != nil {
				return err
			}
			ign, err := preflight.ParseIgnore(ignore)
			if err != nil {
				return usageErrorf("--ignore: %v", err)
			}
			h, err := g.host()
			if err != nil {
				return err
			}
			cfg, err := g.loadConfig(&o)
			if err != nil {
				return err
			}
			if cfg.Spec.Join != (config.Join{}) && !cmd.Flags().Changed("role") {
				// A node that is to join is checked as join makes it.
				cfg.Spec.Node.Role = joinRole(cfg.Spec.Join.ControlPlane)
			}
			rel, err := resolveRelease(cmd.Context(), cfg, false)
			if err != nil {
				return err
			}
			env := preflight.NewEnv(h, cfg)
			env.Release = rel
			env.InstallCNIPlugins = true // as bootstrap and join do
			// What bootstrap installs without flags, for the containerd checks.
			env.Runtime = &runtimeinstall.Step{Release: rel, Socket: cfg.Spec.Containerd.Socket}
			rep := preflight.Run(cmd.Context(), env, preflight.All(), ign)
			out := cmd.OutOrStdout()
			if asJSON {
				err = preflight.WriteJSON(out, rep)
			} else {
				err = preflight.WriteText(out, rep, isTerminal(out))
			}
			if err != nil {
				return err
			}
			if failed := rep.Failed(); len(failed) > 0 {
				ids := make([]string, len(failed))
				for i, f := range failed {
					ids[i] = f.ID
				}
				return fmt.Errorf("%d check(s) failed: %s (--ignore ID turns a failure into a warning)", len(failed), strings.Join(ids, ", "))
			}
			return nil
		},
	}
	o.Bind(cmd.Flags())
	bindOutput(cmd, &output)
	cmd.Flags().StringSliceVar(&ignore, "ignore", nil, `check ids whose failure is only a warning (comma separated, or "all")`)
	return cmd
}

// isTerminal reports whether w is a terminal that wants colour.
func isTerminal(w io.Writer) bool {
	return os.Getenv("NO_COLOR") == "" && host.IsTerminal(w)
}
