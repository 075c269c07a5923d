package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/detect"
	"github.com/eksd-kata/eksd-kata/pkg/kube"
	"github.com/spf13/cobra"
)

func newVerifyCmd(g *globals) *cobra.Command {
	var (
		o          config.Overrides
		image      string
		kubeconfig string
		timeout    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Smoke test: run a runc pod and a Kata pod and compare their kernels",
		Long: `verify runs two pods on this node that print their kernel (uname -r) and
exit: one with runc, one with the Kata RuntimeClass. A different kernel in the
Kata pod proves it ran in a VM. When the Kata pod cannot start, the error
quotes the sandbox failure from the pod's events. The pods are removed
afterwards; nothing on the host is changed. Exit code 0 when the Kata pod ran
in a VM, 1 when not, 2 on bad usage.`,
		Example: `  # Run a runc pod and a Kata pod on this node and compare their kernels
  sudo eksd-kata verify

  # Give the first pull of the test image longer
  sudo eksd-kata verify --timeout 10m

  # With another kubeconfig and the test image from a mirror
  sudo eksd-kata verify --kubeconfig /root/.kube/config --image registry.example.internal:5000/busybox:1.37`,
		Args: positional(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout <= 0 {
				return usageErrorf("--timeout must be positive")
			}
			h, err := g.host()
			if err != nil {
				return err
			}
			if !h.IsLive() {
				return usageErrorf("verify runs pods on the running node: it does not work under --root")
			}
			cfg, err := g.loadConfig(&o)
			if err != nil {
				return err
			}
			if cfg, err = detect.Resolve(cfg, h); err != nil {
				return err
			}
			step := &kube.VerifyStep{
				Config: cfg, Image: image, Timeout: timeout, Out: cmd.OutOrStdout(),
				Connect: kube.KubeconfigConnector(kubeconfig),
			}
			if _, err := step.Run(cmd.Context(), h); err != nil {
				if errors.Is(err, kube.ErrKataDisabled) {
					return usageError(err)
				}
				return fmt.Errorf("verify: %w", err)
			}
			return nil
		},
	}
	o.Bind(cmd.Flags())
	fl := cmd.Flags()
	fl.StringVar(&image, "image", kube.DefaultVerifyImage, "image of the test pods (needs uname)")
	fl.StringVar(&kubeconfig, "kubeconfig", kube.AdminKubeconfig, "kubeconfig on the host (under --root)")
	fl.DurationVar(&timeout, "timeout", kube.DefaultVerifyTimeout, "how long the pods may take to run")
	return cmd
}
