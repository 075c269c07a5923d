package plan

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// The changes of a group run at once when the first is applied, and each
// reports its own result.
func TestTogetherRunsAtOnce(t *testing.T) {
	var started sync.WaitGroup
	started.Add(3)
	release := make(chan struct{})
	runs := make(chan string, 3)
	change := func(name string, err error) Change {
		return &Func{Text: name, Do: func(context.Context, *host.Host) error {
			runs <- name
			started.Done()
			<-release // each waits until all three have started
			return err
		}}
	}
	bad := errors.New("b failed")
	cs := Together(change("a", nil), change("b", bad), change("c", nil))
	go func() { started.Wait(); close(release) }()

	done := make(chan error)
	go func() { done <- cs[0].Apply(context.Background(), nil) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("a: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the group did not run its changes at once")
	}
	if len(runs) != 3 {
		t.Fatalf("%d changes ran, want 3", len(runs))
	}
	if err := cs[1].Apply(context.Background(), nil); !errors.Is(err, bad) {
		t.Errorf("b: %v, want its own error", err)
	}
	if err := cs[2].Apply(context.Background(), nil); err != nil {
		t.Errorf("c: %v", err)
	}
	if len(runs) != 3 {
		t.Errorf("applying the others ran changes again: %d runs", len(runs))
	}
	if cs[1].Summary() != "b" {
		t.Errorf("summary %q", cs[1].Summary())
	}
}
