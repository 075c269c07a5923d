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

func newImagesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "List, pull or import the images of an EKS-D release",
		Args:  positional(cobra.NoArgs),
	}
	for _, sub := range []struct{ use, short string }{
		{"list", "List the source and target reference of every image"},
		{"pull", "Pull and retag the images into containerd"},
		{"import FILE", "Import images from an OCI or docker archive and retag them"},
	} {
		c := &cobra.Command{Use: sub.use, Short: sub.short}
		c.RunE = notBuilt(g, c, "images "+sub.use)
		cmd.AddCommand(c)
	}
	return cmd
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

func newCheckCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Read-only preflight: virtualisation, host, containerd, Kata, Kubernetes",
		Args:  positional(cobra.NoArgs),
	}
	cmd.RunE = notBuilt(g, cmd, "check")
	return cmd
}
