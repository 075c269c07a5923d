package plan

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Pending is the work of one run that goes on beside its steps: a plan
// applied in the background (Plan.Before), or work a change hands to Later.
// The runner waits for each job before the steps it names and for all of
// them before the run ends, so nothing outlives the run and a failure is
// still reported as its step's.
type Pending struct {
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	step   string // the step being applied, whose jobs Later starts
	jobs   []*Job
	// GoFirst jobs that have not shared yet, and those still running.
	unshared, running gate
}

// Job is one piece of background work.
type Job struct {
	Step   string   // the step that started it
	What   string   // what it does, for the report
	Before []string // steps (or names given to Await) that must not start until it is done
	Took   time.Duration
	Err    error
	done   chan struct{}
	waited bool
}

type pendingKey struct{}

// WithPending returns a context whose changes may start background work,
// and the set the runner waits on. Cancel ends the jobs still running.
func WithPending(ctx context.Context) (context.Context, *Pending) {
	p := &Pending{}
	p.ctx, p.cancel = context.WithCancel(ctx)
	return context.WithValue(p.ctx, pendingKey{}, p), p
}

// SetStep names the step whose changes are applied from now on.
func (p *Pending) SetStep(name string) {
	p.mu.Lock()
	p.step = name
	p.mu.Unlock()
}

type stepKey struct{}

// Go starts fn as a job of the step being applied or, when ctx is a job's,
// of that job's step, and returns the job.
func (p *Pending) Go(ctx context.Context, what string, before []string, fn func(context.Context) error) *Job {
	p.mu.Lock()
	step, ok := ctx.Value(stepKey{}).(string)
	if !ok {
		step = p.step
	}
	j := &Job{Step: step, What: what, Before: before, done: make(chan struct{})}
	p.jobs = append(p.jobs, j)
	p.mu.Unlock()
	ctx = context.WithValue(ctx, stepKey{}, step)
	start := time.Now()
	go func() {
		defer close(j.done)
		j.Err = fn(ctx)
		j.Took = time.Since(start)
	}()
	return j
}

// WaitFor waits for the jobs that must end before step starts and returns
// them, in the order they were started.
func (p *Pending) WaitFor(step string) []*Job {
	return p.wait(func(j *Job) bool { return slices.Contains(j.Before, step) })
}

// WaitAll waits for every job not yet waited for.
func (p *Pending) WaitAll() []*Job { return p.wait(func(*Job) bool { return true }) }

// Cancel ends the running jobs (the run failed) and waits for them.
func (p *Pending) Cancel() {
	p.cancel()
	p.WaitAll()
}

func (p *Pending) wait(match func(*Job) bool) []*Job {
	var out []*Job
	for {
		p.mu.Lock()
		var next *Job
		for _, j := range p.jobs {
			if !j.waited && match(j) {
				next = j
				break
			}
		}
		if next != nil {
			next.waited = true
		}
		p.mu.Unlock()
		if next == nil {
			return out
		}
		// A job may start others while it runs (WaitAll sees them on the
		// next pass).
		<-next.done
		out = append(out, next)
	}
}

// Await waits for the jobs started so far whose Before names name: a
// change that needs their work before its step starts (the kubelet
// binary, for kubeadm's preflight while the pulls go on). It returns the
// first of their errors, saying which job failed; the runner still reports
// the jobs as it would have. Outside a run it returns at once.
func Await(ctx context.Context, name string) error {
	p, ok := ctx.Value(pendingKey{}).(*Pending)
	if !ok {
		return nil
	}
	p.mu.Lock()
	var jobs []*Job
	for _, j := range p.jobs {
		if slices.Contains(j.Before, name) {
			jobs = append(jobs, j)
		}
	}
	p.mu.Unlock()
	for _, j := range jobs {
		select {
		case <-j.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if j.Err != nil {
			return fmt.Errorf("%s (step %s) failed: %w", j.What, j.Step, j.Err)
		}
	}
	return nil
}

// Later runs fn beside the rest of the run ctx belongs to, as a job of the
// step being applied; steps named in before wait for it. Outside a run with
// Pending (a test applying a plan directly), fn runs now.
func Later(ctx context.Context, what string, before []string, fn func(context.Context) error) error {
	p, ok := ctx.Value(pendingKey{}).(*Pending)
	if !ok {
		return fn(ctx)
	}
	p.Go(ctx, what, before, fn)
	return nil
}

// GoFirst is Go for work that goes first: the image downloads kubeadm
// waits for, whose many small commits (each an fsync) stall behind a large
// write. Until the job calls Share, or ends, Yield holds back the run's
// large writes; until it ends, YieldAll holds back work that nothing in
// the run needs.
func (p *Pending) GoFirst(ctx context.Context, what string, before []string, fn func(context.Context) error) *Job {
	share, end := p.unshared.hold(&p.mu), p.running.hold(&p.mu)
	ctx = context.WithValue(ctx, shareKey{}, share)
	return p.Go(ctx, what, before, func(ctx context.Context) error {
		defer end()
		defer share()
		return fn(ctx)
	})
}

type shareKey struct{}

// Share tells the run that the job ctx belongs to (started by GoFirst) is
// past the part that needs the disk to itself. Elsewhere it does nothing.
func Share(ctx context.Context) {
	if release, ok := ctx.Value(shareKey{}).(func()); ok {
		release()
	}
}

// Yield waits, at most bound, while a job started by GoFirst has not
// shared yet, before work that can go second (a large write that nothing
// needs until a later step). It returns how long it waited; the wait ends
// early when ctx does.
func Yield(ctx context.Context, bound time.Duration) time.Duration {
	return waitGate(ctx, bound, func(p *Pending) *gate { return &p.unshared })
}

// YieldAll waits, at most bound, while a job started by GoFirst is
// running, before work that nothing in the run needs (kubectl). It returns
// how long it waited.
func YieldAll(ctx context.Context, bound time.Duration) time.Duration {
	return waitGate(ctx, bound, func(p *Pending) *gate { return &p.running })
}

func waitGate(ctx context.Context, bound time.Duration, which func(*Pending) *gate) time.Duration {
	p, ok := ctx.Value(pendingKey{}).(*Pending)
	if !ok {
		return 0
	}
	p.mu.Lock()
	g := which(p)
	open, held := g.open, g.n > 0
	p.mu.Unlock()
	if !held {
		return 0
	}
	start := time.Now()
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case <-open:
	case <-t.C:
	case <-ctx.Done():
	}
	return time.Since(start)
}

// gate counts holds; open is closed when the last is released.
type gate struct {
	n    int
	open chan struct{}
}

// hold puts a hold on g, under mu, until the returned release; releasing
// twice does nothing.
func (g *gate) hold(mu *sync.Mutex) (release func()) {
	mu.Lock()
	if g.n == 0 {
		g.open = make(chan struct{})
	}
	g.n++
	mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			mu.Lock()
			if g.n--; g.n == 0 {
				close(g.open)
			}
			mu.Unlock()
		})
	}
}
