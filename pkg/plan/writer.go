package plan

import (
	"io"
	"sync"
)

// LockWriter returns w for changes that run at once (AddConcurrent) and
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
