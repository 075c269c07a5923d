package images

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// tracker counts the bytes of one pull: the descriptors the pull walks,
// each either committed to the content store or being written (an ingest
// whose ref ends in its digest).
type tracker struct {
	cs    content.Store
	mu    sync.Mutex
	sizes map[digest.Digest]int64
	done  map[digest.Digest]bool
}

func newTracker(cs content.Store) *tracker {
	return &tracker{cs: cs, sizes: map[digest.Digest]int64{}, done: map[digest.Digest]bool{}}
}

// wrap sees every descriptor and its children (layers included, before the
// unpacker takes them over), so the total is known once the manifest is.
func (t *tracker) wrap(h images.Handler) images.Handler {
	return images.HandlerFunc(func(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		t.add(desc)
		children, err := h.Handle(ctx, desc)
		if err == nil {
			t.mu.Lock()
			t.done[desc.Digest] = true
			t.mu.Unlock()
		}
		for _, c := range children {
			t.add(c)
		}
		return children, err
	})
}

func (t *tracker) add(d ocispec.Descriptor) {
	t.mu.Lock()
	t.sizes[d.Digest] = d.Size
	t.mu.Unlock()
}

// bytes returns the bytes in the content store so far and the total known.
func (t *tracker) bytes(ctx context.Context) (done, total int64) {
	active := map[digest.Digest]int64{}
	if sts, err := t.cs.ListStatuses(ctx); err == nil {
		for _, st := range sts {
			// remotes.MakeRefKey: "layer-sha256:…", "manifest-sha256:…"
			if _, d, ok := strings.Cut(st.Ref, "-"); ok {
				active[digest.Digest(d)] = st.Offset
			}
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for d, size := range t.sizes {
		total += size
		switch off, writing := active[d]; {
		case t.done[d]:
			done += size
		case writing:
			done += off
		default:
			if _, err := t.cs.Info(ctx, d); err == nil {
				t.done[d] = true
				done += size
			}
		}
	}
	return done, total
}

// watch reports progress (started by the caller) every 200ms until the
// returned stop is called; stop returns the image's size.
func (t *tracker) watch(ctx context.Context, ref string, r Reporter) (stop func() int64) {
	end := func() {}
	if r != nil {
		end = every(ctx, 200*time.Millisecond, func() bool {
			done, total := t.bytes(ctx)
			r.Update(ref, done, total)
			return false
		})
	}
	return func() int64 {
		end()
		t.mu.Lock()
		defer t.mu.Unlock()
		var total int64
		for _, size := range t.sizes {
			total += size
		}
		return total
	}
}

// every calls f every d, from another goroutine, until f returns true, ctx
// ends or the returned stop is called; stop waits for a call under way.
func every(ctx context.Context, d time.Duration, f func() (done bool)) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(d)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				if f() {
					return
				}
			}
		}
	})
	return func() {
		close(quit)
		wg.Wait()
	}
}
