package cli

import (
	"context"
	"io"
	"path"

	"github.com/eksd-kata/eksd-kata/pkg/artifacts"
	"github.com/eksd-kata/eksd-kata/pkg/binaries"
	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/cniplugins"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/containerd"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/images"
	"github.com/eksd-kata/eksd-kata/pkg/kata"
	"github.com/eksd-kata/eksd-kata/pkg/kube"
	"github.com/eksd-kata/eksd-kata/pkg/kubeadm"
	"github.com/eksd-kata/eksd-kata/pkg/noderecord"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	"github.com/eksd-kata/eksd-kata/pkg/preflight"
	"github.com/eksd-kata/eksd-kata/pkg/runtimeinstall"
	"github.com/eksd-kata/eksd-kata/pkg/tuning"
	"github.com/eksd-kata/eksd-kata/pkg/upgrade"
)

// This file is the run order of bootstrap and join: a table of phases,
// each with what it waits for (bootstrap.Phase says how the runner reads
// it). --only, --skip, the help text and the order a dry run prints all
// come from these tables.

// phaseInputs are what the steps are built from: the resolved
// configuration, the release and the flags; the steps print to out and
// their progress to errOut, the command's own (redacting) writers.
type phaseInputs struct {
	cfg         *config.NodeConfig
	rel         *eksd.Release
	f           *bootstrapFlags
	out, errOut io.Writer
	// kubeconfigUser gets admin.conf; empty: who runs eksd-kata.
	kubeconfigUser string
}

// kubeadmPhase is the phase of kubeadm init (bootstrap) or join (join).
const kubeadmPhase = "kubeadm"

// milestones are the points inside the node phases that later phases wait
// for; each table makes its own, for one run.
type milestones struct {
	imagesStored, kubeadmInstalled, kubeletInstalled *plan.Milestone
}

// bootstrapPhases is the table of bootstrap.
func bootstrapPhases(in phaseInputs) []bootstrap.Phase {
	m := milestones{
		imagesStored:     plan.NewMilestone("control-plane images stored"),
		kubeadmInstalled: plan.NewMilestone("kubeadm installed"),
		kubeletInstalled: plan.NewMilestone("kubelet installed"),
	}
	return checked(append(nodePhases(in, m),
		bootstrap.Phase{
			Name:        "certs",
			Description: "kubeadm's certificates, kubeconfig files and preflight checks, beside the image pulls",
			Step:        &kubeadm.CertsStep{Config: in.cfg, Release: in.rel, Out: in.out},
			// kubeadm's preflight runs kubelet --version: it stays in this
			// phase, which then waits for the kubelet too, rather than a
			// phase of its own; the pulls kubeadm init waits for take
			// longer than the kubelet's install.
			Needs: []bootstrap.Need{m.kubeadmInstalled, m.kubeletInstalled},
		},
		bootstrap.Phase{
			Name:        kubeadmPhase,
			Description: "kubeadm init, the admin kubeconfig and the join command",
			Step: &kubeadm.InitStep{Config: in.cfg, Release: in.rel, Out: in.out, SudoUser: in.kubeconfigUser,
				// The certs phase ran kubeadm's preflight and kubeconfig
				// phases: init skips them.
				AfterCertsStep: selected("certs", in.f.only, in.f.skip)},
			Needs: []bootstrap.Need{bootstrap.After("certs"), m.imagesStored, m.kubeletInstalled},
		},
		bootstrap.Phase{
			Name:        "addons",
			Description: "RuntimeClasses, the CNI and, on a single node, the control-plane taint removed",
			Step:        &kube.AddonsStep{Config: in.cfg},
			Needs:       []bootstrap.Need{bootstrap.After("kubeadm")},
		},
		bootstrap.Phase{
			Name:        "verify",
			Description: "a runc and a Kata pod run, once every image is in",
			Step:        &kube.VerifyStep{Config: in.cfg, Out: in.out},
			Needs:       []bootstrap.Need{bootstrap.After("addons"), bootstrap.After("images"), bootstrap.After(cniplugins.StepName)},
		},
	))
}

