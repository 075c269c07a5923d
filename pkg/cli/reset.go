package cli

import (
	"fmt"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/reset"
	"github.com/spf13/cobra"
)

func newResetCmd(g *globals) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "reset",
		Short: "Undo bootstrap: kubeadm reset and restore every file eksd-kata changed",
		Long: `reset runs kubeadm reset -f (when this host was initialised or joined),
stops and disables the kubelet, then puts back every file eksd-kata changed
from the backup under /var/lib/eksd-kata/backup (content, mode and owner) and
removes the files it created. Kernel settings made at run time (sysctls,
modules, swap off) stay until the next boot. Running it again changes nothing.`,
		Example: `  # List what reset would undo, and change nothing
  sudo eksd-kata reset --dry-run

  # Undo bootstrap or join on this host
  sudo eksd-kata reset`,
		Args: positional(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := g.host()
			if err != nil {
				return err
			}
			cfg, err := g.loadConfig(nil)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			steps := reset.Steps(reset.Options{ContainerdConfig: cfg.Spec.Containerd.ConfigPath, Out: out})
			opts := bootstrap.Options{DryRun: dryRun, Out: out}
			if g.logFormat == "json" || g.verbose {
				opts.Log = g.log
			}
			report, err := bootstrap.Run(cmd.Context(), h, steps, opts)
			if err != nil {
				return g.runError(err, dryRun)
			}
			verb := "applied"
			if dryRun {
				verb = "planned (dry run: nothing changed)"
			}
			fmt.Fprintf(out, "reset: %d change(s) %s, %s\n", report.Changed(), verb, report.Duration.Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what reset would do and change nothing")
	return cmd
}
