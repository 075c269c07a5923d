package plan

import (
	"context"
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
