package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	goruntime "runtime"
	"slices"
	"strings"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/binaries"
	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/cniplugins"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/detect"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/kube"
	"github.com/eksd-kata/eksd-kata/pkg/kubeadm"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	"github.com/eksd-kata/eksd-kata/pkg/preflight"
	"github.com/eksd-kata/eksd-kata/pkg/release"
	"github.com/eksd-kata/eksd-kata/pkg/runtimeinstall"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// installKataHelp is the help of --install-kata, on bootstrap and join.
const installKataHelp = "install Kata into /opt/kata: a release VERSION such as 3.32.0 (checked against the sha256 eksd-kata carries; " +
	"one it carries none for needs --kata-sha256), or a kata-static tarball FILE or https URL with its sha256"

type bootstrapFlags struct {
	overrides          config.Overrides
	dryRun             bool
	only, skip         []string
	containerdVersion  string
	noRestart          bool
	artifactsDir       string
	insecureSkipVerify bool
	ignore             []string
	ignoreSet          map[string]bool
	installKata        string
	kataSHA256         string
	kataChecksumFile   string
	installContainerd  string
	containerdSHA256   string
}

func newBootstrapCmd(g *globals) *cobra.Command {
	var f bootstrapFlags
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Make this host an EKS-D control-plane node with Kata runtimes",
		Long: `bootstrap runs these steps, each planning its changes from what is on
the host and applying them:

` + describePhases(bootstrapPhases(noInputs)) + `
Each starts once the steps it needs are done, and some overlap (the image
pulls go on beside the binaries and kubeadm's certificates): --dry-run
prints the order. A host that is already right plans nothing and changes
nothing. Every file changed is backed up once under
/var/lib/eksd-kata/backup for reset. After a failure, run the same command
again: it continues from what is still not right.`,
		Example: `  # Preflight, then every step; on a host that is already right nothing changes
  sudo eksd-kata bootstrap

  # Print the plan, with diffs of the files it would write, and change nothing
  sudo eksd-kata bootstrap --dry-run

  # Pin the EKS-D release and install Kata 3.32.0 from its release, checked
  # against the sha256 eksd-kata carries
  sudo eksd-kata bootstrap --release 1-35 --install-kata 3.32.0

  # Install Kata from a kata-static tarball, checked against its sha256
  sudo eksd-kata bootstrap --install-kata ./kata-static-3.21.0-amd64.tar.zst --kata-sha256 <sha256>

  # A host whose containerd is too old for the release (Debian 12's 1.6): install
  # containerd 2.3's newest patch and runc from their releases in its place
  sudo eksd-kata bootstrap --install-containerd 2.3

  # Only pull the images and install the binaries, e.g. to preload a node
  sudo eksd-kata bootstrap --only images,binaries

  # Take the settings from a file (start one with: eksd-kata config print)
  sudo eksd-kata bootstrap --config node.yaml

  # Plan the changes to a node image mounted at /mnt/image, without booting it
  eksd-kata bootstrap --root /mnt/image --containerd-version 2.2.1 --dry-run`,
		Args: positional(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBootstrap(cmd.Context(), g, &f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.overrides.Bind(cmd.Flags())
	f.overrides.BindInit(cmd.Flags())
	fl := cmd.Flags()
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan (with diffs of files) and change nothing")
	fl.StringSliceVar(&f.only, "only", nil, "run only these steps (comma separated): "+strings.Join(stepNames, ","))
	fl.StringSliceVar(&f.skip, "skip", nil, "skip these steps (comma separated)")
	fl.StringVar(&f.containerdVersion, "containerd-version", "", "installed containerd version, instead of asking it (needed with --root)")
	fl.BoolVar(&f.noRestart, "no-restart", false, "write containerd's config but do not restart it")
	fl.StringVar(&f.artifactsDir, "artifacts-dir", "", "take the release files from DIR instead of downloading, still verified: kubeadm, kubelet, kubectl (DIR/bin/linux/<arch>/<name> or DIR/<name>), and the CNI plugins, containerd, runc and kata-static (DIR/<release file name>)")
	fl.StringSliceVar(&f.ignore, "ignore", nil, `preflight check ids whose failure is only a warning (comma separated, or "all"); see eksd-kata check`)
	fl.StringVar(&f.installKata, "install-kata", "", installKataHelp)
	fl.StringVar(&f.kataSHA256, "kata-sha256", "", "sha256 of the --install-kata tarball")
	fl.StringVar(&f.kataChecksumFile, "kata-checksum-file", "", "sha256sum-style file that names the --install-kata tarball")
	fl.BoolVar(&f.insecureSkipVerify, "insecure-skip-verify", false, "install node binaries the release has no checksum for (checksums come from the manifest EKS-D publishes)")
	bindRuntimeFlags(fl, &f)
	completeSteps(cmd, stepNames)
	return cmd
}

func runBootstrap(ctx context.Context, g *globals, f *bootstrapFlags, out, errOut io.Writer) error {
	h, err := g.host()
	if err != nil {
		return err
	}
	cfg, err := g.loadConfig(&f.overrides)
	if err != nil {
		return err
	}
	// kubeadm init makes a control plane whatever the role says; a worker
	// may still run join's preparation steps alone (an image made offline).
	if cfg.Spec.Node.Role == config.RoleWorker && slices.ContainsFunc(stepNames, func(s string) bool {
		return selected(s, f.only, f.skip) && !slices.Contains(nodePhaseNames, s)
	}) {
		setting := "spec.node.role: worker"
		if f.overrides.Changed("role") {
			setting = "--role worker"
		}
		return usageErrorf("%s: a worker joins a cluster: use eksd-kata join ENDPOINT --token … --discovery-token-ca-cert-hash … (%s on the control plane has them: run it with eksd-kata in place of kubeadm)", setting, kubeadm.JoinCommandFile)
	}
	rel, resolved, err := prepare(ctx, h, cfg, f)
	if err != nil {
		return err
	}
	phases := bootstrapPhases(phaseInputs{cfg: resolved, rel: rel, f: f, out: out, errOut: errOut})
	report, err := runSteps(ctx, g, h, resolved, rel, phases, f, out, "bootstrap")
	if report == nil {
		return err
	}
	printSummary(out, report, h, resolved, f)
	return err
}

// prepare is what bootstrap and join do before their steps: the --ignore
// list, the release (with checksums when binaries will be installed) and the
// configuration with what this host detects filled in.
func prepare(ctx context.Context, h *host.Host, cfg *config.NodeConfig, f *bootstrapFlags) (*eksd.Release, *config.NodeConfig, error) {
	var err error
	for _, o := range [][2]string{{"--kata-sha256", f.kataSHA256}, {"--kata-checksum-file", f.kataChecksumFile}} {
		if o[1] != "" && f.installKata == "" {
			return nil, nil, usageErrorf("%s checks the tarball of --install-kata, which is not given: add --install-kata VERSION|FILE|URL or drop %s", o[0], o[0])
		}
	}
	if f.ignoreSet, err = preflight.ParseIgnore(f.ignore); err != nil {
		return nil, nil, usageErrorf("--ignore: %v", err)
	}
	if err := checkContainerdSHA(f); err != nil {
		return nil, nil, err
	}
	// The embedded release plans everything but binaries and the CNI
	// plugins; those need the published manifest, fetched only when they
	// will be installed.
	fetch := !f.dryRun && !f.insecureSkipVerify && f.artifactsDir == "" &&
		(selected("binaries", f.only, f.skip) || selected(cniplugins.StepName, f.only, f.skip))
	rel, err := resolveRelease(ctx, cfg, fetch)
	if err != nil {
		return nil, nil, err
	}
	if f.installContainerd != "" {
		// The request is checked now, as bad input, whatever the host has.
		if _, err := runtimeinstall.Choose(rel, runtimeinstall.Request{Containerd: f.installContainerd, SHA256: f.containerdSHA256}, goruntime.GOARCH); err != nil {
			return nil, nil, usageError(err)
		}
	}
	resolved, err := detect.Resolve(cfg, h)
	if err != nil {
		return nil, nil, err
	}
	if err := kubeadm.LearnPauseTag(ctx, h, rel, ""); err != nil {
		return nil, nil, err
	}
	return rel, resolved, nil
}

// checkContainerdSHA refuses --containerd-sha256 without the tarball it checks.
func checkContainerdSHA(f *bootstrapFlags) error {
	if f.containerdSHA256 != "" && f.installContainerd == "" {
		return usageErrorf("--containerd-sha256 checks the tarball of --install-containerd, which is not given: add --install-containerd VERSION|FILE|URL or drop --containerd-sha256")
	}
	return nil
}

// bindRuntimeFlags binds the flags of the runtime step, which bootstrap
// and join share.
func bindRuntimeFlags(fl *pflag.FlagSet, f *bootstrapFlags) {
	fl.StringVar(&f.installContainerd, "install-containerd", "", "install containerd VERSION (2.2.7, or 2.2 for its newest patch) or a containerd release tarball (FILE|URL) in /usr/local/bin, in place of the host's (reset puts it back); runc with it")
	fl.StringVar(&f.containerdSHA256, "containerd-sha256", "", "sha256 of the --install-containerd tarball, or of a version eksd-kata carries no checksum for")
}

// kubeadmFirst runs the phase that installs kubeadm (named phase) before
// the run when the release is newer than this program: the pause tag that
// containerd's sandbox image and the images step need comes from its
// kubeadm then.
func kubeadmFirst(ctx context.Context, g *globals, h *host.Host, rel *eksd.Release, phases []bootstrap.Phase, phase string, f *bootstrapFlags, out io.Writer) error {
	_, err := rel.KubeadmPauseTag()
	if !errors.Is(err, eksd.ErrPauseTagUnknown) || !h.IsLive() || f.dryRun || !selected(phase, f.only, f.skip) {
		return nil
	}
	i := slices.IndexFunc(phases, func(p bootstrap.Phase) bool { return p.Name == phase })
	if i < 0 {
		return nil
	}
	fmt.Fprintf(out, "EKS-D %s-%d is newer than this eksd-kata knows: its kubeadm is installed first and asked for the pause image tag\n", rel.Channel(), rel.Number())
	if _, err := bootstrap.Run(ctx, h, []bootstrap.Step{phases[i].Step}, bootstrap.Options{Out: out}); err != nil {
		return g.runError(err, false)
	}
	if err := kubeadm.LearnPauseTag(ctx, h, rel, ""); err != nil {
		return err
	}
	_, err = rel.KubeadmPauseTag()
	return err
}

// runSteps runs the phases of a table as bootstrap and join do, records
// the node (cfg is the run's configuration), and prints the tally line. A dry run that planned past blockers returns its
// report and a *bootstrap.BlockedError (exit 1: the plan cannot be carried
// out).
func runSteps(ctx context.Context, g *globals, h *host.Host, cfg *config.NodeConfig, rel *eksd.Release, phases []bootstrap.Phase, f *bootstrapFlags, out io.Writer, verbName string) (*bootstrap.Report, error) {
	return runTable(ctx, g, h, rel, phases, binaries.StepName, f, out, verbName, func(report *bootstrap.Report) error {
		return recordNode(h, verbName, cfg, rel, f, report)
	})
}

// runTable runs a table of phases (kubeadmInstall names the phase that
// installs kubeadm), then after with the report, and prints the tally line.
func runTable(ctx context.Context, g *globals, h *host.Host, rel *eksd.Release, phases []bootstrap.Phase, kubeadmInstall string, f *bootstrapFlags, out io.Writer, verbName string, after func(*bootstrap.Report) error) (*bootstrap.Report, error) {
	if !h.IsLive() {
		fmt.Fprintf(out, "working on the host file system at %s (--root): live operations are skipped\n", h.Root())
	}
	if err := kubeadmFirst(ctx, g, h, rel, phases, kubeadmInstall, f, out); err != nil {
		return nil, err
	}
	opts := bootstrap.Options{Only: f.only, Skip: f.skip, DryRun: f.dryRun, Out: out}
	// Step events are for automation (json) and debugging; the text output
	// already says the same to a person.
	if g.logFormat == "json" || g.verbose {
		opts.Log = g.log
	}
	report, err := bootstrap.RunPhases(ctx, h, phases, opts)
	if after != nil {
		if rerr := after(report); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	var blocked *bootstrap.BlockedError
	if err != nil && !errors.As(err, &blocked) {
		return nil, g.runError(err, f.dryRun)
	}
	verb := "applied"
	if f.dryRun {
		verb = "planned (dry run: nothing changed)"
	}
	fmt.Fprintf(out, "%s: %d change(s) %s in %d step(s), %s\n", verbName, report.Changed(), verb, len(report.Steps), report.Duration.Round(time.Millisecond))
	return report, err
}

// printSummary says which steps changed something (or, in a dry run,
// would), which were already right, what blocks the run or is left to the
// operator, and, once a control plane exists, its pod network and what to
// run next.
func printSummary(out io.Writer, r *bootstrap.Report, h *host.Host, cfg *config.NodeConfig, f *bootstrapFlags) {
	var changed, right, blocked, left []string
	for _, s := range r.Steps {
		if len(s.Changes) > 0 {
			changed = append(changed, fmt.Sprintf("%s (%d)", s.Name, len(s.Changes)))
		}
		switch {
		case len(s.Blockers) > 0:
			blocked = append(blocked, s.Name)
		case len(s.Unsolved) > 0:
			left = append(left, s.Name)
		case len(s.Changes) == 0:
			right = append(right, s.Name)
		}
	}
	verb := "changed"
	if f.dryRun {
		verb = "would change"
	}
	for _, l := range []struct {
		what  string
		steps []string
	}{{verb, changed}, {"already right", right}, {"blocked", blocked}, {"not complete", left}} {
		if len(l.steps) > 0 {
			fmt.Fprintf(out, "  %s: %s\n", l.what, strings.Join(l.steps, ", "))
		}
	}
	printProblems(out, r)
	if f.dryRun || !h.IsLive() || !selected("kubeadm", f.only, f.skip) {
		return
	}
	printNetwork(out, h, cfg)
	fmt.Fprintf(out, "next:\n")
	fmt.Fprintf(out, "  kubectl get nodes                  (kubeconfig: ~/.kube/config, or /etc/kubernetes/admin.conf as root)\n")
	fmt.Fprintf(out, "  sudo cat %s   (the kubeadm join command for workers; it holds a token)\n", kubeadm.JoinCommandFile)
	fmt.Fprintf(out, "  eksd-kata verify                   (a runc and a kata pod, host vs guest kernel)\n")
}

// printNetwork says which pod network the node has, how more nodes get
// one, and how a pod runs in a Kata VM.
func printNetwork(out io.Writer, h *host.Host, cfg *config.NodeConfig) {
	sp := cfg.Spec
	bridge, _ := h.FS.Exists(kube.BridgeConflist)
	switch m := sp.Addons.CNIManifest; {
	case m == "none":
		fmt.Fprintf(out, "pod network: none (--cni-manifest none): pods start once you apply one\n")
	case m != "":
		fmt.Fprintf(out, "pod network: the CNI manifest %s\n", m)
	case bridge:
		fmt.Fprintf(out, "pod network: eksd-kata's bridge on this node alone, pods on %s (%s)\n", sp.Network.PodCIDR, kube.BridgeConflist)
		fmt.Fprintf(out, "  for more nodes: run again with --cni-manifest FILE|URL (spec.addons.cniManifest), a cluster network that takes its place\n")
	default:
		fmt.Fprintf(out, "pod network: the one configured in %s before\n", path.Dir(kube.BridgeConflist))
	}
	if sp.Kata.Enabled {
		fmt.Fprintf(out, "  a pod in a Kata VM: runtimeClassName: %s in its spec\n", sp.Kata.RuntimeHandler)
	}
}

// printProblems lists, with their remedies, the blockers a real run would
// stop at and the problems it leaves to the operator.
func printProblems(out io.Writer, r *bootstrap.Report) {
	for _, list := range []struct {
		heading, mark string
		of            func(bootstrap.StepResult) []plan.Problem
	}{
		{"blockers: a real run would stop here", "✗", func(s bootstrap.StepResult) []plan.Problem { return s.Blockers }},
		{"left to you: the node is not complete without these (a run goes on)", "!", func(s bootstrap.StepResult) []plan.Problem { return s.Unsolved }},
	} {
		heading := list.heading
		for _, s := range r.Steps {
			for _, p := range list.of(s) {
				if heading != "" {
					fmt.Fprintln(out, heading)
					heading = ""
				}
				fmt.Fprintf(out, "  %s %s: %s\n", list.mark, s.Name, p.What)
				if p.Remedy != "" {
					fmt.Fprintf(out, "    → %s\n", p.Remedy)
				}
			}
		}
	}
}

// describePhases lists the phases of a table with what each does, for
// the help text.
func describePhases(phases []bootstrap.Phase) string {
	var b strings.Builder
	width := 10
	for _, p := range phases {
		width = max(width, len(p.Name))
	}
	for _, p := range phases {
		fmt.Fprintf(&b, "  %-*s %s\n", width+1, p.Name, p.Description)
	}
	return b.String()
}

// selected tells whether --only/--skip keep the step named.
func selected(name string, only, skip []string) bool {
	return (len(only) == 0 || slices.Contains(only, name)) && !slices.Contains(skip, name)
}

// resolveRelease is how every verb finds its EKS-D release (see
// release.Resolve); cfg's spec.release then names it. fetch allows the
// published manifest to be read for its binary checksums.
func resolveRelease(ctx context.Context, cfg *config.NodeConfig, fetch bool) (*eksd.Release, error) {
	rel, err := release.Resolve(ctx, cfg, nil, fetch)
	if err != nil {
		return nil, inputError(err)
	}
	cfg.Spec.Release.Channel, cfg.Spec.Release.Number = rel.Channel(), rel.Number()
	return rel, nil
}

// inputError maps bad input (a malformed file on the host, one that is not
// a regular file or is too large, an unknown step) to exit 2; anything
// else stays a failure (exit 1).
func inputError(err error) error {
	if badinput.Is(err) {
		return usageError(err)
	}
	return err
}

// runError is inputError for a run's error; a failed step of a real run
// adds how to go on: the same command again, its secrets hidden.
func (g *globals) runError(err error, dryRun bool) error {
	err = inputError(err)
	var se *bootstrap.StepError
	if dryRun || exitCode(err) == ExitUsage || !errors.As(err, &se) {
		return err
	}
	return fmt.Errorf("%w\nfix the cause and run the same command again (%s): it continues from what is not right yet", err, g.commandLine())
}

// commandLine is the command the user ran, quoted for a shell, with its
// secrets hidden.
func (g *globals) commandLine() string {
	words := []string{"eksd-kata"}
	for _, a := range g.args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`|&;<>(){}*?[]#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		words = append(words, a)
	}
	return g.secrets.Hide(strings.Join(words, " "))
}
