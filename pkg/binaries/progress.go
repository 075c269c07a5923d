package binaries

import (
	"fmt"
	"io"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/schollz/progressbar/v3"
)

// plainEvery is how often a download on a non-terminal reports progress.
const plainEvery = 10 * time.Second

// meter counts the bytes of one download and shows them: a bar with bytes
// and rate on a terminal, a line now and then otherwise (logs, CI).
type meter struct {
	w     io.Writer
	name  string
	size  int64
	start time.Time
	n     int64
	last  time.Time
	bar   *progressbar.ProgressBar
}

func newMeter(w io.Writer, name string, size int64) *meter {
	m := &meter{w: w, name: name, size: size, start: time.Now()}
	m.last = m.start
	if w == nil {
		m.w = io.Discard
		return m
	}
	if terminal(w) {
		m.bar = progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(name),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		return m
	}
	fmt.Fprintf(m.w, "%s: downloading %s\n", name, sizeText(size))
	return m
}

func (m *meter) Write(p []byte) (int, error) {
	m.n += int64(len(p))
	if m.bar != nil {
		_ = m.bar.Add(len(p))
	} else if now := time.Now(); now.Sub(m.last) >= plainEvery {
		m.last = now
		fmt.Fprintf(m.w, "%s: %s of %s (%s)\n", m.name, mib(m.n), sizeText(m.size), m.rate())
	}
	return len(p), nil
}

// done prints the closing line.
func (m *meter) done(what string) {
	if m.bar != nil {
		_ = m.bar.Finish()
	}
	fmt.Fprintf(m.w, "%s: %s in %s (%s), %s\n", m.name, mib(m.n), time.Since(m.start).Round(10*time.Millisecond), m.rate(), what)
}

// abort leaves a failed bar on its own line; the error says the rest.
func (m *meter) abort() {
	if m.bar != nil {
		_ = m.bar.Exit()
		fmt.Fprintln(m.w)
	}
}

func (m *meter) rate() string {
	s := time.Since(m.start).Seconds()
	if s <= 0 {
		return "- MiB/s"
	}
	return fmt.Sprintf("%.1f MiB/s", float64(m.n)/s/(1<<20))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func sizeText(n int64) string {
	if n < 0 {
		return "unknown size"
	}
	return mib(n)
}

// terminal reports whether w is a terminal, where a redrawn bar makes
// sense; a variable so tests can draw the bar into a buffer.
var terminal = isTerminal

func isTerminal(w io.Writer) bool { return host.IsTerminal(w) }
