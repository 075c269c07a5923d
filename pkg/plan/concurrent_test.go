package plan

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// TestAddConcurrentAppliesAtOnce: the changes of a group run at once (each
// waits until all three have started, so one after the other never ends),
// the plan goes on after all of them, and each failure is named.
func TestAddConcurrentAppliesAtOnce(t *testing.T) {
	var started sync.WaitGroup
	started.Add(3)
	all := make(chan struct{})
	go func() { started.Wait(); close(all) }()
	var mu sync.Mutex
	var order []string
	change := func(name string, err error, wait bool) Change {
		return &Func{Text: name, Do: func(context.Context, *host.Host) error {
			if wait {
				started.Done()
				<-all
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			return err
		}}
	}
	bad := errors.New("b failed")
	p := &Plan{}
	p.Add(change("first", nil, false))
	p.AddConcurrent(change("a", nil, true), change("b", bad, true), change("c", nil, true))
	p.Add(change("after", nil, false))
	if len(p.Changes) != 5 || p.Changes[2].Summary() != "b" {
		t.Fatalf("changes %q: each of a group is a change of its own", p.Summaries())
	}
	var applied []string
	err := p.ApplyTimed(context.Background(), nil, func(c Change, _ time.Duration) {
		mu.Lock()
		applied = append(applied, c.Summary())
		mu.Unlock()
	})
	if !errors.Is(err, bad) || !strings.HasPrefix(err.Error(), "b: ") {
		t.Fatalf("err %v, want b's error, named", err)
	}
	if len(order) != 4 || order[0] != "first" || len(applied) != 3 {
		t.Fatalf("ran %q, applied %q: want first, then the whole group, and nothing after the failed group", order, applied)
	}
	// A group of one is a plain change.
	q := &Plan{}
	q.AddConcurrent(change("alone", nil, false), nil)
	if len(q.Changes) != 1 || len(q.groups) != 0 {
		t.Errorf("changes %q, groups %v", q.Summaries(), q.groups)
	}
}

// TestReachFollowsTheChangesBeforeIt: a milestone is reached once the
// changes added before it are applied, not before, and before the changes
// added after it; one at the end is reached at the end, also of an empty
// plan.
func TestReachFollowsTheChangesBeforeIt(t *testing.T) {
	first, second, end := NewMilestone("first"), NewMilestone("second"), NewMilestone("end")
	chans := map[*Milestone]<-chan struct{}{first: first.Watch(), second: second.Watch(), end: end.Watch()}
	reached := func(m *Milestone) bool {
		select {
		case <-chans[m]:
			return true
		default:
			return false
		}
	}
	var seen []string
	see := func(name string) Change {
		return &Func{Text: name, Do: func(context.Context, *host.Host) error {
			seen = append(seen, name+":"+strings.Join(reachedOf(reached, first, second, end), ","))
			return nil
		}}
	}
	p := &Plan{}
	p.Reach(nil) // no milestone: ignored
	p.Add(see("a"))
	p.Reach(first)
	p.Add(see("b"))
	p.Reach(second)
	p.Add(see("c"))
	p.Reach(end)
	if err := p.Apply(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(seen, " "); got != "a: b:first c:first,second" {
		t.Fatalf("changes saw %q", got)
	}
	if !reached(end) {
		t.Fatal("the milestone after the last change is not reached")
	}
	empty := &Plan{}
	empty.Reach(first)
	ch := first.Watch()
	if err := empty.Apply(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	default:
		t.Fatal("an empty plan did not reach its milestone")
	}
}

func reachedOf(reached func(*Milestone) bool, ms ...*Milestone) []string {
	var out []string
	for _, m := range ms {
		if reached(m) {
			out = append(out, m.String())
		}
	}
	return out
}

// TestMilestoneWatchedPerRun: Reach with no run watching does nothing,
// and a new watch does not see a milestone reached in an earlier run.
func TestMilestoneWatchedPerRun(t *testing.T) {
	m := NewMilestone("kubelet installed")
	m.Reach() // no run: nothing to tell
	var nilM *Milestone
	nilM.Reach()
	old := m.Watch()
	m.Reach()
	m.Reach() // twice: no panic
	select {
	case <-old:
	default:
		t.Fatal("the watching run did not see the milestone")
	}
	fresh := m.Watch()
	select {
	case <-fresh:
		t.Fatal("a new run sees a milestone reached in an earlier one")
	default:
	}
	if m.String() != "kubelet installed" {
		t.Errorf("name %q", m)
	}
}
