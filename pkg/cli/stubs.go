package cli

import (
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/spf13/cobra"
)

// Verbs whose work later issues build. Until then each fails honestly
// (exit 1) after validating its input, so scripts never mistake them for success.

func newJoinCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "join",
		Short: "Prepare this host and join it to an existing EKS-D cluster",
		Args:  positional(cobra.NoArgs),
	}
	cmd.RunE = notBuilt(g, cmd, "join")
	return cmd
}

func newResetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reset",
		Short: "Undo bootstrap: kubeadm reset and restore every file eksd-kata changed",
		Args:  positional(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			if _, err := g.host(); err != nil {
				return err
			}
			return errNotBuilt("reset")
		},
	}
}

// notBuilt validates the configuration and root first, so bad input still exits 2.
func notBuilt(g *globals, cmd *cobra.Command, verb string) func(*cobra.Command, []string) error {
	var o config.Overrides
	o.Bind(cmd.Flags())
	return func(*cobra.Command, []string) error {
		if _, err := g.host(); err != nil {
			return err
		}
		if _, err := g.loadConfig(&o); err != nil {
			return err
		}
		return errNotBuilt(verb)
	}
}
