package plan

import (
	"context"
	"io"
	"sync"

	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// Together returns changes that do not depend on one another so that they
// apply at once: the first of them applied runs them all, each in its own
// goroutine, and every one then reports its own result. They stay separate
// changes, each listed, printed and logged as before; a change that must
// follow them goes after them in the plan.
func Together(changes ...Change) []Change {
	g := &together{changes: changes}
	out := make([]Change, len(changes))
	for i, c := range changes {
		out[i] = &member{Change: c, g: g, i: i}
	}
	return out
}

type together struct {
	changes []Change
	once    sync.Once
	errs    []error
}

type member struct {
	Change
	g *together
	i int
}

// Unwrap returns the change itself (for tests that look at its fields).
func (m *member) Unwrap() Change { return m.Change }

func (m *member) Apply(ctx context.Context, h *host.Host) error {
	m.g.once.Do(func() {
		m.g.errs = make([]error, len(m.g.changes))
		var wg sync.WaitGroup
		for i, c := range m.g.changes {
			wg.Go(func() { m.g.errs[i] = c.Apply(ctx, h) })
		}
		wg.Wait()
	})
	return m.g.errs[m.i]
}

// LockWriter returns w for changes that run at once (Together, jobs) and
// write to it: one write at a time. nil stays nil.
func LockWriter(w io.Writer) io.Writer {
	if w == nil {
		return nil
	}
	return &lockedWriter{w: w}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
