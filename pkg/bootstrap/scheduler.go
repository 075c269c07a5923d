package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// run applies the selected phases of a schedule, each in its own
// goroutine once what it waits for is done.
type run struct {
	ctx    context.Context
	cancel context.CancelFunc
	h      *host.Host
	sched  *schedule
	plans  []*plan.Plan
	order  []int // selected phases, by table index
	o      Options
	start  time.Time
	wg     sync.WaitGroup
	// finished is closed when the phase of that table index is done.
	finished []chan struct{}
	reached  map[*plan.Milestone]<-chan struct{}

	mu   sync.Mutex    // guards what follows, and o.Out
	done []*StepResult // by table index
	errs []error
}

func newRun(ctx context.Context, h *host.Host, sched *schedule, plans []*plan.Plan, order []int, o Options, start time.Time) *run {
	r := &run{h: h, sched: sched, plans: plans, order: order, o: o, start: start,
		finished: make([]chan struct{}, len(sched.phases)), done: make([]*StepResult, len(sched.phases)), reached: map[*plan.Milestone]<-chan struct{}{}}
	r.ctx, r.cancel = context.WithCancel(ctx)
	for i, p := range sched.phases {
		r.finished[i] = make(chan struct{})
		for _, m := range p.Provides {
			r.reached[m] = m.Watch()
		}
		if !sched.selected[i] {
			r.end(i)
		}
	}
	for k, i := range order {
		r.wg.Go(func() { r.phase(k, i) })
	}
	return r
}

// end marks phase i done, and so its milestones reached.
func (r *run) end(i int) {
	for _, m := range r.sched.phases[i].Provides {
		m.Reach()
	}
	close(r.finished[i])
}

// wait waits for every phase started.
func (r *run) wait() { r.wg.Wait() }

// err is the first failure, with the others that were not caused by it.
func (r *run) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) == 1 {
		return r.errs[0]
	}
	return errors.Join(r.errs...)
}

// fail records the failure of a phase and cancels the rest of the run.
func (r *run) fail(name string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// What ends because an earlier failure cancelled it says nothing new.
	if len(r.errs) == 0 || !errors.Is(err, context.Canceled) {
		r.errs = append(r.errs, &StepError{Step: name, Err: err})
	}
	r.cancel()
}

// ready waits for what phase i waits for; false when the run ends first.
func (r *run) ready(i int) bool {
	for _, w := range r.sched.waits[i] {
		var c <-chan struct{}
		switch w := w.(type) {
		case *plan.Milestone:
			c = r.reached[w]
		case After:
			c = r.finished[r.sched.index(string(w))]
		}
		select {
		case <-c:
		case <-r.ctx.Done():
			return false
		}
	}
	// A failure cancels before its phase counts as done.
	return r.ctx.Err() == nil
}

// phase applies the k-th selected phase, table index i.
func (r *run) phase(k, i int) {
	ph := r.sched.phases[i]
	if !r.ready(i) {
		return
	}
	// Done even when it fails: the failure has cancelled the run by then.
	defer r.end(i)
	if err := r.apply(k, i); err != nil {
		r.fail(ph.Name, err)
	}
}

func (r *run) apply(k, i int) error {
	ph, n := r.sched.phases[i], len(r.order)
	r.h.FaultPoint("step-start " + ph.Name)
	t0 := time.Now()
	p := r.plans[i]
	if k > 0 {
		// Earlier phases changed the host: plan from what is there now.
		var err error
		if p, err = ph.Step.Plan(r.ctx, r.h); err != nil {
			return err
		}
		r.o.Log.Debug("step planned again", "step", ph.Name, "changes", len(p.Changes), "duration", time.Since(t0))
	}
	background := ph.Background && !p.Empty()
	if background {
		r.print(func(w io.Writer) { printStarted(w, k+1, n, result(ph.Name, p, time.Since(t0))) })
	}
	if err := p.ApplyTimed(r.ctx, r.h, logChange(r.o.Log, ph.Name)); err != nil {
		return err
	}
	if c, ok := ph.Step.(Checker); ok {
		if err := c.Check(r.ctx, r.h); err != nil {
			return err
		}
	}
	r.h.FaultPoint("step-done " + ph.Name)
	res := result(ph.Name, p, time.Since(t0))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done[i] = &res
	if background {
		fmt.Fprintf(r.o.Out, "[%d/%d] %s: done in the background (%s)\n", k+1, n, ph.Name, res.Duration.Round(time.Millisecond))
	} else {
		printDone(r.o.Out, k+1, n, res)
	}
	// elapsed counts from the start of the run, planning included: the
	// wall time of the run up to this phase.
	r.o.Log.Info("step done", "step", ph.Name, "changes", len(res.Changes), "duration", res.Duration, "background", ph.Background, "elapsed", time.Since(r.start))
	return nil
}

// print writes to the run's output, one phase at a time.
func (r *run) print(f func(io.Writer)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r.o.Out)
}
