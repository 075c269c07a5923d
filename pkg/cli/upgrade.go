package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/detect"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/kube"
	"github.com/eksd-kata/eksd-kata/pkg/kubeadm"
	"github.com/eksd-kata/eksd-kata/pkg/noderecord"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	"github.com/eksd-kata/eksd-kata/pkg/runtimeinstall"
	"github.com/eksd-kata/eksd-kata/pkg/status"
	"github.com/eksd-kata/eksd-kata/pkg/upgrade"
	"github.com/eksd-kata/eksd-kata/pkg/version"
	"github.com/spf13/cobra"
)

type upgradeFlags struct {
	bootstrapFlags
	skipDrain, rollback bool
}

func newUpgradeCmd(g *globals) *cobra.Command {
	var f upgradeFlags
	cmd := &cobra.Command{
		Use:   "upgrade --release CHANNEL[-NUMBER]",
		Short: "Upgrade this node to another EKS-D release, one Kubernetes minor at a time",
		Long: `upgrade moves the node bootstrap or join made (` + noderecord.Path + `) to
another EKS-D release, as kubeadm upgrade does: a newer release of its
channel, or the next Kubernetes minor, never two. A worker or another control
plane goes no further than the API server's version: upgrade the first
control plane (the node bootstrap made) first. Before any change it checks
this, the containerd the release needs and the release's checksums; a
refusal exits 2 and changes nothing. Then:

` + describePhases(upgradePhases(phaseInputs{cfg: &config.NodeConfig{}, rel: &eksd.Release{}, f: &bootstrapFlags{}}, upgradeInputs{rec: &noderecord.Record{}})) + `
The drain is skipped (--skip-drain, or by itself when no other node is
Ready and schedulable, as on a single node): the pods keep running through
the kubelet's restart. Every phase plans from the host, so after a failure
the same command finishes the upgrade, and a finished one plans nothing.

The binaries replaced are kept in ` + upgrade.Dir + `/<release>: --rollback
puts kubeadm, the kubelet and kubectl back, restarts the kubelet and
restores the record. It cannot undo kubeadm upgrade apply (the control
plane's static pods; kubeadm keeps their old manifests in
/etc/kubernetes/tmp), the images, containerd or the cluster's add-ons.
Not upgraded: the CNI, add-ons you applied, Kata, and containerd unless
the release needs a newer one (--install-containerd).`,
		Example: `  # The plan: every phase and change, nothing touched
  sudo eksd-kata upgrade --release 1-36 --dry-run

  # Upgrade to the newest 1-36 release, first on the first control plane, then
  # on each other node
  sudo eksd-kata upgrade --release 1-36

  # Offline: the manifest with the checksums, and the binaries from a directory
  sudo eksd-kata upgrade --release-manifest kubernetes-1-36-eks-7.yaml --artifacts-dir /srv/eksd-kata

  # A containerd too old for the new release: install containerd 2.2 with it
  sudo eksd-kata upgrade --release 1-36 --install-containerd 2.2

  # Undo a failed upgrade: the kept kubeadm, kubelet and kubectl put back
  sudo eksd-kata upgrade --rollback`,
		Args: positional(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runUpgrade(cmd.Context(), g, &f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.overrides.BindRelease(cmd.Flags())
	fl := cmd.Flags()
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan (with diffs of files) and change nothing")
	fl.StringSliceVar(&f.only, "only", nil, "run only these phases (comma separated): "+strings.Join(upgradeNames, ","))
	fl.StringSliceVar(&f.skip, "skip", nil, "skip these phases (comma separated)")
	fl.BoolVar(&f.skipDrain, "skip-drain", false, "do not cordon and drain the node: its pods keep running through the kubelet's restart")
	fl.BoolVar(&f.rollback, "rollback", false, "put back the kubeadm, kubelet and kubectl an upgrade replaced, and the node's record")
	fl.StringVar(&f.containerdVersion, "containerd-version", "", "installed containerd version, instead of asking it (under --root: default the one bootstrap was given)")
	fl.StringVar(&f.artifactsDir, "artifacts-dir", "", "take the release files (kubeadm, kubelet, kubectl, containerd, runc) from DIR instead of downloading; still verified")
	bindRuntimeFlags(fl, &f.bootstrapFlags)
	completeSteps(cmd, upgradeNames)
	return cmd
}

func runUpgrade(ctx context.Context, g *globals, f *upgradeFlags, out, errOut io.Writer) error {
	h, err := g.host()
	if err != nil {
		return err
	}
	rec, err := noderecord.Read(h)
	if errors.Is(err, noderecord.ErrNone) {
		return usageErrorf("not bootstrapped: %s is missing; upgrade starts from what eksd-kata bootstrap or join recorded there", noderecord.Path)
	}
	if err != nil {
		return inputError(err)
	}
	if f.containerdVersion == "" && !h.IsLive() {
		f.containerdVersion = rec.ContainerdVersion
	}
	connect := kube.KubeconfigConnector(status.Kubeconfig(rec.Role))
	if f.rollback {
		return runRollback(ctx, g, h, rec, f, connect, out)
	}
	if !f.overrides.Changed("release") && !f.overrides.Changed("release-manifest") && g.configFile == "" {
		return usageErrorf("name the release to upgrade to: --release CHANNEL[-NUMBER] or --release-manifest FILE|URL (%s)", candidates(rec))
	}
	if err := checkContainerdSHA(&f.bootstrapFlags); err != nil {
		return err
	}
	cfg, err := g.recordConfig(rec, &f.overrides, false)
	if err != nil {
		return err
	}
	// Binaries are installed only with the checksums of the published
	// manifest, read when they will be installed.
	fetch := !f.dryRun && f.artifactsDir == "" && (selected(upgradeKubeadmBinary, f.only, f.skip) || selected(upgradeKubelet, f.only, f.skip))
	rel, err := resolveRelease(ctx, cfg, fetch)
	if err != nil {
		return err
	}
	kind, err := upgrade.Skew(rec.Release, rel)
	if err != nil {
		return usageError(err)
	}
	resolved, err := detect.Resolve(cfg, h)
	if err != nil {
		return err
	}
	// The join's endpoint and hash stay in the record; the configuration
	// planned with has none (status and upgrade do not join).
	resolved.Spec.Join = rec.Config.Spec.Join
	first := rec.Verb == "bootstrap" && rec.Role == config.RoleControlPlane
	if err := checkControlPlane(ctx, h, connect, rel, first, out); err != nil {
		return err
	}
	if err := checkContainerd(ctx, h, rel, resolved, f); err != nil {
		return err
	}
	if err := kubeadm.LearnPauseTag(ctx, h, rel, ""); err != nil {
		return err
	}
	how := "kubeadm upgrade node"
	if first {
		how = "kubeadm upgrade apply, as the first control plane"
	}
	switch kind {
	case upgrade.Same:
		fmt.Fprintf(out, "upgrade: the node is recorded as %s already: what is not done yet is planned (%s)\n", rel, how)
	default:
		fmt.Fprintf(out, "upgrade: %s (Kubernetes %s) to %s (Kubernetes %s), a %s upgrade (%s)\n",
			rec.Release.Name, rec.Release.KubernetesVersion, rel, rel.KubernetesVersion(), kind, how)
	}
	u := upgradeInputs{rec: rec, first: first, connect: connect, newRecord: upgradedRecord(rec, resolved, rel, kind, f), skipDrain: f.skipDrain}
	phases := upgradePhases(phaseInputs{cfg: resolved, rel: rel, f: &f.bootstrapFlags, out: out, errOut: errOut, kubeconfigUser: rec.KubeconfigUser}, u)
	report, err := runTable(ctx, g, h, rel, phases, upgradeKubeadmBinary, &f.bootstrapFlags, out, "upgrade", nil)
	if report != nil {
		printProblems(out, report)
	}
	return err
}

// candidates names the releases a node recorded as rec may go to.
func candidates(rec *noderecord.Record) string {
	var out []string
	if r, err := eksd.Lookup(rec.Release.Channel, 0); err == nil && r.Number() > rec.Release.Number {
		out = append(out, fmt.Sprintf("%s-%d is the newest of the node's channel", r.Channel(), r.Number()))
	}
	next := fmt.Sprintf("1-%d", eksd.ChannelMinor(rec.Release.Channel)+1)
	if r, err := eksd.Lookup(next, 0); err == nil {
		out = append(out, fmt.Sprintf("%s-%d of the next minor, Kubernetes %s", r.Channel(), r.Number(), r.KubernetesVersion()))
	}
	if len(out) == 0 {
		return fmt.Sprintf("the node runs %s; this eksd-kata embeds nothing newer: give a manifest", rec.Release.Name)
	}
	return fmt.Sprintf("the node runs %s; %s", rec.Release.Name, strings.Join(out, "; "))
}

// checkControlPlane refuses a target the control plane's version does not
// allow (upgrade.ControlPlane), read from the API server with the node's
// own credentials. Under --root there is no cluster to ask.
func checkControlPlane(ctx context.Context, h *host.Host, connect kube.Connector, rel *eksd.Release, first bool, out io.Writer) error {
	if !h.IsLive() {
		fmt.Fprintf(out, "note: the control plane's version is not checked under --root\n")
		return nil
	}
	c, err := connect(ctx, h)
	if err != nil {
		return fmt.Errorf("reading the control plane's version: %w", err)
	}
	v, err := c.Kube.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("reading the control plane's version: %w (upgrade needs the cluster's API server)", err)
	}
	if err := upgrade.ControlPlane(rel, v.GitVersion, first); err != nil {
		return inputError(err)
	}
	return nil
}

// checkContainerd refuses a release the host's containerd is too old for,
// unless the runtime phase replaces it (--install-containerd, or a
// containerd eksd-kata installed).
func checkContainerd(ctx context.Context, h *host.Host, rel *eksd.Release, cfg *config.NodeConfig, f *upgradeFlags) error {
	if f.installContainerd != "" {
		if _, err := runtimeinstall.Choose(rel, runtimeinstall.Request{Containerd: f.installContainerd, SHA256: f.containerdSHA256}, goruntime.GOARCH); err != nil {
			return usageError(err)
		}
	}
	if !selected(runtimeinstall.StepName, f.only, f.skip) && !selected("containerd", f.only, f.skip) {
		return nil
	}
	rt := &runtimeinstall.Step{Release: rel, Request: runtimeinstall.Request{Containerd: f.installContainerd, SHA256: f.containerdSHA256},
		Version: f.containerdVersion, Socket: cfg.Spec.Containerd.Socket, ArtifactsDir: f.artifactsDir, DryRun: true}
	o, err := rt.Outlook(ctx, h)
	if err != nil {
		return inputError(err)
	}
	if ps, ok := plan.Problems(o.TooOld); ok {
		return usageErrorf("%s: %s", ps[0].What, ps[0].Remedy)
	}
	return nil
}

// upgradedRecord is the node's record once upgraded to rel: the recorded
// node with its new release and configuration, and where it came from.
func upgradedRecord(rec *noderecord.Record, cfg *config.NodeConfig, rel *eksd.Release, kind upgrade.Kind, f *upgradeFlags) *noderecord.Record {
	n := noderecord.New(rec.Verb, cfg, rel, version.Version, time.Now())
	n.KubeconfigUser, n.ContainerdVersion = rec.KubeconfigUser, rec.ContainerdVersion
	if f.containerdVersion != "" {
		n.ContainerdVersion = f.containerdVersion
	}
	n.UpgradedFrom = rec.UpgradedFrom
	if kind != upgrade.Same {
		from := rec.Release
		n.UpgradedFrom = &from
	}
	return n
}

// runRollback puts back what an upgrade kept.
func runRollback(ctx context.Context, g *globals, h *host.Host, rec *noderecord.Record, f *upgradeFlags, connect kube.Connector, out io.Writer) error {
	if f.overrides.Changed("release") || f.overrides.Changed("release-manifest") {
		return usageErrorf("--rollback goes back to the release the upgrade started from: drop --release and --release-manifest")
	}
	kept, err := upgrade.FindKept(h, rec)
	if err != nil {
		return usageError(err)
	}
	fmt.Fprintf(out, "upgrade --rollback: the binaries of %s kept in %s; kubeadm upgrade's control-plane changes stay (kubeadm keeps the old static pod manifests in /etc/kubernetes/tmp)\n", kept.Release, kept.Dir)
	node := rec.NodeName
	if node == "" {
		node = rec.Config.Spec.Node.Name
	}
	phases := rollbackPhases(kept, node, connect)
	report, err := runTable(ctx, g, h, kept.Release, phases, "", &f.bootstrapFlags, out, "upgrade --rollback", nil)
	if report != nil {
		printProblems(out, report)
	}
	return err
}
