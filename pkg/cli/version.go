package cli

import (
	"fmt"
	"runtime"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/version"
	"github.com/spf13/cobra"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the eksd-kata version and the EKS-D releases it knows",
		Args:  positional(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "eksd-kata %s (commit %s, %s, %s/%s)\n", version.Version, version.Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			d := eksd.Default()
			fmt.Fprintf(out, "default EKS-D release: %s-%d (Kubernetes %s)\n", d.Channel(), d.Number(), d.KubernetesVersion())
			return nil
		},
	}
}
