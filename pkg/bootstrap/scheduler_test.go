package bootstrap

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// guard bounds a wait that must end: a scheduler that got it wrong fails
// the test instead of hanging it.
const guard = 10 * time.Second

// funcStep plans changes that run do, one each, reaching its milestones
// between them: do[0], then reach[0], then do[1], ...
type funcStep struct {
	name  string
	do    []func(ctx context.Context) error
	reach []*plan.Milestone
}

func (s *funcStep) Name() string { return s.name }

func (s *funcStep) Plan(context.Context, *host.Host) (*plan.Plan, error) {
	p := &plan.Plan{}
	for i, do := range s.do {
		p.Add(&plan.Func{Text: "do " + s.name, Do: func(ctx context.Context, _ *host.Host) error { return do(ctx) }})
		if i < len(s.reach) {
			p.Reach(s.reach[i])
		}
	}
	return p, nil
}

// events records what happened, in order, from any goroutine.
type events struct {
	mu  sync.Mutex
	all []string
}

func (e *events) add(what string) func(context.Context) error {
	return func(context.Context) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.all = append(e.all, what)
		return nil
	}
}

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.all)
}

// await waits for c, or fails after the guard.
func await(c <-chan struct{}, what string) func(context.Context) error {
	return func(ctx context.Context) error {
		select {
		case <-c:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(guard):
			return errors.New(what + " never happened")
		}
	}
}

func closer(c chan struct{}) func(context.Context) error {
	return func(context.Context) error { close(c); return nil }
}

