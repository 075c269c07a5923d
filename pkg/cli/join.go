package cli

import (
	"context"
	"io"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/kubeadm"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// joinFlags names the flag behind each field of spec.join, for errors.
var joinFlags = map[string]string{
	"spec.join.token":                    "--token",
	"spec.join.discoveryTokenCACertHash": "--discovery-token-ca-cert-hash",
	"spec.join.controlPlaneEndpoint":     "--control-plane-endpoint",
	"spec.join.certificateKey":           "--certificate-key",
}

type joinCmdFlags struct {
	bootstrapFlags
	join config.Join
}

func newJoinCmd(g *globals) *cobra.Command {
	var f joinCmdFlags
	cmd := &cobra.Command{
		Use:   "join [ENDPOINT]",
		Short: "Prepare this host and join it to an existing EKS-D cluster as a worker or control plane",
		Long: `join runs the node-preparation steps of bootstrap (` + strings.Join(nodePhaseNames, ", ") + `),
then kubeadm join with a JoinConfiguration written to ` + kubeadm.JoinConfigFile + ` (0600).

It takes kubeadm join's arguments: on the first control plane,
` + "`sudo cat " + kubeadm.JoinCommandFile + "`" + ` shows the command for a worker and
` + "`sudo cat " + kubeadm.JoinControlPlaneCommandFile + "`" + ` the one for a control plane
(when the cluster has spec.network.controlPlaneEndpoint); run it with
eksd-kata in place of kubeadm. ENDPOINT is the same as --control-plane-endpoint.

A control plane (--control-plane) pulls the control-plane images, joins
etcd, and gets admin.conf as the invoking user's kubeconfig. Its
--certificate-key works for two hours after kubeadm init (or after
` + "`kubeadm init phase upload-certs --upload-certs`" + `).

A flag is visible to other users in the process list: on shared hosts
prefer a 0600 config file (spec.join).`,
		Example: `  # Join as a worker: the command in ` + kubeadm.JoinCommandFile + ` on the
  # control plane, with eksd-kata in place of kubeadm
  sudo eksd-kata join 10.0.0.10:6443 --token <token> --discovery-token-ca-cert-hash sha256:<hash>

  # Print the plan and change nothing (the token is never shown)
  sudo eksd-kata join 10.0.0.10:6443 --token <token> --discovery-token-ca-cert-hash sha256:<hash> --dry-run

  # Join as another control plane (the command in
  # ` + kubeadm.JoinControlPlaneCommandFile + `)
  sudo eksd-kata join cp.example.internal:6443 --token <token> --discovery-token-ca-cert-hash sha256:<hash> --control-plane --certificate-key <key>

  # Offline: the node binaries, containerd and runc release files from a directory
  sudo eksd-kata join --config node.yaml --artifacts-dir /srv/eksd-kata

  # Keep the token out of the process list: spec.join in a 0600 file
  sudo eksd-kata join --config node.yaml`,
		Args: positional(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if cmd.Flags().Changed("control-plane-endpoint") {
					return usageErrorf("the endpoint is given twice (%s and --control-plane-endpoint): give one", args[0])
				}
				// As the flag: it fills f.join and counts as set.
				_ = cmd.Flags().Set("control-plane-endpoint", args[0])
			}
			return runJoin(cmd.Context(), g, &f, cmd, cmd.OutOrStdout())
		},
	}
	f.overrides.Bind(cmd.Flags())
	fl := cmd.Flags()
	fl.StringVar(&f.join.Token, "token", "", "bootstrap token (abcdef.0123456789abcdef)")
	fl.StringVar(&f.join.DiscoveryTokenCACertHash, "discovery-token-ca-cert-hash", "", "sha256:<hex> of the cluster CA's public key")
	fl.StringVar(&f.join.ControlPlaneEndpoint, "control-plane-endpoint", "", "the API server as host:port (or the ENDPOINT argument)")
	fl.BoolVar(&f.join.ControlPlane, "control-plane", false, "join as another control plane (API server and etcd member), not a worker")
	fl.StringVar(&f.join.CertificateKey, "certificate-key", "", "with --control-plane: the key kubeadm init --upload-certs printed (64 hex digits)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan and change nothing (the token is never shown)")
	fl.StringSliceVar(&f.only, "only", nil, "run only these steps (comma separated): "+strings.Join(joinStepNames, ","))
	fl.StringSliceVar(&f.skip, "skip", nil, "skip these steps (comma separated)")
	fl.StringVar(&f.containerdVersion, "containerd-version", "", "installed containerd version, instead of asking it (needed with --root)")
	fl.BoolVar(&f.noRestart, "no-restart", false, "write containerd's config but do not restart it")
	fl.StringVar(&f.artifactsDir, "artifacts-dir", "", "take the release files (kubeadm, kubelet, kubectl, the CNI plugins, containerd, runc, kata-static) from DIR instead of downloading; still verified")
	fl.StringSliceVar(&f.ignore, "ignore", nil, `preflight check ids whose failure is only a warning (comma separated, or "all")`)
	fl.StringVar(&f.installKata, "install-kata", "", installKataHelp)
	fl.StringVar(&f.kataSHA256, "kata-sha256", "", "sha256 of the --install-kata tarball")
	fl.StringVar(&f.kataChecksumFile, "kata-checksum-file", "", "sha256sum-style file that names the --install-kata tarball")
	fl.BoolVar(&f.insecureSkipVerify, "insecure-skip-verify", false, "install node binaries the release has no checksum for")
	bindRuntimeFlags(fl, &f.bootstrapFlags)
	completeSteps(cmd, joinStepNames)
	return cmd
}

