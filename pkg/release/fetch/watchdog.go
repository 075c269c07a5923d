package fetch

import (
	"io"
	"sync"
	"time"
)

// watchdog calls abort when no read made progress for the stall period:
// a connection that stays open but sends nothing would otherwise hang a
// download with no overall timeout.
type watchdog struct {
	r     io.Reader
	stall time.Duration
	mu    sync.Mutex
	t     *time.Timer
}

func newWatchdog(r io.Reader, stall time.Duration, abort func()) *watchdog {
	return &watchdog{r: r, stall: stall, t: time.AfterFunc(stall, abort)}
}

func (w *watchdog) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if n > 0 {
		w.mu.Lock()
		w.t.Reset(w.stall)
		w.mu.Unlock()
	}
	return n, err
}

func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Stop()
}
