package plan

import (
	"context"
	"testing"
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