func runJoin(ctx context.Context, g *globals, f *joinCmdFlags, cmd *cobra.Command, out io.Writer) error {
	h, err := g.host()
	if err != nil {
		return err
	}
	cfg, err := g.loadConfig(&f.overrides)
	if err != nil {
		return err
	}
	join := joinSettings(cfg, f, cmd)
	if r, _ := cmd.Flags().GetString("role"); cmd.Flags().Changed("role") && r != string(joinRole(join.ControlPlane)) {
		return usageErrorf("--role %s: join's role follows --control-plane (spec.join.controlPlane): a control plane with it, a worker without", r)
	}
	cfg.Spec.Node.Role = joinRole(join.ControlPlane)
	// The preflight dials the endpoint the flags gave too.
	cfg.Spec.Join = join
	if errs := config.ValidateJoin(&join, field.NewPath("spec", "join")); len(errs) > 0 {
		for _, e := range errs {
			switch name := joinFlags[e.Field]; {
			case name == "":
			case cmd.Flags().Changed(strings.TrimPrefix(name, "--")):
				e.Field = name
			default:
				e.Field = name + " (" + e.Field + ")"
			}
		}
		// One line each: a first join usually misses all three.
		return usageError(&config.Error{Errs: errs})
	}
	rel, resolved, err := prepare(ctx, h, cfg, &f.bootstrapFlags)
	if err != nil {
		return err
	}
	phases := joinPhases(phaseInputs{cfg: resolved, rel: rel, f: &f.bootstrapFlags, out: out, errOut: cmd.ErrOrStderr()}, join)
	report, err := runSteps(ctx, g, h, resolved, rel, phases, &f.bootstrapFlags, out, "join")
	if report != nil {
		printProblems(out, report)
	}
	return err
}

// joinSettings are the configuration's spec.join with the flags the user
// set on top.
func joinSettings(cfg *config.NodeConfig, f *joinCmdFlags, cmd *cobra.Command) config.Join {
	j := cfg.Spec.Join
	changed := cmd.Flags().Changed
	if changed("token") {
		j.Token = f.join.Token
	}
	if changed("discovery-token-ca-cert-hash") {
		j.DiscoveryTokenCACertHash = f.join.DiscoveryTokenCACertHash
	}
	if changed("control-plane-endpoint") {
		j.ControlPlaneEndpoint = f.join.ControlPlaneEndpoint
	}
	if changed("control-plane") {
		j.ControlPlane = f.join.ControlPlane
	}
	if changed("certificate-key") {
		j.CertificateKey = f.join.CertificateKey
	}
	return j
}

// joinRole is the role a join makes of this node.
func joinRole(controlPlane bool) config.Role {
	if controlPlane {
		return config.RoleControlPlane
	}
	return config.RoleWorker
}
