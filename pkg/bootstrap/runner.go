// Package bootstrap runs the steps that make a host an EKS-D node: each
// step plans its changes from what is really on the host, then applies
// them. Nothing is remembered between runs, so a re-run after a crash
// simply plans what is still missing.
package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

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

// Preparer is a step with slow read-only work that may start before the
// run plans it, beside the steps planned first: hashing the operator's
// copies of the binaries. Plan must not depend on it having run.
type Preparer interface {
	Prepare(h *host.Host)
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

// Select returns the steps --only and --skip leave, in order; an unknown
// name is an input error.
func Select(steps []Step, only, skip []string) ([]Step, error) {
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.Name()
	}
	for _, n := range slices.Concat(only, skip) {
		if !slices.Contains(names, n) {
			return nil, plan.BadInput(fmt.Errorf("unknown step %q: steps are %s", n, strings.Join(names, ", ")))
		}
	}
	var out []Step
	for _, s := range steps {
		if len(only) > 0 && !slices.Contains(only, s.Name()) || slices.Contains(skip, s.Name()) {
			continue
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, plan.BadInput(errors.New("--only and --skip leave no step to run"))
	}
	return out, nil
}

// Run plans every selected step first, so that bad input anywhere stops the
// run before anything changed; then, unless DryRun, it takes the lock and
// for each step plans again (earlier steps changed the host) and applies.
// A dry run plans past blocked steps, so that it tells every problem at
// once, and then fails with a *BlockedError beside its report.
func Run(ctx context.Context, h *host.Host, steps []Step, o Options) (*Report, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	steps, err := Select(steps, o.Only, o.Skip)
	if err != nil {
		return nil, err
	}
	// Nothing started here outlives the run.
	var prep sync.WaitGroup
	defer prep.Wait()
	for _, s := range steps {
		if p, ok := s.(Preparer); ok {
			prep.Go(func() { p.Prepare(h) })
		}
	}
	report := &Report{}
	plans := make([]*plan.Plan, len(steps))
	for i, s := range steps {
		t0 := time.Now()
		p, err := s.Plan(ctx, h)
		var blockers []plan.Problem
		if err != nil {
			var ok bool
			if blockers, ok = plan.Problems(err); !ok || !o.DryRun {
				return nil, &StepError{Step: s.Name(), Err: err}
			}
			if p == nil {
				p = &plan.Plan{}
			}
		}
		plans[i] = p
		o.Log.Debug("step planned", "step", s.Name(), "changes", len(p.Changes), "duration", time.Since(t0))
		if o.DryRun {
			res := result(s.Name(), p, time.Since(t0))
			res.Blockers = blockers
			report.Steps = append(report.Steps, res)
			printPlan(o.Out, i+1, len(steps), res, p)
			o.Log.Info("step planned", "step", s.Name(), "changes", len(p.Changes), "blockers", len(blockers), "duration", res.Duration)
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
	ctx, pending := plan.WithPending(ctx)
	// A failed run stops the background work it started before it lets go
	// of the lock.
	defer pending.Cancel()
	// The steps applied in the background: their jobs, and where they stand
	// in steps (i) and in report.Steps (r).
	type placed struct{ i, r int }
	bg := map[*plan.Job]placed{}
	finish := func(jobs []*plan.Job) error {
		for _, j := range jobs {
			if at, ok := bg[j]; ok {
				report.Steps[at.r].Duration = j.Took
				fmt.Fprintf(o.Out, "[%d/%d] %s: done in the background (%s)\n", at.i+1, len(steps), j.Step, j.Took.Round(time.Millisecond))
				o.Log.Info("step done", "step", j.Step, "changes", len(report.Steps[at.r].Changes), "duration", j.Took, "background", true, "elapsed", time.Since(start))
			} else if j.Err == nil {
				fmt.Fprintf(o.Out, "  %s: %s done (%s)\n", j.Step, j.What, j.Took.Round(time.Millisecond))
			}
			if j.Err != nil {
				return &StepError{Step: j.Step, Err: j.Err}
			}
		}
		return nil
	}
	for i, s := range steps {
		if err := finish(pending.WaitFor(s.Name())); err != nil {
			return report, err
		}
		host.FaultPoint("step-start " + s.Name())
		pending.SetStep(s.Name())
		t0 := time.Now()
		p := plans[i]
		if i > 0 {
			// Earlier steps changed the host: plan from what is there now.
			if p, err = s.Plan(ctx, h); err != nil {
				return report, &StepError{Step: s.Name(), Err: err}
			}
			o.Log.Debug("step planned again", "step", s.Name(), "changes", len(p.Changes), "duration", time.Since(t0))
		}
		if _, checks := s.(Checker); len(p.Before) > 0 && !checks {
			// It goes first: the steps beside it yield their large writes
			// until it shares (plan.Share).
			j := pending.GoFirst(ctx, "its changes", p.Before, func(ctx context.Context) error { return p.ApplyTimed(ctx, h, logChange(o.Log, s.Name())) })
			bg[j] = placed{i: i, r: len(report.Steps)}
			res := result(s.Name(), p, time.Since(t0))
			report.Steps = append(report.Steps, res)
			printStarted(o.Out, i+1, len(steps), res, p.Before)
			continue
		}
		if err := p.ApplyTimed(ctx, h, logChange(o.Log, s.Name())); err != nil {
			return report, &StepError{Step: s.Name(), Err: err}
		}
		if c, ok := s.(Checker); ok {
			if err := c.Check(ctx, h); err != nil {
				return report, &StepError{Step: s.Name(), Err: err}
			}
		}
		host.FaultPoint("step-done " + s.Name())
		res := result(s.Name(), p, time.Since(t0))
		report.Steps = append(report.Steps, res)
		printDone(o.Out, i+1, len(steps), res)
		// elapsed counts from the start of the run, planning included: the
		// wall time of the run up to this step.
		o.Log.Info("step done", "step", s.Name(), "changes", len(res.Changes), "duration", res.Duration, "elapsed", time.Since(start))
	}
	if err := finish(pending.WaitAll()); err != nil {
		return report, err
	}
	report.Duration = time.Since(start)
	return report, nil
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

func printStarted(w io.Writer, i, n int, r StepResult, before []string) {
	fmt.Fprintf(w, "[%d/%d] %s: %d change(s) going on in the background (%s waits for them)\n", i, n, r.Name, len(r.Changes), strings.Join(before, ", "))
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
