package plan

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLaterOutsideARunRunsNow(t *testing.T) {
	ran := false
	if err := Later(context.Background(), "x", nil, func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("ran %v, err %v", ran, err)
	}
}

// TestLaterJobsBelongToTheirStep: a job started from inside another job
// belongs to that job's step, not to the step being applied meanwhile.
func TestLaterJobsBelongToTheirStep(t *testing.T) {
	ctx, p := WithPending(context.Background())
	p.SetStep("images")
	release := make(chan struct{})
	p.Go(ctx, "pull", []string{"kubeadm"}, func(ctx context.Context) error {
		<-release
		return Later(ctx, "late pull", nil, func(context.Context) error { return nil })
	})
	p.SetStep("binaries")
	close(release)
	gated := p.WaitFor("kubeadm")
	if len(gated) != 1 || gated[0].What != "pull" {
		t.Fatalf("WaitFor(kubeadm) = %+v", gated)
	}
	rest := p.WaitAll()
	if len(rest) != 1 || rest[0].What != "late pull" || rest[0].Step != "images" {
		t.Fatalf("WaitAll = %+v, want the late pull of step images", rest)
	}
}

// TestYieldWaitsForFirstJobs: Yield waits until every GoFirst job has
// shared or ended, YieldAll until every one has ended, and a job that
// shares twice does not end another's hold.
func TestYieldWaitsForFirstJobs(t *testing.T) {
	ctx, p := WithPending(context.Background())
	if d := Yield(ctx, time.Minute); d != 0 {
		t.Fatalf("Yield with no first job waited %v", d)
	}
	share, end := make(chan struct{}), make(chan struct{})
	p.GoFirst(ctx, "shares", nil, func(ctx context.Context) error {
		<-share
		Share(ctx)
		Share(ctx)
		<-end
		return nil
	})
	p.GoFirst(ctx, "ends", nil, func(ctx context.Context) error {
		<-end
		return nil
	})
	yielded, yieldedAll := make(chan struct{}), make(chan struct{})
	go func() {
		Yield(ctx, time.Minute)
		close(yielded)
	}()
	go func() {
		YieldAll(ctx, time.Minute)
		close(yieldedAll)
	}()
	close(share)
	select {
	case <-yielded:
		t.Fatal("Yield returned while a first job had neither shared nor ended")
	case <-time.After(50 * time.Millisecond):
	}
	close(end)
	select {
	case <-yielded:
	case <-time.After(10 * time.Second):
		t.Fatal("Yield did not return once every first job had ended")
	}
	select {
	case <-yieldedAll:
	case <-time.After(10 * time.Second):
		t.Fatal("YieldAll did not return once every first job had ended")
	}
	p.WaitAll()
	// A new first job starts a new wait, bounded by max.
	block := make(chan struct{})
	p.GoFirst(ctx, "blocks", nil, func(context.Context) error { <-block; return nil })
	if d := Yield(ctx, 20*time.Millisecond); d < 20*time.Millisecond {
		t.Fatalf("Yield returned after %v with a first job running, want the 20ms bound", d)
	}
	close(block)
	p.WaitAll()
}

func TestYieldEndsWithItsContext(t *testing.T) {
	ctx, p := WithPending(context.Background())
	block := make(chan struct{})
	defer close(block)
	p.GoFirst(ctx, "blocks", nil, func(context.Context) error { <-block; return nil })
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if d := Yield(cctx, time.Minute); d > 10*time.Second {
		t.Fatalf("Yield on a cancelled context waited %v", d)
	}
}

func TestShareAndYieldOutsideARunDoNothing(t *testing.T) {
	Share(context.Background())
	if d := Yield(context.Background(), time.Minute); d != 0 {
		t.Fatalf("Yield outside a run waited %v", d)
	}
}

// TestYieldAllWaitsPastTheShare: YieldAll still waits once a first job has
// shared, until it ends.
func TestYieldAllWaitsPastTheShare(t *testing.T) {
	ctx, p := WithPending(context.Background())
	shared, end := make(chan struct{}), make(chan struct{})
	p.GoFirst(ctx, "pulls", nil, func(ctx context.Context) error {
		Share(ctx)
		close(shared)
		<-end
		return nil
	})
	<-shared
	if d := Yield(ctx, time.Minute); d > 10*time.Second {
		t.Fatalf("Yield waited %v after the share", d)
	}
	if d := YieldAll(ctx, 20*time.Millisecond); d < 20*time.Millisecond {
		t.Fatalf("YieldAll returned after %v while the first job ran, want the 20ms bound", d)
	}
	close(end)
	p.WaitAll()
	if d := YieldAll(ctx, time.Minute); d != 0 {
		t.Fatalf("YieldAll waited %v with no first job running", d)
	}
}

// TestAwaitWaitsForTheNamedJobs: Await returns once the jobs naming it
// have ended (not the others), passes on their error, and leaves them to
// the runner's waits.
func TestAwaitWaitsForTheNamedJobs(t *testing.T) {
	if err := Await(context.Background(), "kubelet"); err != nil {
		t.Fatalf("outside a run: %v", err)
	}
	ctx, p := WithPending(context.Background())
	p.SetStep("binaries")
	release, never := make(chan struct{}), make(chan struct{})
	defer close(never)
	p.Go(ctx, "install kubelet", []string{"kubeadm", "kubelet"}, func(context.Context) error {
		<-release
		return nil
	})
	p.Go(ctx, "install kubectl", nil, func(context.Context) error { <-never; return nil })
	done := make(chan error, 1)
	go func() { done <- Await(ctx, "kubelet") }()
	select {
	case err := <-done:
		t.Fatalf("Await returned (%v) before the kubelet job ended", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Await did not return once the kubelet job ended (or waited for kubectl)")
	}
	if jobs := p.WaitFor("kubeadm"); len(jobs) != 1 || jobs[0].What != "install kubelet" {
		t.Fatalf("the runner's wait lost the job Await saw: %+v", jobs)
	}

	p.Go(ctx, "install kubelet again", []string{"kubelet"}, func(context.Context) error { return errors.New("sha256 mismatch") })
	err := Await(ctx, "kubelet")
	if err == nil || !strings.Contains(err.Error(), "install kubelet again (step binaries) failed: sha256 mismatch") {
		t.Fatalf("Await = %v, want the job's error named", err)
	}
}
