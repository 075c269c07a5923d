package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/images"
	"github.com/spf13/cobra"
)

type imagesFlags struct {
	overrides config.Overrides
	output    string
	dryRun    bool
	parallel  int
}

func newImagesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "List, pull or import the images of an EKS-D release",
		Args:  positional(cobra.NoArgs),
		Example: `  # The images of the default release
  eksd-kata images list

  # Pull them into containerd and retag them as kubeadm expects
  sudo eksd-kata images pull

  # On a host without internet access: import an archive of them
  sudo eksd-kata images import ./eksd-images.tar`,
	}
	cmd.AddCommand(newImagesListCmd(g), newImagesPullCmd(g), newImagesImportCmd(g))
	return cmd
}

func newImagesListCmd(g *globals) *cobra.Command {
	var f imagesFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the source and target reference of every image (offline)",
		Args:  positional(cobra.NoArgs),
		Example: `  # The images of the default release: where they come from, what they are tagged as
  eksd-kata images list

  # Of another release, as JSON
  eksd-kata images list --release 1-35 -o json

  # As pulled through a registry mirror
  eksd-kata images list --image-mirror registry.example.internal:5000`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := jsonOutput(f.output)
			if err != nil {
				return err
			}
			s, err := imagesStep(cmd.Context(), g, &f)
			if err != nil {
				return err
			}
			pairs, err := s.Pairs()
			if err != nil {
				return usageError(err)
			}
			return images.List(cmd.OutOrStdout(), pairs, asJSON)
		},
	}
	f.overrides.Bind(cmd.Flags())
	bindOutput(cmd, &f.output)
	return cmd
}

func newImagesPullCmd(g *globals) *cobra.Command {
	var f imagesFlags
	cmd := &cobra.Command{
		Use:   "pull",
		Short: "Pull the images into containerd (namespace k8s.io), unpack and retag them",
		Args:  positional(cobra.NoArgs),
		Example: `  # Pull, unpack and retag the images of the default release
  sudo eksd-kata images pull

  # Print what would be pulled and tagged, and change nothing
  sudo eksd-kata images pull --dry-run

  # Of another release, from a mirror reached over plain HTTP, 8 at a time
  sudo eksd-kata images pull --release 1-35 --image-mirror registry.example.internal:5000 --insecure-registry registry.example.internal:5000 --parallel 8`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runImages(cmd.Context(), g, &f, "", cmd.OutOrStdout())
		},
	}
	bindImagesApply(cmd, &f)
	return cmd
}

func newImagesImportCmd(g *globals) *cobra.Command {
	var f imagesFlags
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import the images from an OCI or docker archive (ctr images export, docker save) and retag them",
		Args:  oneArg("image archive"),
		Example: `  # Import and retag the images of the default release from an archive
  sudo eksd-kata images import ./eksd-images.tar

  # Print what would be imported and tagged, and change nothing
  sudo eksd-kata images import ./eksd-images.tar --dry-run`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImages(cmd.Context(), g, &f, args[0], cmd.OutOrStdout())
		},
	}
	bindImagesApply(cmd, &f)
	return cmd
}

func bindImagesApply(cmd *cobra.Command, f *imagesFlags) {
	f.overrides.Bind(cmd.Flags())
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().IntVar(&f.parallel, "parallel", images.DefaultParallel, "images pulled at the same time")
}

// imagesStep builds the step from the configuration; it needs no host.
func imagesStep(ctx context.Context, g *globals, f *imagesFlags) (*images.Step, error) {
	cfg, err := g.loadConfig(&f.overrides)
	if err != nil {
		return nil, err
	}
	rel, err := resolveRelease(ctx, cfg, false)
	if err != nil {
		return nil, err
	}
	return &images.Step{Config: cfg, Release: rel, Parallel: f.parallel}, nil
}

func runImages(ctx context.Context, g *globals, f *imagesFlags, archive string, out io.Writer) error {
	if f.parallel < 1 {
		return usageErrorf("--parallel %d: want 1 or more", f.parallel)
	}
	h, err := g.host()
	if err != nil {
		return err
	}
	s, err := imagesStep(ctx, g, f)
	if err != nil {
		return err
	}
	if archive != "" {
		if _, err := host.StatInput(archive); err != nil {
			return usageError(err)
		}
		s.Archive = archive
	}
	s.Progress = reporter(out)
	report, err := bootstrap.Run(ctx, h, []bootstrap.Step{s}, bootstrap.Options{DryRun: f.dryRun, Out: out})
	if err != nil {
		return g.runError(err, f.dryRun)
	}
	if !f.dryRun {
		fmt.Fprintf(out, "images: %d change(s) applied in %s\n", report.Changed(), report.Duration.Round(1e6))
	}
	return nil
}

// reporter draws progress bars on a terminal and plain lines elsewhere.
func reporter(out io.Writer) images.Reporter {
	if host.IsTerminal(out) {
		return &images.Bars{W: out}
	}
	return &images.Lines{W: out}
}
