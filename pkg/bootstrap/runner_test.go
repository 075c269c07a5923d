package bootstrap

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// fileStep wants one file to hold one content; it plans from the host.
type fileStep struct {
	name, path, content string
	plans               int
	err                 error
	onPlan              func() // called as Plan starts
}

func (s *fileStep) Name() string { return s.name }

func (s *fileStep) Plan(_ context.Context, h *host.Host) (*plan.Plan, error) {
	s.plans++
	if s.onPlan != nil {
		s.onPlan()
	}
	if s.err != nil {
		return nil, s.err
	}
	p := &plan.Plan{}
	c, err := plan.PlanFile(h, s.path, []byte(s.content), 0o644)
	if err != nil {
		return nil, err
	}
	p.Add(c)
	return p, nil
}

func twoSteps() []Step {
	return []Step{
		&fileStep{name: "one", path: "/etc/one.conf", content: "one\n"},
		&fileStep{name: "two", path: "/etc/two.conf", content: "two\n"},
	}
}

func TestRunAppliesThenPlansNothing(t *testing.T) {
	h := hosttest.NewTestHost(t, "")
	var out bytes.Buffer
	r, err := Run(context.Background(), h, twoSteps(), Options{Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if r.Changed() != 2 || !strings.Contains(out.String(), "[2/2] two: 1 change(s) applied") {
		t.Fatalf("changed %d, output:\n%s", r.Changed(), out.String())
	}
	before := hosttest.HashTree(t, h.Root())
	out.Reset()
	r, err = Run(context.Background(), h, twoSteps(), Options{Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if r.Changed() != 0 || !strings.Contains(out.String(), "[1/2] one: already right") {
		t.Fatalf("re-run changed %d:\n%s", r.Changed(), out.String())
	}
	if hosttest.HashTree(t, h.Root()) != before {
		t.Fatal("a converged re-run wrote to the host")
	}
}

func TestDryRunChangesNothingAndShowsDiff(t *testing.T) {
	h := hosttest.NewTestHost(t, "")
	before := hosttest.HashTree(t, h.Root())
	var out bytes.Buffer
	r, err := Run(context.Background(), h, twoSteps(), Options{DryRun: true, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if hosttest.HashTree(t, h.Root()) != before {
		t.Fatal("--dry-run changed the host")
	}
	if r.Changed() != 2 || !strings.Contains(out.String(), "+++ b/etc/one.conf") || !strings.Contains(out.String(), "    +one") {
		t.Fatalf("dry-run output:\n%s", out.String())
	}
}

// TestPlanErrorStopsBeforeAnyChange: every step is planned before the
// first is applied, so a bad input in a late step leaves the host as it was.
func TestPlanErrorStopsBeforeAnyChange(t *testing.T) {
	h := hosttest.NewTestHost(t, "")
	before := hosttest.HashTree(t, h.Root())
	steps := twoSteps()
	steps[1].(*fileStep).err = badinput.Wrap(errors.New("config.toml:3:1: invalid TOML"))
	_, err := Run(context.Background(), h, steps, Options{})
	var in *badinput.Error
	var se *StepError
	if !errors.As(err, &in) || !errors.As(err, &se) || se.Step != "two" {
		t.Fatalf("err = %v, want an InputError from step two", err)
	}
	if hosttest.HashTree(t, h.Root()) != before {
		t.Fatal("step one was applied although step two could not be planned")
	}
}

func TestEachStepPlansAgainBeforeApplying(t *testing.T) {
	h := hosttest.NewTestHost(t, "")
	steps := twoSteps()
	if _, err := Run(context.Background(), h, steps, Options{}); err != nil {
		t.Fatal(err)
	}
	// Step one's first plan is applied as is; step two plans again after one changed the host.
	if a, b := steps[0].(*fileStep).plans, steps[1].(*fileStep).plans; a != 1 || b != 2 {
		t.Fatalf("plans: one=%d two=%d, want 1 and 2", a, b)
	}
}

func TestSelect(t *testing.T) {
	phases := Sequence(twoSteps())
	for _, tc := range []struct {
		only, skip []string
		want       string
		bad        bool
	}{
		{nil, nil, "one,two", false},
		{[]string{"two"}, nil, "two", false},
		{nil, []string{"one"}, "two", false},
		{[]string{"three"}, nil, "", true},
		{nil, []string{"one", "two"}, "", true},
	} {
		got, err := selectPhases(phases, tc.only, tc.skip)
		var in *badinput.Error
		if tc.bad {
			if !errors.As(err, &in) {
				t.Errorf("only=%v skip=%v: err %v, want input error", tc.only, tc.skip, err)
			}
			continue
		}
		var names []string
		for i, ok := range got {
			if ok {
				names = append(names, phases[i].Name)
			}
		}
		if err != nil || strings.Join(names, ",") != tc.want {
			t.Errorf("only=%v skip=%v: %v %v, want %s", tc.only, tc.skip, names, err, tc.want)
		}
	}
}

func TestSecondRunIsRefusedByTheLock(t *testing.T) {
	h := hosttest.NewTestHost(t, "")
	release, err := h.FS.Lock(LockFile)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	_, err = Run(context.Background(), h, twoSteps(), Options{})
	if !errors.Is(err, host.ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
	if ok, _ := h.FS.Exists("/etc/one.conf"); ok {
		t.Fatal("a refused run changed the host")
	}
}

// checkStep plans nothing and records its checks.
type checkStep struct {
	fileStep
	checks int
	err    error
}

func (s *checkStep) Check(context.Context, *host.Host) error {
	s.checks++
	return s.err
}

func TestCheckerRunsAfterApplyNotInDryRun(t *testing.T) {
	h := hosttest.NewTestHost(t, "")
	c := &checkStep{fileStep: fileStep{name: "verify", path: "/etc/v.conf", content: "v\n"}}
	if _, err := Run(context.Background(), h, []Step{c}, Options{DryRun: true}); err != nil || c.checks != 0 {
		t.Fatalf("dry run: err %v, checks %d", err, c.checks)
	}
	if _, err := Run(context.Background(), h, []Step{c}, Options{}); err != nil || c.checks != 1 {
		t.Fatalf("run: err %v, checks %d", err, c.checks)
	}
	// Converged: nothing planned, still checked; a failed check fails the step.
	c.err = errors.New("kata pod did not start")
	r, err := Run(context.Background(), h, []Step{c}, Options{})
	var se *StepError
	if !errors.As(err, &se) || se.Step != "verify" || c.checks != 2 {
		t.Fatalf("err %v, checks %d", err, c.checks)
	}
	if r.Changed() != 0 {
		t.Fatalf("a check counted as a change")
	}
}

// partlyBlocked plans its file, then finds it cannot go on.
type partlyBlocked struct{ fileStep }

func (s *partlyBlocked) Plan(ctx context.Context, h *host.Host) (*plan.Plan, error) {
	p, err := s.fileStep.Plan(ctx, h)
	if err != nil {
		return nil, err
	}
	return p, plan.Block("cannot restart", "restart it yourself")
}

// blockedSteps: step one is blocked by two problems; step two by a
// missing flag (bad input for a real run); step three plans its file and
// is blocked after it; step four plans as usual.
func blockedSteps() []Step {
	return []Step{
		&fileStep{name: "one", err: &plan.Blocked{Problems: []plan.Problem{{What: "no kvm", Remedy: "load kvm"}, {What: "no hostname", Remedy: "set one"}}}},
		&fileStep{name: "two", err: badinput.Wrap(plan.Block("version unknown", "pass --version"))},
		&partlyBlocked{fileStep{name: "three", path: "/etc/three.conf", content: "three\n"}},
		&fileStep{name: "four", path: "/etc/four.conf", content: "four\n"},
	}
}

func TestDryRunPlansPastBlockers(t *testing.T) {
	h := hosttest.NewTestHost(t, "")
	before := hosttest.HashTree(t, h.Root())
	var out bytes.Buffer
	r, err := Run(context.Background(), h, blockedSteps(), Options{DryRun: true, Out: &out})
	var be *BlockedError
	if !errors.As(err, &be) || be.Step != "one" || be.Blockers != 4 {
		t.Fatalf("err = %v, want 4 blockers from step one on", err)
	}
	if r == nil || len(r.Steps) != 4 {
		t.Fatalf("report %+v, want all four steps", r)
	}
	if got := r.Steps[0].Blockers; len(got) != 2 || got[1].Remedy != "set one" {
		t.Errorf("step one blockers %v", got)
	}
	if got := r.Steps[1].Blockers; len(got) != 1 || got[0].What != "version unknown" {
		t.Errorf("step two blockers %v", got)
	}
	if got := r.Steps[2]; len(got.Blockers) != 1 || len(got.Changes) != 1 {
		t.Errorf("step three: blockers %v, changes %v; want both", got.Blockers, got.Changes)
	}
	if r.Steps[3].Blockers != nil || r.Changed() != 2 {
		t.Errorf("step four: blockers %v; %d change(s) in all", r.Steps[3].Blockers, r.Changed())
	}
	for _, want := range []string{
		"[1/4] one: blocked by 2 problem(s)",
		"[3/4] three: 1 change(s) planned, then blocked by 1 problem(s)", "+++ b/etc/three.conf",
		"[4/4] four: 1 change(s) planned", "+++ b/etc/four.conf",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if hosttest.HashTree(t, h.Root()) != before {
		t.Fatal("the dry run changed the host")
	}
}

// TestBlockerStopsARealRun: a real run stops at the first blocker with
// its error, as bad input when it is, and changes nothing.
func TestBlockerStopsARealRun(t *testing.T) {
	h := hosttest.NewTestHost(t, "")
	before := hosttest.HashTree(t, h.Root())
	steps := blockedSteps()
	_, err := Run(context.Background(), h, steps, Options{})
	var se *StepError
	if !errors.As(err, &se) || se.Step != "one" || !strings.Contains(err.Error(), "no kvm: load kvm") {
		t.Fatalf("err = %v, want step one's blocker", err)
	}
	_, err = Run(context.Background(), h, steps[1:], Options{})
	var in *badinput.Error
	if !errors.As(err, &in) {
		t.Fatalf("err = %v, want the input error of step two", err)
	}
	_, err = Run(context.Background(), h, steps[2:], Options{})
	if !errors.As(err, &se) || se.Step != "three" {
		t.Fatalf("err = %v, want step three's blocker although it planned a change", err)
	}
	if steps[3].(*fileStep).plans != 0 || hosttest.HashTree(t, h.Root()) != before {
		t.Fatal("a blocked run planned on or changed the host")
	}
}

// TestDryRunStopsAtBadInput: bad input that is no blocker ends even a dry run.
func TestDryRunStopsAtBadInput(t *testing.T) {
	h := hosttest.NewTestHost(t, "")
	steps := blockedSteps()
	steps[0].(*fileStep).err = badinput.Wrap(errors.New("config.toml:3:1: invalid TOML"))
	r, err := Run(context.Background(), h, steps, Options{DryRun: true})
	var in *badinput.Error
	if !errors.As(err, &in) || r != nil || steps[3].(*fileStep).plans != 0 {
		t.Fatalf("err = %v, report %v: want the input error, no report, nothing planned after it", err, r)
	}
}
