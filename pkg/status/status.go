// Package status tells what a node is now: the EKS-D release it was made
// from and whether its binaries are still that release's, the containerd
// and Kata it runs, its state in the cluster, and what a run of bootstrap
// (or join) would change (the drift, which the command line plans). It
// changes nothing.
package status

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/binaries"
	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/containerd"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/kata"
	"github.com/eksd-kata/eksd-kata/pkg/kube"
	"github.com/eksd-kata/eksd-kata/pkg/kubeadm"
	"github.com/eksd-kata/eksd-kata/pkg/noderecord"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	"github.com/eksd-kata/eksd-kata/pkg/release"
	"k8s.io/client-go/kubernetes"
)

// Report is what status tells of a node; its JSON is the -o json output.
type Report struct {
	Node       Node        `json:"node"`
	Release    *Release    `json:"release,omitempty"`
	Binaries   *Binaries   `json:"binaries,omitempty"`
	Containerd *Containerd `json:"containerd,omitempty"`
	Kata       *Kata       `json:"kata,omitempty"`
	Cluster    *Cluster    `json:"cluster,omitempty"`
	Drift      *Drift      `json:"drift,omitempty"`
	// Skipped says what was not looked at, and why (--root).
	Skipped []string `json:"skipped,omitempty"`
	// Problems are why the node is not as configured and Ready; none: it is.
	Problems []string `json:"problems"`
}

// Node is what the record says the node was made as.
type Node struct {
	// Bootstrapped: bootstrap or join recorded the node.
	Bootstrapped bool        `json:"bootstrapped"`
	Record       string      `json:"record"`
	Name         string      `json:"name,omitempty"`
	Role         config.Role `json:"role,omitempty"`
	// Verb is the command that made it: bootstrap or join.
	Verb string `json:"verb,omitempty"`
	// Release is the release it was made from, or last upgraded to.
	Release  string    `json:"release,omitempty"`
	Since    time.Time `json:"since,omitzero"`
	EksdKata string    `json:"eksdKataVersion,omitempty"`
	// UpgradedFrom is the release eksd-kata upgrade last moved it from.
	UpgradedFrom string `json:"upgradedFrom,omitempty"`
}

// Release is the release the node is compared with.
type Release struct {
	Name              string `json:"name"`
	Channel           string `json:"channel"`
	Number            int    `json:"number"`
	KubernetesVersion string `json:"kubernetesVersion"`
	// Source is where it came from: the manifest kept with the record, a
	// --release-manifest, or eksd-kata's embedded copy.
	Source string `json:"source"`
	// Checksums: it carries the binaries' checksums.
	Checksums bool `json:"checksums"`
}

// Binaries are kubeadm, kubelet and kubectl against the release.
type Binaries struct {
	Items []binaries.Installed `json:"items"`
	Error string               `json:"error,omitempty"`
}

// Containerd is the running daemon.
type Containerd struct {
	containerd.Daemon
	Error string `json:"error,omitempty"`
}

// Kata is the installed Kata and the hypervisors it can start VMs with.
type Kata struct {
	Enabled  bool       `json:"enabled"`
	Version  string     `json:"version,omitempty"`
	Ready    []string   `json:"ready"`
	NotReady []NotReady `json:"notReady,omitempty"`
	Error    string     `json:"error,omitempty"`
}

// NotReady is a configured hypervisor Kata cannot use, and what it lacks.
type NotReady struct {
	Hypervisor string `json:"hypervisor"`
	Why        string `json:"why"`
}

// Inputs are what Gather looks at.
type Inputs struct {
	Host   *host.Host
	Record *noderecord.Record
	// Config is the node's configuration, resolved.
	Config  *config.NodeConfig
	Release *eksd.Release
	// ReleaseSource says where Release came from, for the report.
	ReleaseSource string
	// Connect opens the cluster; nil: the node's kubeconfig (Kubeconfig).
	Connect func(ctx context.Context, h *host.Host) (kubernetes.Interface, error)
	// Arch and InstallDir of the binaries; empty: this machine's, the default.
	Arch, InstallDir string
}

