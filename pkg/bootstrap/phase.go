package bootstrap

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// Phase is one row of the table a run follows: the run order is this
// data, and the runner is the only scheduler.
type Phase struct {
	// Name is what --only and --skip take.
	Name string
	// Description says in one line what the phase does.
	Description string
	Step        Step
	// Needs are what the phase waits for: earlier phases (After) or
	// milestones that earlier phases provide.
	Needs []Need
	// Provides are the milestones the phase reaches while it applies (its
	// step is given each one); each counts as reached once the phase is
	// done, skipped or has nothing to apply.
	Provides []*plan.Milestone
	// Background lets the phases after it that do not Need it start while
	// it applies. A phase that is not Background holds back the phases
	// after it until it is done, except those that Need one of its
	// milestones: they wait for that instead.
	Background bool
}

// Need is what a phase waits for: an After or a *plan.Milestone.
type Need interface{ String() string }

// After is the Need of the phase of that name being done.
type After string

func (a After) String() string { return string(a) }

// Sequence makes a table of steps applied one after another, each a phase
// named as its step.
func Sequence(steps []Step) []Phase {
	out := make([]Phase, len(steps))
	for i, s := range steps {
		out[i] = Phase{Name: s.Name(), Step: s}
	}
	return out
}

// Validate checks a table as it is built: names are unique, every Need is
// an earlier phase or a milestone an earlier phase provides, and each
// milestone is provided by one phase. Needs point only backwards, so a
// table that passes has no cycle.
func Validate(phases []Phase) error {
	var errs []error
	seen := map[string]bool{}
	provider := map[*plan.Milestone]string{}
	for _, p := range phases {
		switch {
		case p.Name == "":
			errs = append(errs, errors.New("a phase has no name"))
		case seen[p.Name]:
			errs = append(errs, fmt.Errorf("phase %s: the name is taken", p.Name))
		case p.Step == nil:
			errs = append(errs, fmt.Errorf("phase %s: no step", p.Name))
		}
		for _, n := range p.Needs {
			switch n := n.(type) {
			case After:
				if !seen[string(n)] {
					errs = append(errs, fmt.Errorf("phase %s needs %s, which is not an earlier phase", p.Name, n))
				}
			case *plan.Milestone:
				if _, ok := provider[n]; n == nil || !ok {
					errs = append(errs, fmt.Errorf("phase %s needs %v, which no earlier phase provides", p.Name, n))
				}
			default:
				errs = append(errs, fmt.Errorf("phase %s needs %v (%T): neither a phase nor a milestone", p.Name, n, n))
			}
		}
		// Provided after the Needs are checked: a phase cannot wait for
		// its own milestone.
		for _, m := range p.Provides {
			if prev, ok := provider[m]; ok || m == nil {
				errs = append(errs, fmt.Errorf("phase %s provides %v, which phase %s provides already", p.Name, m, prev))
			}
			provider[m] = p.Name
		}
		seen[p.Name] = true
	}
	return errors.Join(errs...)
}

// schedule is what each selected phase of a table waits for.
type schedule struct {
	phases   []Phase
	selected []bool
	// waits of each selected phase: its Needs on selected phases, and the
	// earlier selected phases that hold it back (see Phase.Background).
	waits    [][]Need
	provider map[*plan.Milestone]int
}

func newSchedule(phases []Phase, selected []bool) *schedule {
	s := &schedule{phases: phases, selected: selected, waits: make([][]Need, len(phases)), provider: map[*plan.Milestone]int{}}
	for i, p := range phases {
		for _, m := range p.Provides {
			s.provider[m] = i
		}
	}
	for i, p := range phases {
		if !selected[i] {
			continue
		}
		// What is not selected is done before the run starts.
		for _, n := range p.Needs {
			if s.selected[s.owner(n)] {
				s.waits[i] = append(s.waits[i], n)
			}
		}
		for j := range i {
			q := phases[j]
			if !selected[j] || q.Background || slices.Contains(p.Needs, Need(After(q.Name))) ||
				slices.ContainsFunc(q.Provides, func(m *plan.Milestone) bool { return slices.Contains(p.Needs, Need(m)) }) {
				continue
			}
			s.waits[i] = append(s.waits[i], After(q.Name))
		}
	}
	return s
}

// owner is the index of the phase n is of.
func (s *schedule) owner(n Need) int {
	if m, ok := n.(*plan.Milestone); ok {
		return s.provider[m]
	}
	return s.index(n.String())
}

// implied is every Need known done once all of ws are: a phase done means
// its milestones reached and what it waited for done; a milestone reached
// means its phase started, so what that waited for is done.
func (s *schedule) implied(ws ...Need) map[Need]bool {
	out := map[Need]bool{}
	var add func(n Need)
	add = func(n Need) {
		if out[n] {
			return
		}
		out[n] = true
		i := s.owner(n)
		if _, ok := n.(After); ok {
			for _, m := range s.phases[i].Provides {
				out[m] = true
			}
		}
		for _, w := range s.waits[i] {
			add(w)
		}
	}
	for _, w := range ws {
		add(w)
	}
	return out
}

// Order says, one line a phase, what each selected phase waits for (what
// the others imply left out) and which phases may run beside it; overlap
// is false when none may.
func (s *schedule) Order() (lines []string, overlap bool) {
	before := make([]map[Need]bool, len(s.phases))
	for i := range s.phases {
		if s.selected[i] {
			before[i] = s.implied(s.waits[i]...)
		}
	}
	for i, p := range s.phases {
		if !s.selected[i] {
			continue
		}
		line := p.Name
		if p.Background {
			line += " (background)"
		}
		var direct []string
		for _, w := range s.waits[i] {
			if !slices.ContainsFunc(s.waits[i], func(o Need) bool { return o != w && s.implied(o)[w] }) {
				direct = append(direct, w.String())
			}
		}
		if len(direct) > 0 {
			line += " after: " + strings.Join(direct, ", ")
		}
		var beside []string
		for j, q := range s.phases {
			if j != i && s.selected[j] && !before[i][After(q.Name)] && !before[j][After(p.Name)] {
				beside = append(beside, q.Name)
			}
		}
		if len(beside) > 0 {
			line += " ‖ " + strings.Join(beside, ", ")
			overlap = true
		}
		lines = append(lines, line)
	}
	return lines, overlap
}

// index is the table index of the phase called name.
func (s *schedule) index(name string) int {
	return slices.IndexFunc(s.phases, func(p Phase) bool { return p.Name == name })
}
