package bootstrap

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// funcStep plans one change that runs do; before, when set, lets the
// runner apply it in the background.
type funcStep struct {
	name   string
	before []string
	do     func(ctx context.Context) error
	plan   func() // called on every Plan
}

func (s *funcStep) Name() string { return s.name }

func (s *funcStep) Plan(context.Context, *host.Host) (*plan.Plan, error) {
	if s.plan != nil {
		s.plan()
	}
	p := &plan.Plan{Before: s.before}
	p.Add(&plan.Func{Text: "do " + s.name, Do: func(ctx context.Context, _ *host.Host) error { return s.do(ctx) }})
	return p, nil
}

// TestBackgroundStepRunsBesideTheNext: the pulls step is applied while the
// install step applies (each waits for the other to have started, so a
// sequential runner would never finish), kubeadm is planned and applied
// only after the pulls are done, and a job the pulls start with Later is
// waited for before the run ends.
func TestBackgroundStepRunsBesideTheNext(t *testing.T) {
	pullsStarted, installStarted := make(chan struct{}), make(chan struct{})
	var pullsDone, laterDone atomic.Bool
	var kubeadmSawPulls bool
	steps := []Step{
		&funcStep{name: "pulls", before: []string{"kubeadm"}, do: func(ctx context.Context) error {
			close(pullsStarted)
			<-installStarted
			err := plan.Later(ctx, "late pulls", nil, func(context.Context) error {
				time.Sleep(50 * time.Millisecond)
				laterDone.Store(true)
				return nil
			})
			pullsDone.Store(true)
			return err
		}},
		&funcStep{name: "install", do: func(context.Context) error {
			close(installStarted)
			select {
			case <-pullsStarted:
				return nil
			case <-time.After(10 * time.Second):
				return errors.New("the pulls never started beside the install")
			}
		}},
		&funcStep{name: "kubeadm", do: func(context.Context) error { return nil }},
	}
	steps[2].(*funcStep).plan = func() { kubeadmSawPulls = pullsDone.Load() }
	var out bytes.Buffer
	r, err := Run(context.Background(), hosttest.NewTestHost(t, ""), steps, Options{Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !kubeadmSawPulls {
		t.Error("kubeadm was planned before the pulls it waits for were done")
	}
	if !laterDone.Load() {
		t.Error("the run ended before the job started with Later")
	}
	for _, want := range []string{
		"[1/3] pulls: 1 change(s) going on in the background (kubeadm waits for them)",
		"[2/3] install: 1 change(s) applied",
		"[1/3] pulls: done in the background",
		"pulls: late pulls done",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if r.Changed() != 3 || r.Steps[0].Name != "pulls" || r.Steps[0].Duration <= 0 {
		t.Errorf("report %+v", r.Steps)
	}
}

// TestBackgroundFailureStopsTheRun: a failed background step is reported
// as its own, and the step waiting for it is not applied.
func TestBackgroundFailureStopsTheRun(t *testing.T) {
	boom := errors.New("registry down")
	applied := false
	steps := []Step{
		&funcStep{name: "pulls", before: []string{"kubeadm"}, do: func(context.Context) error { return boom }},
		&funcStep{name: "install", do: func(context.Context) error { return nil }},
		&funcStep{name: "kubeadm", do: func(context.Context) error { applied = true; return nil }},
	}
	_, err := Run(context.Background(), hosttest.NewTestHost(t, ""), steps, Options{})
	var se *StepError
	if !errors.As(err, &se) || se.Step != "pulls" || !errors.Is(err, boom) {
		t.Fatalf("err %v, want step pulls failing with %v", err, boom)
	}
	if applied {
		t.Error("kubeadm ran although the pulls it waits for failed")
	}
}

// TestFailedRunStopsBackgroundWork: when a step fails, the background work
// still running is cancelled and waited for before Run returns.
func TestFailedRunStopsBackgroundWork(t *testing.T) {
	var stopped atomic.Bool
	started := make(chan struct{})
	steps := []Step{
		&funcStep{name: "pulls", before: []string{"kubeadm"}, do: func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			stopped.Store(true)
			return ctx.Err()
		}},
		&funcStep{name: "install", do: func(context.Context) error {
			<-started
			return errors.New("disk full")
		}},
	}
	_, err := Run(context.Background(), hosttest.NewTestHost(t, ""), steps, Options{})
	if err == nil || !strings.Contains(err.Error(), "step install: ") {
		t.Fatalf("err %v, want the install step's", err)
	}
	if !stopped.Load() {
		t.Error("Run returned while the background step was still running")
	}
}

// TestBackgroundStepGoesFirst: the step after a background step yields
// (as the binary installs do) until the background step shares, not
// before, and not only once it ends.
func TestBackgroundStepGoesFirst(t *testing.T) {
	var shared, yielded atomic.Bool
	finish := make(chan struct{})
	steps := []Step{
		&funcStep{name: "pulls", before: []string{"kubeadm"}, do: func(ctx context.Context) error {
			time.Sleep(50 * time.Millisecond)
			shared.Store(true)
			plan.Share(ctx)
			<-finish // still unpacking
			return nil
		}},
		&funcStep{name: "install", do: func(ctx context.Context) error {
			waited := plan.Yield(ctx, 10*time.Second)
			yielded.Store(true)
			if !shared.Load() {
				return errors.New("the install went on before the pulls shared")
			}
			if waited >= 10*time.Second {
				return errors.New("the install waited for the bound, not for the share")
			}
			close(finish)
			return nil
		}},
		&funcStep{name: "kubeadm", do: func(context.Context) error { return nil }},
	}
	if _, err := Run(context.Background(), hosttest.NewTestHost(t, ""), steps, Options{}); err != nil {
		t.Fatal(err)
	}
	if !yielded.Load() {
		t.Fatal("the install never ran")
	}
}