// arch is a, or this machine's architecture.
func arch(a string) string {
	if a == "" {
		return runtime.GOARCH
	}
	return a
}

// Kubeconfig is the credentials status reads the cluster with: the admin's
// on a control plane, the kubelet's own on a worker.
func Kubeconfig(role config.Role) string {
	if role == config.RoleWorker {
		return kubeadm.KubeletConf
	}
	return kube.AdminKubeconfig
}

// Gather looks at everything but the drift. Without a record it tells only
// what runs: containerd and Kata.
func Gather(ctx context.Context, in Inputs) *Report {
	h := in.Host
	r := &Report{Node: Node{Record: noderecord.Path}}
	if rec := in.Record; rec != nil {
		r.Node = Node{Bootstrapped: true, Record: noderecord.Path, Name: rec.NodeName, Role: rec.Role, Verb: rec.Verb,
			Release: rec.Release.Name, Since: rec.Time, EksdKata: rec.EksdKata}
		if rec.UpgradedFrom != nil {
			r.Node.UpgradedFrom = rec.UpgradedFrom.Name
		}
	}
	if in.Release != nil {
		rel := in.Release
		r.Release = &Release{Name: rel.String(), Channel: rel.Channel(), Number: rel.Number(),
			KubernetesVersion: rel.KubernetesVersion(), Source: in.ReleaseSource}
		r.Binaries = &Binaries{}
		items, err := binaries.Inspect(h, rel, in.Arch, in.InstallDir)
		if err != nil {
			r.Binaries.Error = err.Error()
		}
		r.Binaries.Items = items
		r.Release.Checksums = release.Verifiable(rel, arch(in.Arch))
	}
	if in.Config != nil {
		r.gatherRuntime(ctx, h, in.Config)
	}
	if in.Record != nil && in.Config != nil {
		r.gatherCluster(ctx, in)
	}
	return r
}

// skip notes what --root leaves out.
func (r *Report) skip(what string) {
	r.Skipped = append(r.Skipped, what+": not the running system (--root)")
}

func (r *Report) gatherRuntime(ctx context.Context, h *host.Host, cfg *config.NodeConfig) {
	if h.IsLive() {
		d, err := containerd.Running(ctx, h, cfg.Spec.Containerd.Socket)
		r.Containerd = &Containerd{Daemon: d}
		if err != nil {
			r.Containerd.Error = err.Error()
		}
	} else {
		r.skip("the containerd daemon")
	}
	k := &Kata{Enabled: cfg.Spec.Kata.Enabled, Ready: []string{}}
	r.Kata = k
	ready, err := kata.Ready(h, cfg.Spec.Kata)
	if err != nil {
		k.Error = err.Error()
		return
	}
	k.Ready = append(k.Ready, ready.Ready...)
	for _, m := range ready.Missing {
		k.NotReady = append(k.NotReady, NotReady{Hypervisor: m.Hypervisor, Why: m.Why})
	}
	if !k.Enabled {
		return
	}
	v, err := kata.Version(ctx, h)
	switch {
	case errors.Is(err, host.ErrNotLive):
		r.skip("Kata's version (kata-runtime --version)")
	case err != nil:
		k.Error = err.Error()
	default:
		k.Version = v
	}
}

