package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
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

// runInterrupted runs args under --root through Main with ctx, which the
// run's own input ends, and checks what a signal must give: exit 1, a
// message that says so, and the root unchanged.
func runInterrupted(t *testing.T, ctx context.Context, stdin io.Reader, args ...string) {
	t.Helper()
	root := t.TempDir()
	hosttest.WriteTree(t, root, map[string]string{"/etc/fstab": "/dev/sda2 none swap sw 0 0\n"})
	before := hosttest.HashTree(t, root)
	var out, errb bytes.Buffer
	code := Main(ctx, append([]string{"--root", root}, args...), stdin, &out, &errb)
	if code != ExitFailure || !strings.Contains(errb.String(), "error: interrupted: ") || !strings.Contains(errb.String(), "context canceled") {
		t.Errorf("exit %d (want 1), stderr:\n%s", code, errb.String())
	}
	if hosttest.HashTree(t, root) != before {
		t.Fatal("an interrupted run changed the root")
	}
}

// TestSignalWhileReadingStdinExits1: a run stopped while it reads its
// configuration exits 1, never 2, although the read it stopped was reading
// an input: whether the read blocks or fails with the cancellation.
func TestSignalWhileReadingStdinExits1(t *testing.T) {
	for _, fail := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		stdin := &blockingStdin{cancel: cancel, unblock: make(chan struct{}), fail: fail}
		runInterrupted(t, ctx, stdin, "bootstrap", "--containerd-version", "2.4.2", "--config", "-")
		close(stdin.unblock)
	}
}

// TestSignalDuringADownloadExits1: a run stopped while it downloads its
// release manifest exits 1 and says it was interrupted.
func TestSignalDuringADownloadExits1(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		cancel()
		<-r.Context().Done()
	}))
	defer srv.Close()
	runInterrupted(t, ctx, strings.NewReader(""), "bootstrap", "--only", "host", "--containerd-version", "2.4.2", "--release-manifest", srv.URL+"/kubernetes-1-36-eks-7.yaml")
}