// joinPhases is the table of join: the node phases, then kubeadm join.
func joinPhases(in phaseInputs, join config.Join) []bootstrap.Phase {
	m := milestones{
		imagesStored:     plan.NewMilestone("images for kubeadm join stored"),
		kubeadmInstalled: plan.NewMilestone("kubeadm installed"),
		kubeletInstalled: plan.NewMilestone("kubelet installed"),
	}
	return checked(append(nodePhases(in, m), bootstrap.Phase{
		Name:        kubeadmPhase,
		Description: "kubeadm join, as a worker or another control plane",
		Step:        &kubeadm.JoinStep{Config: in.cfg, Release: in.rel, Join: join, Out: in.out},
		Needs:       []bootstrap.Need{m.imagesStored, m.kubeadmInstalled, m.kubeletInstalled},
	}))
}

// nodePhases make a host a node, before kubeadm: bootstrap and join begin
// with them.
func nodePhases(in phaseInputs, m milestones) []bootstrap.Phase {
	kataStep := &kata.Step{Config: in.cfg, Install: in.f.installKata, SHA256: in.f.kataSHA256, ChecksumFile: in.f.kataChecksumFile,
		Artifacts: artifacts.Getter{Dir: in.f.artifactsDir}}
	rt := &runtimeinstall.Step{
		Release: in.rel, Request: runtimeinstall.Request{Containerd: in.f.installContainerd, SHA256: in.f.containerdSHA256},
		Version: in.f.containerdVersion, Socket: in.cfg.Spec.Containerd.Socket, ArtifactsDir: in.f.artifactsDir,
		DryRun: in.f.dryRun, NoRestart: in.f.noRestart,
	}
	// The preflight and containerd's config ask the runtime step which
	// containerd the host will have, when it is part of the run.
	var installs *runtimeinstall.Step
	var installer containerd.Installer
	if selected(runtimeinstall.StepName, in.f.only, in.f.skip) {
		installs, installer = rt, rt
	}
	return []bootstrap.Phase{
		{
			Name:        "preflight",
			Description: "read-only checks: virtualisation, host, runtime, Kata, Kubernetes",
			Step: &preflight.Step{Config: in.cfg, Release: in.rel, Ignore: in.f.ignoreSet, Runtime: installs,
				InstallCNIPlugins: selected(cniplugins.StepName, in.f.only, in.f.skip), KataInstall: kataStep.WillInstall()},
		},
		{
			Name:        "host",
			Description: "kernel modules, sysctls, swap off, SELinux permissive",
			Step:        &tuning.Step{Config: in.cfg},
			Needs:       []bootstrap.Need{bootstrap.After("preflight")},
		},
		{
			Name:        runtimeinstall.StepName,
			Description: "containerd and runc from their releases, verified, where none is or --install-containerd asks",
			Step:        rt,
			Needs:       []bootstrap.Need{bootstrap.After("host")},
		},
		{
			Name:        "containerd",
			Description: "containerd's config merged with ours, the daemon restarted",
			Step: &containerd.Step{Config: in.cfg, Release: in.rel, Version: in.f.containerdVersion, NoRestart: in.f.noRestart,
				Installer: installer},
			Needs: []bootstrap.Need{bootstrap.After(runtimeinstall.StepName)},
		},
		{
			Name:        "kata",
			Description: "Kata installed and its runtimes added to containerd",
			Step:        kataStep,
			Needs:       []bootstrap.Need{bootstrap.After("containerd")},
		},
		{
			Name:        "images",
			Description: "the release's images pulled, tagged as kubeadm expects, pause pinned",
			// Plain lines: other phases print while the pulls go on.
			Step:       &images.Step{Config: in.cfg, Release: in.rel, Progress: &images.Lines{W: in.errOut}, ControlPlaneStored: m.imagesStored},
			Needs:      []bootstrap.Need{bootstrap.After("kata")}, // which restarts containerd
			Background: true,
			Provides:   []*plan.Milestone{m.imagesStored},
		},
		{
			Name:        "binaries",
			Description: "the kubelet unit, then kubeadm, the kubelet and kubectl, verified",
			Step: &binaries.Step{
				Release: in.rel, Mirror: in.cfg.Spec.Images.Mirror, ArtifactsDir: in.f.artifactsDir,
				InsecureSkipVerify: in.f.insecureSkipVerify, DryRun: in.f.dryRun, Progress: in.errOut,
				KubeadmInstalled: m.kubeadmInstalled, KubeletInstalled: m.kubeletInstalled,
			},
			// No Needs of its own: it follows kata, which holds back what
			// comes after it.
			Provides: []*plan.Milestone{m.kubeadmInstalled, m.kubeletInstalled},
		},
		{
			Name:        cniplugins.StepName,
			Description: "the release's CNI plugins into /opt/cni/bin, verified; other plugins kept",
			Step:        &cniplugins.Step{Release: in.rel, ArtifactsDir: in.f.artifactsDir, Progress: in.errOut},
			// Only pods need them: the certificates and kubeadm go on beside it.
			Background: true,
		},
	}
}

