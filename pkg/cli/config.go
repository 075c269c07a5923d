package cli

import (
	"fmt"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/detect"
	"github.com/eksd-kata/eksd-kata/pkg/kubeadm"
	"github.com/spf13/cobra"
)

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print, validate and render the node configuration",
		Args:  positional(cobra.NoArgs),
		Example: `  # Start a configuration file from the defaults, edit it, then check it
  eksd-kata config print > node.yaml
  eksd-kata config validate -f node.yaml

  # The kubeadm configuration bootstrap would write from it
  eksd-kata config render kubeadm --config node.yaml`,
	}
	cmd.AddCommand(newConfigPrintCmd(g), newConfigValidateCmd(g), newConfigRenderCmd(g))
	return cmd
}

func newConfigPrintCmd(g *globals) *cobra.Command {
	var o config.Overrides
	var resolved bool
	cmd := &cobra.Command{
		Use:   "print",
		Short: "Print the configuration as YAML: the defaults, or --config and flags applied over them",
		Args:  positional(cobra.NoArgs),
		Example: `  # The defaults, as a file to start from
  eksd-kata config print > node.yaml

  # A worker with two Kata hypervisors
  eksd-kata config print --role worker --hypervisors qemu,clh

  # A file with what this host would detect filled in
  eksd-kata config print --config node.yaml --resolved`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(&o)
			if err != nil {
				return err
			}
			if _, err := resolveRelease(cmd.Context(), cfg, false); err != nil {
				return err
			}
			if resolved {
				h, err := g.host()
				if err != nil {
					return err
				}
				if cfg, err = detect.Resolve(cfg, h); err != nil {
					return err
				}
			}
			out, err := config.Marshal(cfg)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	o.Bind(cmd.Flags())
	cmd.Flags().BoolVar(&resolved, "resolved", false, "fill in what would be detected on this host (node name, advertise address, cgroup driver)")
	return cmd
}

func newConfigValidateCmd(g *globals) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "validate -f FILE",
		Short: "Validate a configuration file; exit 2 listing every problem by field path",
		Args:  positional(cobra.NoArgs),
		Example: `  # Every problem of the file, by field path
  eksd-kata config validate -f node.yaml

  # From stdin
  eksd-kata config print --role worker | eksd-kata config validate -f -`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				file = g.configFile
			}
			if file == "" {
				return usageErrorf("config validate: name the file with -f FILE (or - for stdin)")
			}
			g.configFile = file
			cfg, err := g.loadConfig(nil)
			if err != nil {
				return err
			}
			if _, err := resolveRelease(cmd.Context(), cfg, false); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid (EKS-D %s-%d, role %s)\n", file, cfg.Spec.Release.Channel, cfg.Spec.Release.Number, cfg.Spec.Node.Role)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "file to validate (- for stdin)")
	return cmd
}

func newConfigRenderCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Print a file bootstrap would write, without writing it",
		Args:  positional(cobra.NoArgs),
		Example: `  # The kubeadm configuration for this host
  eksd-kata config render kubeadm`,
	}
	var o config.Overrides
	kubeadmCmd := &cobra.Command{
		Use:   "kubeadm",
		Short: "Print the kubeadm configuration (InitConfiguration, ClusterConfiguration, KubeletConfiguration) for this node",
		Args:  positional(cobra.NoArgs),
		Example: `  # The kubeadm configuration bootstrap would write on this host
  eksd-kata config render kubeadm

  # From a configuration file, for another release
  eksd-kata config render kubeadm --config node.yaml --release 1-35

  # For a node image: nothing to detect there, so name the node and its address
  eksd-kata config render kubeadm --root /mnt/image --node-name node-a --advertise-address 10.0.0.11`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(&o)
			if err != nil {
				return err
			}
			h, err := g.host()
			if err != nil {
				return err
			}
			rel, err := resolveRelease(cmd.Context(), cfg, false)
			if err != nil {
				return err
			}
			if cfg, err = detect.Resolve(cfg, h); err != nil {
				return err
			}
			out, err := kubeadm.RenderInit(cfg, rel)
			if err != nil {
				return usageError(err)
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	o.Bind(kubeadmCmd.Flags())
	cmd.AddCommand(kubeadmCmd)
	return cmd
}