func seq(fs ...func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		for _, f := range fs {
			if err := f(ctx); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestMilestonesOverlapPhases: the pulls (background) go on beside the
// install; kubeadm starts once the install reached "kubelet installed"
// and the pulls their milestone, while both still apply (each waits for
// kubeadm to have run, so a runner that waited for them to end would
// never finish); verify, after the pulls, starts once they are done.
func TestMilestonesOverlapPhases(t *testing.T) {
	stored, kubelet := plan.NewMilestone("images stored"), plan.NewMilestone("kubelet installed")
	pullsStarted, installStarted, kubeadmDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var ev events
	phases := []Phase{
		{Name: "pulls", Background: true, Provides: []*plan.Milestone{stored}, Step: &funcStep{name: "pulls", reach: []*plan.Milestone{stored}, do: []func(context.Context) error{
			seq(closer(pullsStarted), await(installStarted, "the install beside the pulls"), ev.add("control-plane pulled")),
			seq(await(kubeadmDone, "kubeadm beside the late pulls"), ev.add("late pulls")),
		}}},
		{Name: "install", Provides: []*plan.Milestone{kubelet}, Step: &funcStep{name: "install", reach: []*plan.Milestone{kubelet}, do: []func(context.Context) error{
			seq(closer(installStarted), await(pullsStarted, "the pulls beside the install"), ev.add("kubelet")),
			seq(await(kubeadmDone, "kubeadm beside kubectl"), ev.add("kubectl")),
		}}},
		{Name: "kubeadm", Needs: []Need{stored, kubelet}, Step: &funcStep{name: "kubeadm", do: []func(context.Context) error{seq(ev.add("kubeadm"), closer(kubeadmDone))}}},
		{Name: "verify", Needs: []Need{After("kubeadm"), After("pulls")}, Step: &funcStep{name: "verify", do: []func(context.Context) error{ev.add("verify")}}},
	}
	var out bytes.Buffer
	r, err := RunPhases(context.Background(), hosttest.NewTestHost(t, ""), phases, Options{Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	got := ev.list()
	at := func(what string) int { return slices.Index(got, what) }
	if at("kubeadm") < at("control-plane pulled") || at("kubeadm") < at("kubelet") || at("verify") < at("late pulls") || at("verify") < at("kubeadm") {
		t.Errorf("events %q", got)
	}
	for _, want := range []string{
		"[1/4] pulls: 2 change(s) going on in the background\n",
		"[1/4] pulls: done in the background",
		"[2/4] install: 2 change(s) applied",
		"[4/4] verify: 1 change(s) applied",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	var names []string
	for _, s := range r.Steps {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "pulls,install,kubeadm,verify" || r.Changed() != 6 {
		t.Errorf("report: %q, %d change(s): want every phase in table order", names, r.Changed())
	}
}

// TestSchedule: a phase that is not Background holds back the phases
// after it unless they need one of its milestones; a Background one holds
// back only those that need it; a phase or milestone not selected is not
// waited for.
func TestSchedule(t *testing.T) {
	kubelet := plan.NewMilestone("kubelet installed")
	step := &fileStep{}
	phases := []Phase{
		{Name: "host", Step: step},
		{Name: "images", Step: step, Background: true},
		{Name: "binaries", Step: step, Provides: []*plan.Milestone{kubelet}},
		{Name: "kubeadm", Step: step, Needs: []Need{kubelet}},
		{Name: "addons", Step: step, Needs: []Need{After("kubeadm")}},
		{Name: "verify", Step: step, Needs: []Need{After("addons"), After("images")}},
	}
	if err := Validate(phases); err != nil {
		t.Fatal(err)
	}
	all := []bool{true, true, true, true, true, true}
	s := newSchedule(phases, all)
	want := map[string]string{
		"host":     "",
		"images":   "host",
		"binaries": "host",
		"kubeadm":  "kubelet installed,host",
		"addons":   "kubeadm,host,binaries",
		"verify":   "addons,images,host,binaries,kubeadm",
	}
	for i, p := range phases {
		var got []string
		for _, w := range s.waits[i] {
			got = append(got, w.String())
		}
		if strings.Join(got, ",") != want[p.Name] {
			t.Errorf("%s waits for %q, want %q", p.Name, got, want[p.Name])
		}
	}
	lines, overlap := s.Order()
	order := strings.Join(lines, "\n")
	wantOrder := strings.Join([]string{
		"host",
		"images (background) after: host ‖ binaries, kubeadm, addons",
		"binaries after: host ‖ images, kubeadm",
		"kubeadm after: kubelet installed ‖ images, binaries",
		"addons after: kubeadm, binaries ‖ images",
		"verify after: addons, images",
	}, "\n")
	if order != wantOrder || !overlap {
		t.Errorf("order (overlap %v):\n%s\nwant:\n%s", overlap, order, wantOrder)
	}
	if _, overlap := newSchedule(Sequence(twoSteps()), []bool{true, true}).Order(); overlap {
		t.Error("a sequence overlaps")
	}
	// Without binaries, kubeadm waits for nothing but the host.
	s = newSchedule(phases, []bool{true, true, false, true, false, false})
	if got := s.waits[3]; len(got) != 1 || got[0] != After("host") {
		t.Errorf("kubeadm without binaries waits for %v", got)
	}
}

// TestValidate: the checks a table passes when it is built.
func TestValidate(t *testing.T) {
	m, other := plan.NewMilestone("m"), plan.NewMilestone("other")
	step := &fileStep{}
	for _, tc := range []struct {
		phases []Phase
		want   string
	}{
		{[]Phase{{Name: "a", Step: step}, {Name: "a", Step: step}}, "phase a: the name is taken"},
		{[]Phase{{Name: "a", Step: step, Needs: []Need{After("b")}}, {Name: "b", Step: step, Needs: []Need{After("a")}}}, "phase a needs b, which is not an earlier phase"},
		{[]Phase{{Name: "a", Step: step, Needs: []Need{After("a")}}}, "phase a needs a, which is not an earlier phase"},
		{[]Phase{{Name: "a", Step: step, Provides: []*plan.Milestone{m}, Needs: []Need{m}}}, "phase a needs m, which no earlier phase provides"},
		{[]Phase{{Name: "a", Step: step, Needs: []Need{other}}}, "phase a needs other, which no earlier phase provides"},
		{[]Phase{{Name: "a", Step: step, Provides: []*plan.Milestone{m}}, {Name: "b", Step: step, Provides: []*plan.Milestone{m}}}, "phase b provides m, which phase a provides already"},
		{[]Phase{{Name: "a", Step: step}, {Name: "b", Step: step, Needs: []Need{stringer("a")}}}, "neither a phase nor a milestone"},
		{[]Phase{{Name: "a"}}, "phase a: no step"},
	} {
		if err := Validate(tc.phases); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.phases, err, tc.want)
		}
	}
	if err := Validate([]Phase{{Name: "a", Step: step, Provides: []*plan.Milestone{m}}, {Name: "b", Step: step, Needs: []Need{m, After("a")}}}); err != nil {
		t.Error(err)
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

// TestMilestoneOfAPhaseThatDoesNotReachIt: a milestone counts as reached
// when its phase is skipped, or ends without reaching it (nothing to
// apply), so the phase that needs it still runs.
func TestMilestoneOfAPhaseThatDoesNotReachIt(t *testing.T) {
	for _, skip := range []bool{false, true} {
		m := plan.NewMilestone("m")
		var ev events
		phases := []Phase{
			{Name: "provider", Provides: []*plan.Milestone{m}, Background: true, Step: &funcStep{name: "provider", do: []func(context.Context) error{ev.add("provider")}}},
			{Name: "user", Needs: []Need{m}, Step: &funcStep{name: "user", do: []func(context.Context) error{ev.add("user")}}},
		}
		o := Options{}
		if skip {
			o.Skip = []string{"provider"}
		}
		if _, err := RunPhases(context.Background(), hosttest.NewTestHost(t, ""), phases, o); err != nil {
			t.Fatal(err)
		}
		want := "provider,user"
		if skip {
			want = "user"
		}
		if got := strings.Join(ev.list(), ","); got != want {
			t.Errorf("skip %v: ran %q, want %q", skip, got, want)
		}
	}
}

// TestFailureCancelsTheRest: when a phase fails, the background phase
// still running is cancelled and waited for before the run returns, the
// phase that needs it never starts, and the failure is the failed
// phase's.
func TestFailureCancelsTheRest(t *testing.T) {
	m := plan.NewMilestone("m")
	started := make(chan struct{})
	stopped := false
	applied := false
	phases := []Phase{
		{Name: "pulls", Background: true, Provides: []*plan.Milestone{m}, Step: &funcStep{name: "pulls", do: []func(context.Context) error{func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			stopped = true
			return ctx.Err()
		}}}},
		{Name: "install", Step: &funcStep{name: "install", do: []func(context.Context) error{seq(await(started, "the pulls"), func(context.Context) error { return errors.New("disk full") })}}},
		{Name: "kubeadm", Needs: []Need{m}, Step: &funcStep{name: "kubeadm", do: []func(context.Context) error{func(context.Context) error { applied = true; return nil }}}},
	}
	_, err := RunPhases(context.Background(), hosttest.NewTestHost(t, ""), phases, Options{})
	var se *StepError
	if !errors.As(err, &se) || se.Step != "install" || strings.Contains(err.Error(), "pulls") {
		t.Fatalf("err %v, want the install's alone", err)
	}
	if !stopped {
		t.Error("the run returned while the background phase was still running")
	}
	if applied {
		t.Error("kubeadm ran although the run had failed")
	}
}

// TestBackgroundFailuresAreReported: phases that fail beside each other
// are all reported, each as its own, and what needs them does not run.
func TestBackgroundFailuresAreReported(t *testing.T) {
	aStarted, bStarted := make(chan struct{}), make(chan struct{})
	// Each fails only once both have started: a barrier that, unlike
	// await, does not end with the run's context, which the first failure
	// cancels.
	barrier := func(c <-chan struct{}) func(context.Context) error {
		return func(context.Context) error {
			select {
			case <-c:
				return nil
			case <-time.After(guard):
				return errors.New("the other phase never started")
			}
		}
	}
	fail := func(mine, other chan struct{}, err error) func(context.Context) error {
		return seq(closer(mine), barrier(other), func(context.Context) error { return err })
	}
	applied := false
	phases := []Phase{
		{Name: "pulls", Background: true, Step: &funcStep{name: "pulls", do: []func(context.Context) error{fail(aStarted, bStarted, errors.New("registry down"))}}},
		{Name: "install", Step: &funcStep{name: "install", do: []func(context.Context) error{fail(bStarted, aStarted, errors.New("disk full"))}}},
		{Name: "kubeadm", Needs: []Need{After("pulls")}, Step: &funcStep{name: "kubeadm", do: []func(context.Context) error{func(context.Context) error { applied = true; return nil }}}},
	}
	_, err := RunPhases(context.Background(), hosttest.NewTestHost(t, ""), phases, Options{})
	if err == nil || !strings.Contains(err.Error(), "step pulls: do pulls: registry down") || !strings.Contains(err.Error(), "step install: do install: disk full") {
		t.Fatalf("err %v, want both failures", err)
	}
	if applied {
		t.Error("kubeadm ran although the pulls failed")
	}
}

// TestDryRunPrintsTheOrder: before the plans, a dry run says what each
// phase waits for and what it may run beside.
func TestDryRunPrintsTheOrder(t *testing.T) {
	m := plan.NewMilestone("stored")
	phases := []Phase{
		{Name: "images", Background: true, Provides: []*plan.Milestone{m}, Step: &fileStep{name: "images", path: "/etc/i", content: "i"}},
		{Name: "certs", Step: &fileStep{name: "certs", path: "/etc/c", content: "c"}},
		{Name: "kubeadm", Needs: []Need{m, After("certs")}, Step: &fileStep{name: "kubeadm", path: "/etc/k", content: "k"}},
	}
	var out bytes.Buffer
	if _, err := RunPhases(context.Background(), hosttest.NewTestHost(t, ""), phases, Options{DryRun: true, Out: &out}); err != nil {
		t.Fatal(err)
	}
	want := "  images (background) ‖ certs, kubeadm\n  certs ‖ images\n  kubeadm after: stored, certs ‖ images\n[1/3] images: 1 change(s) planned"
	if !strings.Contains(out.String(), want) {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