// upgradeInputs are what the upgrade's phases need beside phaseInputs:
// where the node starts from, and where what it replaces is kept.
type upgradeInputs struct {
	rec *noderecord.Record
	// first: this node runs kubeadm upgrade apply (the first control
	// plane); others run kubeadm upgrade node.
	first bool
	// connect reaches the cluster with the node's own kubeconfig.
	connect kube.Connector
	// newRecord is what the node is once upgraded.
	newRecord *noderecord.Record
	skipDrain bool
}

// Phase names of the upgrade table that its code refers to.
const (
	upgradeKubeadmBinary = "kubeadm-binary"
	upgradeKubelet       = "kubelet"
)

// upgradePhases is the table of upgrade: as kubeadm's upgrade, the new
// images and kubeadm first, then kubeadm upgrade, then the node drained
// around the kubelet's swap and restart, then the record.
func upgradePhases(in phaseInputs, u upgradeInputs) []bootstrap.Phase {
	keep := upgrade.KeepDir(u.rec.Release.Name)
	rt := &runtimeinstall.Step{
		Release: in.rel, Request: runtimeinstall.Request{Containerd: in.f.installContainerd, SHA256: in.f.containerdSHA256},
		Version: in.f.containerdVersion, Socket: in.cfg.Spec.Containerd.Socket, ArtifactsDir: in.f.artifactsDir, DryRun: in.f.dryRun,
	}
	var installer containerd.Installer
	if selected(runtimeinstall.StepName, in.f.only, in.f.skip) {
		installer = rt
	}
	node := func(names ...string) *binaries.Step {
		return &binaries.Step{Release: in.rel, Names: names, Keep: keep, Mirror: in.cfg.Spec.Images.Mirror,
			ArtifactsDir: in.f.artifactsDir, DryRun: in.f.dryRun, Progress: in.errOut}
	}
	// The drain and the restart are for a kubelet still to be replaced.
	kubeletPending := func(_ context.Context, h *host.Host) (bool, error) {
		ok, err := binaries.IsRelease(h, in.rel, "kubelet", "", "")
		return !ok, err
	}
	name := in.cfg.Spec.Node.Name
	return checked([]bootstrap.Phase{
		{
			Name:        runtimeinstall.StepName,
			Description: "containerd and runc from their releases where the new release needs them (--install-containerd)",
			Step:        rt,
		},
		{
			Name:        "containerd",
			Description: "containerd's sandbox image: the new release's pause, the daemon restarted",
			Step:        &containerd.Step{Config: in.cfg, Release: in.rel, Version: in.f.containerdVersion, Installer: installer},
		},
		{
			Name:        "images",
			Description: "the new release's images pulled, tagged as its kubeadm expects, pause pinned",
			Step:        &images.Step{Config: in.cfg, Release: in.rel, Progress: &images.Lines{W: in.errOut}},
			Background:  true,
		},
		{
			Name:        upgradeKubeadmBinary,
			Description: "the new kubeadm, verified; the old one kept for a rollback",
			Step:        node("kubeadm"),
		},
		{
			Name:        kubeadmPhase,
			Description: "kubeadm upgrade apply on the first control plane, kubeadm upgrade node elsewhere",
			Step: &kubeadm.UpgradeStep{Config: in.cfg, Release: in.rel, Apply: u.first, Connect: u.connect, Out: in.out,
				KubeconfigUser: in.kubeconfigUser},
			Needs: []bootstrap.Need{bootstrap.After("images")},
		},
		{
			Name:        "drain",
			Description: "the node cordoned and its pods evicted (not DaemonSets'), unless no other node can take them",
			Step:        &kube.DrainStep{Node: name, Release: in.rel.String(), Skip: u.skipDrain, Pending: kubeletPending, Connect: u.connect},
		},
		{
			Name:        upgradeKubelet,
			Description: "the new kubelet and kubectl, verified; the old ones kept for a rollback",
			Step:        node("kubelet", "kubectl"),
		},
		{
			Name:        "restart",
			Description: "the kubelet restarted, then the node Ready",
			Step: &upgrade.RestartStep{Binary: path.Join(binaries.DefaultInstallDir, "kubelet"), Pending: kubeletPending, Node: name, Connect: u.connect,
				Kubelet: in.rel.KubernetesVersion()},
		},
		{
			Name:        "uncordon",
			Description: "the node schedulable again, when the drain cordoned it",
			Step:        &kube.UncordonStep{Node: name, Connect: u.connect},
		},
		{
			Name:        "record",
			Description: "the node recorded as the new release (" + noderecord.Path + "), the old record kept",
			Step:        &upgrade.RecordStep{New: u.newRecord, Release: in.rel},
		},
	})
}

