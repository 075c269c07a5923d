package preflight

import (
	"context"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/preflight/preflighttest"
	"github.com/eksd-kata/eksd-kata/pkg/runtimeinstall"
	"github.com/eksd-kata/eksd-kata/pkg/runtimeinstall/runtimetest"
)

// runtimeEnv is an Env over a fixture whose bootstrap would run the
// runtime step s, with a release that lists containerd 2.2.7 and runc 1.3.4.
func runtimeEnv(t *testing.T, root string, m preflighttest.Machine, s *runtimeinstall.Step) *Env {
	rel, _ := runtimetest.Release(t, "2.2.7", "1.3.4", goruntime.GOARCH, "https://mirror.example")
	s.Release = rel
	e := fixtureEnv(t, root, m, config.Default())
	e.Release, e.Runtime = rel, s
	return e
}

func assertResult(t *testing.T, rep *Report, id string, want Status, fixes bool, text string) {
	t.Helper()
	r := status(t, rep, id)
	if r.Status != want || r.BootstrapFixes != fixes || !strings.Contains(r.Message+" → "+r.Remedy, text) {
		t.Errorf("%s: %s (bootstrap fixes: %v): %s → %s\nwant %s, %v, %q", id, r.Status, r.BootstrapFixes, r.Message, r.Remedy, want, fixes, text)
	}
}

// TestContainerdMissingIsInstalled: no containerd is what bootstrap
// fixes, and check says with what.
func TestContainerdMissingIsInstalled(t *testing.T) {
	root := t.TempDir()
	rep := Run(context.Background(), runtimeEnv(t, root, preflighttest.Machine{}, &runtimeinstall.Step{}), containerdChecks, nil)
	assertResult(t, rep, "containerd.installed", Warn, true,
		"containerd is not installed: bootstrap installs containerd 2.2.7 and runc 1.3.4 from their releases")
	// Without the runtime step (--skip runtime) it is a failure.
	rep = Run(context.Background(), fixtureEnv(t, root, preflighttest.Machine{}, nil), containerdChecks, nil)
	assertResult(t, rep, "containerd.installed", Fail, false, "containerd is not installed (not in PATH)")
}

// TestOldContainerdNamesTheFlag: a distribution's containerd too old for
// the release fails, naming the flag that replaces it; with the flag
// given it is what bootstrap fixes.
func TestOldContainerdNamesTheFlag(t *testing.T) {
	root, m := preflighttest.Build(t, "amd-svm.txtar")
	rep := Run(context.Background(), runtimeEnv(t, root, m, &runtimeinstall.Step{Version: "1.6.20"}), containerdChecks, nil)
	assertResult(t, rep, "containerd.version", Fail, false,
		"containerd 1.6.20 is too old for EKS-D 1-36 (Kubernetes 1.36 wants 2.2.0+) → pass --install-containerd 2.2.7 to install containerd 2.2.7 from the release manifest in /usr/local/bin in its place")

	s := &runtimeinstall.Step{Version: "1.6.20", Request: runtimeinstall.Request{Containerd: "2.2"}}
	rep = Run(context.Background(), runtimeEnv(t, root, m, s), containerdChecks, nil)
	assertResult(t, rep, "containerd.version", Warn, true, "→ bootstrap installs containerd 2.2.7 and runc 1.3.4 from their releases in its place")
	assertResult(t, rep, "containerd.installed", Pass, false, "bootstrap installs containerd 2.2.7 and runc 1.3.4 from their releases in its place (--install-containerd, in place of containerd 1.6.20)")

	// check itself, given no runtime step, names the flag all the same.
	rep = runMachine(t, "amd-svm.txtar", nil)
	if r := status(t, rep, "containerd.version"); r.Status != Fail || !strings.Contains(r.Remedy, "pass --install-containerd 2.") {
		t.Errorf("without a runtime step: %+v", r)
	}
}
