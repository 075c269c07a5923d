package images

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Reporter shows pulls advancing. Its methods may be called from several
// goroutines at once.
type Reporter interface {
	Start(ref string)
	Update(ref string, done, total int64)
	Done(ref string, size int64, took time.Duration, err error)
}

// Lines reports each pull in plain lines, for logs and pipes.
type Lines struct {
	W  io.Writer
	mu sync.Mutex
}

func (l *Lines) Start(ref string) { l.printf("pulling %s\n", ref) }

func (l *Lines) Update(string, int64, int64) {}

func (l *Lines) Done(ref string, size int64, took time.Duration, err error) {
	if err != nil {
		l.printf("failed  %s: %v\n", ref, err)
		return
	}
	l.printf("pulled  %s: %s in %s (%s/s)\n", ref, mb(size), took.Round(time.Millisecond), mb(rate(size, took)))
}

func (l *Lines) printf(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.W, format, a...)
}

// Bars draws one progress bar per image on a terminal, redrawing the block
// of bars in place.
type Bars struct {
	W     io.Writer
	mu    sync.Mutex
	order []string
	bars  map[string]*progressbar.ProgressBar
	drawn int // lines drawn last time, to move the cursor back over
}

func (b *Bars) Start(ref string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bars == nil {
		b.bars = map[string]*progressbar.ProgressBar{}
	}
	b.bars[ref] = progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(io.Discard), // drawn by redraw
		progressbar.OptionSetDescription(ref),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(0),
		progressbar.OptionUseANSICodes(true),
	)
	b.order = append(b.order, ref)
	b.redraw()
}

func (b *Bars) Update(ref string, done, total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bar := b.bars[ref]
	if bar == nil {
		return
	}
	if total > 0 {
		bar.ChangeMax64(total)
	}
	_ = bar.Set64(done)
	b.redraw()
}

func (b *Bars) Done(ref string, size int64, took time.Duration, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bar := b.bars[ref]
	if bar == nil {
		return
	}
	if err != nil {
		bar.Describe(ref + ": FAILED")
	} else {
		bar.ChangeMax64(size)
		_ = bar.Set64(size)
		bar.Describe(fmt.Sprintf("%s (%s/s)", ref, mb(rate(size, took))))
	}
	b.redraw()
}

// redraw is called with b.mu held.
func (b *Bars) redraw() {
	if b.drawn > 0 {
		fmt.Fprintf(b.W, "\x1b[%dA", b.drawn)
	}
	for _, ref := range b.order {
		fmt.Fprintf(b.W, "\r\x1b[2K%s\n", b.bars[ref].String())
	}
	b.drawn = len(b.order)
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

func rate(n int64, d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(float64(n) / d.Seconds())
}