// Judge lists the problems: anything that keeps the node from being as
// configured and Ready.
func (r *Report) Judge() {
	var p []string
	add := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	if !r.Node.Bootstrapped {
		add("not bootstrapped: no %s; run eksd-kata bootstrap (or eksd-kata join)", noderecord.Path)
	}
	if b := r.Binaries; b != nil {
		if b.Error != "" {
			add("binaries: %s", b.Error)
		}
		for _, in := range b.Items {
			switch in.State {
			case binaries.Differs:
				add("%s differs from %s", in.Path, r.Release.Name)
			case binaries.Missing:
				add("%s is missing", in.Path)
			}
		}
	}
	if c := r.Containerd; c != nil && c.Error != "" {
		add("containerd: %s", c.Error)
	}
	if k := r.Kata; k != nil && k.Error != "" {
		add("kata: %s", k.Error)
	}
	if c := r.Cluster; c != nil {
		switch {
		case c.Error != "":
			add("cluster: %s", c.Error)
		case !c.Registered:
			add("node %s is not registered with the API server", c.Node)
		case !c.Ready:
			add("node %s is not Ready: %s", c.Node, c.readyText())
		}
	}
	if d := r.Drift; d != nil {
		if d.Error != "" {
			add("drift: %s", d.Error)
		}
		if d.Changes > 0 {
			add("drift: %s would make %d change(s) (%s)", d.Verb, d.Changes, strings.Join(d.phasesWith(func(ph Phase) int { return len(ph.Changes) }), ", "))
		}
		if n := d.count(func(ph Phase) []Problem { return ph.Blockers }); n > 0 {
			add("drift: %d blocker(s) (%s)", n, strings.Join(d.phasesWith(func(ph Phase) int { return len(ph.Blockers) }), ", "))
		}
		if n := d.count(func(ph Phase) []Problem { return ph.LeftToYou }); n > 0 {
			add("drift: %d problem(s) left to you (%s)", n, strings.Join(d.phasesWith(func(ph Phase) int { return len(ph.LeftToYou) }), ", "))
		}
	}
	if p == nil {
		p = []string{}
	}
	r.Problems = p
}

// Drift is what a run of bootstrap (or join) with the node's configuration
// would change now: its dry run, summed up.
type Drift struct {
	// Verb is whose table was planned: bootstrap or join.
	Verb    string  `json:"verb"`
	Changes int     `json:"changes"`
	Phases  []Phase `json:"phases"`
	// NotPlanned are the phases of the table left out, each with why.
	NotPlanned []string `json:"notPlanned,omitempty"`
	Error      string   `json:"error,omitempty"`
}

// Phase is one planned phase of the drift.
type Phase struct {
	Name    string   `json:"name"`
	Changes []string `json:"changes"`
	// Blockers would stop the run; LeftToYou it cannot fix by itself.
	Blockers  []Problem `json:"blockers,omitempty"`
	LeftToYou []Problem `json:"leftToYou,omitempty"`
}

// Problem is a plan.Problem as the report shows it.
type Problem struct {
	What   string `json:"what"`
	Remedy string `json:"remedy,omitempty"`
}

func problems(ps []plan.Problem) []Problem {
	var out []Problem
	for _, p := range ps {
		out = append(out, Problem{What: p.What, Remedy: p.Remedy})
	}
	return out
}

// DriftOf sums up a dry run's report.
func DriftOf(verb string, rep *bootstrap.Report) *Drift {
	d := &Drift{Verb: verb, Phases: []Phase{}}
	for _, s := range rep.Steps {
		changes := s.Changes
		if changes == nil {
			changes = []string{}
		}
		d.Phases = append(d.Phases, Phase{Name: s.Name, Changes: changes, Blockers: problems(s.Blockers), LeftToYou: problems(s.Unsolved)})
		d.Changes += len(s.Changes)
	}
	return d
}

// phasesWith names the phases with n(phase) > 0, with that number.
func (d *Drift) phasesWith(n func(Phase) int) []string {
	var out []string
	for _, ph := range d.Phases {
		if k := n(ph); k > 0 {
			out = append(out, fmt.Sprintf("%s %d", ph.Name, k))
		}
	}
	return out
}

func (d *Drift) count(of func(Phase) []Problem) int {
	n := 0
	for _, ph := range d.Phases {
		n += len(of(ph))
	}
	return n
}
