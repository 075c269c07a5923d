// Package bootstrap runs the steps that make a host an EKS-D node, in the
// order a table of phases gives (Phase): each step plans its changes from
// what is really on the host, then applies them. Nothing is remembered
// between runs, so a re-run after a crash simply plans what is still
// missing.
package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// LockFile keeps two runs from changing one host at once.
const LockFile = "/run/eksd-kata.lock"

// Step is one named stage of a bootstrap.
type Step interface {
	Name() string
	// Plan returns what would change on h; it must not change anything.
	// A plan that cannot be carried out on h as it is fails with a
	// *plan.Blocked, and may come with the part of it the step could make.
	Plan(ctx context.Context, h *host.Host) (*plan.Plan, error)
}

// Checker is a step that proves, after its changes, that the result works
// (a smoke test). The check changes nothing, so it is not in the plan: a
// converged host plans nothing and is still checked. Never run in a dry run.
type Checker interface {
	Check(ctx context.Context, h *host.Host) error
}

// Options select and shape a run.
type Options struct {
	Only, Skip []string
	DryRun     bool
	Out        io.Writer    // human output
	Log        *slog.Logger // one event per step, for automation
}

// StepResult is what one step did.
type StepResult struct {
	Name    string
	Changes []string // summaries of what was (or, dry-run, would be) changed
	Notes   []string
	// Blockers stop a real run at this step; only a dry run plans past them.
	Blockers []plan.Problem
	// Unsolved are left to the operator; the run goes on (plan.Plan.Unsolved).
	Unsolved []plan.Problem
	Duration time.Duration
}

// Report is the outcome of a run.
type Report struct {
	Steps    []StepResult
	Duration time.Duration
}

// Changed counts the changes of every step.
func (r *Report) Changed() int {
	n := 0
	for _, s := range r.Steps {
		n += len(s.Changes)
	}
	return n
}

// BlockedError ends a dry run that planned past blockers: the plan cannot
// be carried out as it is. The report lists them, step by step.
type BlockedError struct {
	Step     string // the first blocked step, where a real run would stop
	Blockers int
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("%d blocker(s): a real run would stop at step %s", e.Blockers, e.Step)
}

// blocked is the BlockedError of a dry run's report, or nil.
func (r *Report) blocked() error {
	var e *BlockedError
	for _, s := range r.Steps {
		if len(s.Blockers) == 0 {
			continue
		}
		if e == nil {
			e = &BlockedError{Step: s.Name}
		}
		e.Blockers += len(s.Blockers)
	}
	if e == nil {
		return nil
	}
	return e
}

// StepError says which step failed; the CLI turns it into the command to resume with.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("step %s: %v", e.Step, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

// selectPhases marks the phases --only and --skip leave; an unknown name
// is an input error.
func selectPhases(phases []Phase, only, skip []string) ([]bool, error) {
	names := make([]string, len(phases))
	for i, p := range phases {
		names[i] = p.Name
	}
	for _, n := range slices.Concat(only, skip) {
		if !slices.Contains(names, n) {
			return nil, badinput.Wrap(fmt.Errorf("unknown step %q: steps are %s", n, strings.Join(names, ", ")))
		}
	}
	selected := make([]bool, len(phases))
	some := false
	for i, n := range names {
		selected[i] = (len(only) == 0 || slices.Contains(only, n)) && !slices.Contains(skip, n)
		some = some || selected[i]
	}
	if !some {
		return nil, badinput.Wrap(errors.New("--only and --skip leave no step to run"))
	}
	return selected, nil
}

// Run runs steps one after another: RunPhases with a Sequence.
func Run(ctx context.Context, h *host.Host, steps []Step, o Options) (*Report, error) {
	return RunPhases(ctx, h, Sequence(steps), o)
}

