package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"

	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/containerd"
	"github.com/eksd-kata/eksd-kata/pkg/detect"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/kubeadm"
	"github.com/eksd-kata/eksd-kata/pkg/noderecord"
	"github.com/eksd-kata/eksd-kata/pkg/release"
	"github.com/eksd-kata/eksd-kata/pkg/status"
	"github.com/spf13/cobra"
)

type statusFlags struct {
	overrides         config.Overrides
	output            string
	containerdVersion string
}

func newStatusCmd(g *globals) *cobra.Command {
	var f statusFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "What this node is now, and what bootstrap (or join) would change",
		Long: `status tells what this node is, from the record bootstrap and join leave
in ` + noderecord.Path + `: the EKS-D release it was made from and whether
kubeadm, kubelet and kubectl still have that release's checksums (kept in
` + noderecord.ManifestPath + `), containerd's version and runtimes, Kata's
version and the hypervisors it can use, the node's Ready condition and the
cluster's RuntimeClasses (read with ` + status.Kubeconfig(config.RoleControlPlane) + ` on a control plane,
` + status.Kubeconfig(config.RoleWorker) + ` on a worker), and the drift: what bootstrap (join on a
node that joined) with the recorded configuration would change now, from
its dry run. It changes nothing, and reads the network only for a CNI
manifest the configuration names by URL.

--config or the override flags plan with another configuration;
--release or --release-manifest compare with another release. Under --root
it reads the record, the binaries and the files, and says what it skipped.

Exit code 0 when the node is as configured and Ready, 1 when something
drifted or is not Ready (or the host is not a node yet), 2 on bad usage.`,
		Example: `  # What this node is, and whether anything drifted
  sudo eksd-kata status

  # As JSON, for monitoring or a support ticket
  sudo eksd-kata status -o json

  # Check the binaries against the manifest EKS-D publishes
  sudo eksd-kata status --release-manifest https://distro.eks.amazonaws.com/kubernetes-1-36/kubernetes-1-36-eks-7.yaml

  # A node image prepared with bootstrap --root
  eksd-kata status --root /mnt/image`,
		Args: positional(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), g, &f, cmd.OutOrStdout())
		},
	}
	f.overrides.Bind(cmd.Flags())
	bindOutput(cmd, &f.output)
	cmd.Flags().StringVar(&f.containerdVersion, "containerd-version", "", "installed containerd version, instead of asking it (under --root: default the one bootstrap was given)")
	return cmd
}

func runStatus(ctx context.Context, g *globals, f *statusFlags, out io.Writer) error {
	asJSON, err := jsonOutput(f.output)
	if err != nil {
		return err
	}
	if v := f.containerdVersion; v != "" {
		if _, err := containerd.ConfigVersionFor(v); err != nil {
			return usageErrorf("--containerd-version: %v", err)
		}
	}
	h, err := g.host()
	if err != nil {
		return err
	}
	rec, err := noderecord.Read(h)
	if errors.Is(err, noderecord.ErrNone) {
		rec = nil
	} else if err != nil {
		return inputError(err)
	}
	cfg, err := g.statusConfig(rec, &f.overrides)
	if err != nil {
		return err
	}
	in := status.Inputs{Host: h, Record: rec}
	if rec != nil || g.configFile != "" {
		if in.Release, in.ReleaseSource, err = g.statusRelease(ctx, h, rec, cfg, &f.overrides); err != nil {
			return err
		}
		if err := kubeadm.LearnPauseTag(ctx, h, in.Release, ""); err != nil {
			return err
		}
	}
	if in.Config, err = detect.Resolve(cfg, h); err != nil {
		return err
	}
	r := status.Gather(ctx, in)
	if rec != nil {
		r.Drift = drift(ctx, h, rec, in.Config, in.Release, f)
	}
	r.Judge()
	if asJSON {
		err = status.WriteJSON(out, r)
	} else {
		err = status.WriteText(out, r)
	}
	switch {
	case err != nil:
		return err
	case rec == nil:
		return errors.New("not bootstrapped: run eksd-kata bootstrap (or eksd-kata join)")
	case len(r.Problems) > 0:
		return fmt.Errorf("the node is not as configured and Ready: %d problem(s)", len(r.Problems))
	}
	return nil
}

// statusConfig is the configuration status plans with: --config's, or
// else the record's, with the override flags on top.
func (g *globals) statusConfig(rec *noderecord.Record, o *config.Overrides) (*config.NodeConfig, error) {
	return g.recordConfig(rec, o, true)
}