// rollbackPhases is the table of upgrade --rollback: what an upgrade kept,
// put back.
func rollbackPhases(kept *upgrade.Kept, node string, connect kube.Connector) []bootstrap.Phase {
	restore := &upgrade.RollbackStep{Kept: kept}
	var kubelet string // the version the restarted kubelet reports
	if kept.Release != nil {
		kubelet = kept.Release.KubernetesVersion()
	}
	return checked([]bootstrap.Phase{
		{Name: "binaries", Description: "kubeadm, the kubelet and kubectl the upgrade replaced, put back", Step: restore},
		{
			Name:        "restart",
			Description: "the kubelet restarted, then the node Ready",
			Step: &upgrade.RestartStep{Binary: path.Join(binaries.DefaultInstallDir, "kubelet"), Node: node, Connect: connect, Kubelet: kubelet,
				Pending: func(ctx context.Context, h *host.Host) (bool, error) { return restore.Restores(ctx, h, "kubelet") }},
		},
		{Name: "record", Description: "the node's record from before the upgrade, put back", Step: &upgrade.RestoreRecordStep{Kept: kept}},
	})
}

// checked returns a table that passes bootstrap.Validate; one that does
// not is a mistake in this file.
func checked(phases []bootstrap.Phase) []bootstrap.Phase {
	if err := bootstrap.Validate(phases); err != nil {
		panic("cli: " + err.Error())
	}
	return phases
}

// phaseNames lists the names of a table, in order.
func phaseNames(phases []bootstrap.Phase) []string {
	out := make([]string, len(phases))
	for i, p := range phases {
		out[i] = p.Name
	}
	return out
}

// The tables as the help text and completion show them.
var (
	noInputs       = phaseInputs{cfg: &config.NodeConfig{}, f: &bootstrapFlags{}}
	stepNames      = phaseNames(bootstrapPhases(noInputs))
	joinStepNames  = phaseNames(joinPhases(noInputs, config.Join{}))
	nodePhaseNames = phaseNames(nodePhases(noInputs, milestones{}))
	upgradeNames   = phaseNames(upgradePhases(phaseInputs{cfg: &config.NodeConfig{}, rel: &eksd.Release{}, f: &bootstrapFlags{}},
		upgradeInputs{rec: &noderecord.Record{}}))
)