// RunPhases plans every selected phase first, so that bad input anywhere
// stops the run before anything changed. Then, unless DryRun, it takes the
// lock and starts each phase once what it waits for is done (see Phase),
// plans it again (earlier phases changed the host) and applies it; phases
// that wait for nothing still running go on at once. The first failure
// cancels the rest; it returns once every phase it started has ended. A
// dry run prints the order (when phases overlap), plans past blocked
// phases, so that it tells every problem at once, and then fails with a
// *BlockedError beside its report.
func RunPhases(ctx context.Context, h *host.Host, phases []Phase, o Options) (*Report, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	if err := Validate(phases); err != nil {
		return nil, err
	}
	selected, err := selectPhases(phases, o.Only, o.Skip)
	if err != nil {
		return nil, err
	}
	sched := newSchedule(phases, selected)
	var order []int // the selected phases, by table index
	for i := range phases {
		if selected[i] {
			order = append(order, i)
		}
	}
	// Phases one after another need no order printed: the plans show it.
	if lines, overlap := sched.Order(); o.DryRun && overlap {
		fmt.Fprintln(o.Out, "order: each phase starts once what it is after is done; ‖ names the phases it may run beside")
		for _, line := range lines {
			fmt.Fprintf(o.Out, "  %s\n", line)
		}
	}
	report := &Report{}
	plans := make([]*plan.Plan, len(phases))
	for k, i := range order {
		ph := phases[i]
		t0 := time.Now()
		p, err := ph.Step.Plan(ctx, h)
		var blockers []plan.Problem
		if err != nil {
			var ok bool
			if blockers, ok = plan.Problems(err); !ok || !o.DryRun {
				return nil, &StepError{Step: ph.Name, Err: err}
			}
			if p == nil {
				p = &plan.Plan{}
			}
		}
		plans[i] = p
		o.Log.Debug("step planned", "step", ph.Name, "changes", len(p.Changes), "duration", time.Since(t0))
		if o.DryRun {
			res := result(ph.Name, p, time.Since(t0))
			res.Blockers = blockers
			report.Steps = append(report.Steps, res)
			printPlan(o.Out, k+1, len(order), res, p)
			o.Log.Info("step planned", "step", ph.Name, "changes", len(p.Changes), "blockers", len(blockers), "duration", res.Duration)
		}
	}
	if o.DryRun {
		report.Duration = time.Since(start)
		return report, report.blocked()
	}

	release, err := h.FS.Lock(LockFile)
	if err != nil {
		return nil, err
	}
	defer release()
	r := newRun(ctx, h, sched, plans, order, o, start)
	defer r.cancel()
	r.wait()
	for _, res := range r.done {
		if res != nil {
			report.Steps = append(report.Steps, *res)
		}
	}
	report.Duration = time.Since(start)
	return report, r.err()
}

// logChange logs each applied change with its time, at debug level (-v).
func logChange(log *slog.Logger, step string) func(plan.Change, time.Duration) {
	return func(c plan.Change, d time.Duration) {
		log.Debug("change applied", "step", step, "change", c.Summary(), "duration", d)
	}
}

func result(name string, p *plan.Plan, d time.Duration) StepResult {
	return StepResult{Name: name, Changes: p.Summaries(), Notes: p.Notes, Unsolved: p.Unsolved, Duration: d}
}

func printPlan(w io.Writer, i, n int, r StepResult, p *plan.Plan) {
	what := "nothing to change"
	if !p.Empty() {
		what = fmt.Sprintf("%d change(s) planned", len(p.Changes))
	}
	if len(r.Blockers) > 0 {
		// What the step could plan is still worth seeing; the problems
		// come together at the end of the run.
		what = fmt.Sprintf("blocked by %d problem(s), listed at the end", len(r.Blockers))
		if !p.Empty() {
			what = fmt.Sprintf("%d change(s) planned, then blocked by %d problem(s), listed at the end", len(p.Changes), len(r.Blockers))
		}
	}
	fmt.Fprintf(w, "[%d/%d] %s: %s\n", i, n, r.Name, what)
	for _, c := range p.Changes {
		fmt.Fprintf(w, "  + %s\n", c.Summary())
		if d, ok := c.(plan.Differ); ok {
			for _, line := range strings.SplitAfter(d.Diff(), "\n") {
				if line != "" {
					fmt.Fprintf(w, "    %s", line)
				}
			}
			fmt.Fprintln(w)
		}
	}
	printNotes(w, r)
}

func printStarted(w io.Writer, i, n int, r StepResult) {
	fmt.Fprintf(w, "[%d/%d] %s: %d change(s) going on in the background\n", i, n, r.Name, len(r.Changes))
	for _, c := range r.Changes {
		fmt.Fprintf(w, "  + %s\n", c)
	}
	printNotes(w, r)
}

func printDone(w io.Writer, i, n int, r StepResult) {
	d := r.Duration.Round(time.Millisecond)
	if len(r.Changes) == 0 {
		fmt.Fprintf(w, "[%d/%d] %s: already right (%s)\n", i, n, r.Name, d)
	} else {
		fmt.Fprintf(w, "[%d/%d] %s: %d change(s) applied (%s)\n", i, n, r.Name, len(r.Changes), d)
	}
	for _, c := range r.Changes {
		fmt.Fprintf(w, "  + %s\n", c)
	}
	printNotes(w, r)
}

func printNotes(w io.Writer, r StepResult) {
	for _, note := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", note)
	}
	for _, u := range r.Unsolved {
		fmt.Fprintf(w, "  left to you: %s\n", u)
	}
}
