package cli

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
)

// blockingStdin cancels the run when it is first read, then blocks as a
// terminal no one types into does, or fails with the cancellation as a
// pipe closed by the signal would.
type blockingStdin struct {
	cancel  context.CancelFunc
	unblock chan struct{}
	fail    bool
}

func (b *blockingStdin) Read([]byte) (int, error) {
	b.cancel()
	if b.fail {
		return 0, context.Canceled
	}
	<-b.unblock
	return 0, os.ErrClosed
}

// TestSignalEndsTheRunWithExit1: a run stopped by a signal (Main's context
// ends) while it reads its input exits 1 and says it was interrupted,
// never 2, even though the read it stopped was reading an input.
func TestSignalEndsTheRunWithExit1(t *testing.T) {
	for _, fail := range []bool{false, true} {
		root := t.TempDir()
		hosttest.WriteTree(t, root, map[string]string{"/etc/fstab": "/dev/sda2 none swap sw 0 0\n"})
		before := hosttest.HashTree(t, root)
		ctx, cancel := context.WithCancel(context.Background())
		stdin := &blockingStdin{cancel: cancel, unblock: make(chan struct{}), fail: fail}
		var out, errb bytes.Buffer
		code := Main(ctx, []string{"--root", root, "bootstrap", "--containerd-version", "2.4.2", "--config", "-"}, stdin, &out, &errb)
		close(stdin.unblock)
		if code != ExitFailure || !strings.Contains(errb.String(), "interrupted") || !strings.Contains(errb.String(), "context canceled") {
			t.Errorf("read failing %v: exit %d (want 1), stderr:\n%s", fail, code, errb.String())
		}
		if hosttest.HashTree(t, root) != before {
			t.Fatal("an interrupted run changed the root")
		}
	}
}
