package plan

import "sync"

// Milestone is a point inside one phase of a run that later phases may
// wait for ("kubelet installed"). The phase that reaches it is given it
// as a typed field and says where it lies in its plan (Plan.Reach); it
// never knows who waits. The run table declares it, says which phase
// provides it, and the runner watches it.
type Milestone struct {
	name    string
	mu      sync.Mutex
	reached chan struct{} // of the run watching it; nil before one
	closed  bool
}

// NewMilestone returns a milestone called name.
func NewMilestone(name string) *Milestone { return &Milestone{name: name} }

func (m *Milestone) String() string { return m.name }

// Watch starts a run's watch of m: the channel is closed once m is reached
// in that run. Each run watches afresh, so one reached in an earlier run
// (a run of one phase before the whole) counts for nothing.
func (m *Milestone) Watch() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reached, m.closed = make(chan struct{}), false
	return m.reached
}

// Reach tells the run watching m that its point is passed. Again, or with
// no run watching (a step applied alone), it does nothing.
func (m *Milestone) Reach() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reached != nil && !m.closed {
		close(m.reached)
		m.closed = true
	}
}