// recordConfig is the record's configuration with the override flags on
// top (or --config's); without keepRelease, the flags alone name the
// release.
func (g *globals) recordConfig(rec *noderecord.Record, o *config.Overrides, keepRelease bool) (*config.NodeConfig, error) {
	if g.configFile != "" || rec == nil {
		return g.loadConfig(o)
	}
	// The record keeps the join without its secrets, which a check of
	// spec.join would miss: status does not join.
	c := *rec.Config
	c.Spec.Join = config.Join{}
	if !keepRelease {
		c.Spec.Release = config.Release{}
	}
	data, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	read := func(string, int64) ([]byte, error) { return data, nil }
	return g.loadConfigFrom(noderecord.Path, config.Input{Read: read}, o)
}

// statusRelease is the release status compares with: the manifest kept
// with the record, unless --config, --release or --release-manifest names
// another; source says which, for the report.
func (g *globals) statusRelease(ctx context.Context, h *host.Host, rec *noderecord.Record, cfg *config.NodeConfig, o *config.Overrides) (*eksd.Release, string, error) {
	if rec == nil || g.configFile != "" || o.Changed("release") || o.Changed("release-manifest") {
		rel, err := resolveRelease(ctx, cfg, false)
		if err != nil {
			return nil, "", err
		}
		if m := cfg.Spec.Release.Manifest; m != "" {
			return rel, "from " + m, nil
		}
		return rel, "eksd-kata's embedded copy", nil
	}
	source := "the manifest kept in " + noderecord.ManifestPath
	if m := rec.Release.Manifest; m != "" {
		source += " (from " + m + ")"
	}
	rel, err := noderecord.ReadRelease(h)
	if err != nil {
		// Without it, the embedded copy still names the images and binaries.
		var lerr error
		if rel, lerr = eksd.Lookup(rec.Release.Channel, rec.Release.Number); lerr != nil {
			return nil, "", fmt.Errorf("%w; %w", err, lerr)
		}
		source = "eksd-kata's embedded copy (" + noderecord.ManifestPath + " cannot be read)"
	}
	cfg.Spec.Release.Channel, cfg.Spec.Release.Number = rel.Channel(), rel.Number()
	return rel, source, nil
}

// drift plans the table of the verb that made the node, as its dry run,
// output dropped: what it would change now. Phases that act once on the
// cluster from a run's own flags are left out: kubeadm join (its token is
// spent and not kept), and a worker's kubeadm phases of bootstrap.
func drift(ctx context.Context, h *host.Host, rec *noderecord.Record, cfg *config.NodeConfig, rel *eksd.Release, f *statusFlags) *status.Drift {
	// The node's own release without checksums cannot judge its binaries
	// (the report says so): the plan keeps them, as the run that put them
	// there with --insecure-skip-verify would. Another release replaces them.
	unverifiable := !release.Verifiable(rel, runtime.GOARCH) && rel.String() == rec.Release.Name
	bf := &bootstrapFlags{dryRun: true, containerdVersion: f.containerdVersion, insecureSkipVerify: unverifiable}
	if bf.containerdVersion == "" && !h.IsLive() {
		bf.containerdVersion = rec.ContainerdVersion
	}
	// The kubeconfig bootstrap keeps is the one it copied, whoever asks.
	in := phaseInputs{cfg: cfg, rel: rel, f: bf, out: io.Discard, errOut: io.Discard, kubeconfigUser: rec.KubeconfigUser}
	phases, verb := bootstrapPhases(in), "bootstrap"
	// What the drift leaves out, and why.
	why := map[string]string{
		"preflight": "preflight (read-only checks: eksd-kata check)",
		"verify":    "verify (a smoke test, no change: eksd-kata verify)",
	}
	switch {
	case rec.Verb == "join":
		phases, verb = joinPhases(in, cfg.Spec.Join), "join"
		why[kubeadmPhase] = "kubeadm (join runs once: its token is not kept)"
	case cfg.Spec.Node.Role == config.RoleWorker:
		for _, p := range phases {
			if !slices.Contains(nodePhaseNames, p.Name) {
				why[p.Name] = p.Name + " (a worker's is join's)"
			}
		}
	}
	var skip, reasons []string
	for _, p := range phases {
		if r, ok := why[p.Name]; ok {
			skip, reasons = append(skip, p.Name), append(reasons, r)
		}
	}
	rep, err := bootstrap.RunPhases(ctx, h, phases, bootstrap.Options{Skip: skip, DryRun: true, Out: io.Discard})
	var blocked *bootstrap.BlockedError
	if err != nil && !errors.As(err, &blocked) {
		return &status.Drift{Verb: verb, Phases: []status.Phase{}, NotPlanned: reasons, Error: err.Error()}
	}
	d := status.DriftOf(verb, rep)
	d.NotPlanned = reasons
	return d
}
