package preflight

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"sync"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/runtimeinstall"
)

// Check is one preflight check: a stable id (what --ignore names), a
// category, and a function that looks and reports. Run fills in ID and
// Category of the result.
type Check struct {
	ID       string
	Category Category
	Run      func(ctx context.Context, e *Env) Result
}

// Env is what checks look at: the host, the configuration and the two live
// probes. Facts several checks need are computed once, on first use.
type Env struct {
	Host   *host.Host
	Config *config.NodeConfig
	// Release is the configured EKS-D release; nil: looked up on first use
	// (parsing the embedded manifests costs milliseconds only one check needs).
	Release *eksd.Release

	// KVM opens /dev/kvm; nil when the host is not the running system.
	KVM KVMProber
	// Containerd dials the containerd socket; nil when the host is not the
	// running system.
	Containerd ContainerdProber
	// Endpoints resolves and dials the API server endpoint; nil when the
	// host is not the running system.
	Endpoints EndpointProber
	// RunVersions lets checks run `containerd --version` and the like
	// through Host.Exec: only on the running system, never a fixture's binaries.
	RunVersions bool
	// Root is whether we run as root on the running system.
	Root bool
	// InstallCNIPlugins: bootstrap or join installs the release's CNI
	// plugins (their cni step runs).
	InstallCNIPlugins bool
	// KataInstall says what bootstrap installs into /opt/kata before Kata
	// is used ("Kata 3.32.0 will be installed from its release"); empty:
	// nothing, and a missing Kata stays missing.
	KataInstall string
	// Runtime is bootstrap's runtime step, asked what it installs; nil:
	// bootstrap installs no containerd.
	Runtime *runtimeinstall.Step

	facts facts
}

// NewEnv returns an Env for h and cfg; on the running system it wires the
// real probes.
func NewEnv(h *host.Host, cfg *config.NodeConfig) *Env {
	e := &Env{Host: h, Config: cfg}
	if h.IsLive() {
		e.KVM = host.KVMDevice{}
		e.Containerd = host.ContainerdSocket{}
		e.Endpoints = host.NetEndpoints{}
		e.RunVersions = true
		e.Root = os.Geteuid() == 0
	}
	return e
}

// Run runs checks concurrently (they are independent reads) and returns
// their results in the given order. Fails of ignored ids become warnings.
func Run(ctx context.Context, e *Env, checks []Check, ignore map[string]bool) *Report {
	results := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			results[i] = runOne(ctx, e, c)
		})
	}
	wg.Wait()
	for i := range results {
		r := &results[i]
		if r.Status == Fail && (ignore[r.ID] || ignore[IgnoreAll]) {
			r.Status, r.Ignored = Warn, true
			r.Message += " (ignored)"
		}
	}
	return &Report{Checks: results, Summary: summarise(results)}
}

// runOne turns a panicking check into a failed result: one broken check
// must not hide every other answer.
func runOne(ctx context.Context, e *Env, c Check) (r Result) {
	defer func() {
		if p := recover(); p != nil {
			r = Result{Status: Fail, Message: fmt.Sprintf("internal error: %v\n%s", p, debug.Stack()),
				Remedy: "report this as an eksd-kata bug"}
		}
		r.ID, r.Category = c.ID, c.Category
	}()
	return c.Run(ctx, e)
}

// All returns every check in output order.
func All() []Check {
	var out []Check
	out = append(out, virtChecks...)
	out = append(out, hostChecks...)
	out = append(out, containerdChecks...)
	out = append(out, kataChecks...)
	out = append(out, kubeChecks...)
	return out
}

// IDs lists the id of every check, in output order.
func IDs() []string {
	all := All()
	ids := make([]string, len(all))
	for i, c := range all {
		ids[i] = c.ID
	}
	return ids
}

// release returns the configured release, or nil when it is not embedded
// (the verbs resolve a manifest and set Release; check stays offline).
func (e *Env) release() *eksd.Release {
	e.facts.releaseOnce.Do(func() {
		if e.Release != nil {
			return
		}
		c := e.Config.Spec.Release
		if r, err := eksd.Lookup(c.Channel, c.Number); err == nil {
			e.Release = r
		}
	})
	return e.Release
}

// channel is the configured release's channel ("1-36").
func (e *Env) channel() string {
	if r := e.release(); r != nil {
		return r.Channel()
	}
	return e.Config.Spec.Release.Channel
}
