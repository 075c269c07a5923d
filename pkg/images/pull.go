package images

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// Pull is one image to pull. The pulls of one plan share a batch: the
// first to apply runs them all, a bounded number at a time, so the
// runner's one-change-at-a-time order still pulls in parallel.
type Pull struct {
	Pair  eksd.ImagePair
	batch *batch
}

func (p *Pull) Summary() string {
	s := "pull " + p.Pair.Source
	if p.Pair.Digest != "" {
		s += " (digest " + p.Pair.Digest + ")"
	}
	return s
}

func (p *Pull) Apply(ctx context.Context, h *host.Host) error {
	return p.batch.result(ctx, h, p.Pair.Source)
}

// batch pulls its pairs together once.
type batch struct {
	step  *Step
	pairs []eksd.ImagePair
	// transfer: the daemon fetches (containerd 2.x), as the plan says.
	transfer bool
	once     sync.Once
	errs     map[string]error
	err      error // could not start at all
	// tags are the plan's tags of images this batch pulls, by source: the
	// pause tag then no longer waits for the largest pull to end.
	tags   map[string][]*Tag
	tagMu  sync.Mutex
	tagErr map[*Tag]error
}

// takeTags has the batch apply the tags of p whose source it pulls.
func (b *batch) takeTags(p *plan.Plan) {
	pulled := map[string]bool{}
	for _, pair := range b.pairs {
		pulled[pair.Source] = true
	}
	for _, c := range p.Changes {
		if t, ok := c.(*Tag); ok && pulled[t.Source] {
			if b.tags == nil {
				b.tags, b.tagErr = map[string][]*Tag{}, map[*Tag]error{}
			}
			b.tags[t.Source] = append(b.tags[t.Source], t)
			t.batch = b
		}
	}
}

// tagNow applies the tags of ref, just pulled.
func (b *batch) tagNow(ctx context.Context, is images.Store, ref string) {
	for _, t := range b.tags[ref] {
		err := tag(ctx, is, t.Source, t.Target, t.Pin)
		b.tagMu.Lock()
		b.tagErr[t] = err
		b.tagMu.Unlock()
	}
}

// tagged reports whether the batch applied t, and how that went.
func (b *batch) tagged(t *Tag) (done bool, err error) {
	b.tagMu.Lock()
	defer b.tagMu.Unlock()
	err, done = b.tagErr[t]
	return done, err
}

func (b *batch) result(ctx context.Context, h *host.Host, source string) error {
	b.once.Do(func() { b.errs, b.err = b.run(ctx, h) })
	if b.err != nil {
		return b.err
	}
	return b.errs[source]
}

func (b *batch) run(ctx context.Context, h *host.Host) (map[string]error, error) {
	if len(b.pairs) == 0 {
		return nil, nil
	}
	c, ctx, err := client(ctx, h, b.step.socket())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	want := map[string]string{}
	for _, p := range b.pairs {
		want[p.Source] = p.Digest
	}
	reg := b.step.registries()
	puller := &Puller{
		Client:      c,
		Resolver:    digestResolver{Resolver: reg.Resolver(), want: want},
		Registries:  reg,
		Snapshotter: b.step.snapshotter(),
		Progress:    b.step.Progress,
		Transfer:    b.transfer,
		Pulled:      func(ctx context.Context, ref string) { b.tagNow(ctx, c.ImageService(), ref) },
	}
	refs := make([]string, len(b.pairs))
	for i, p := range b.pairs {
		refs[i] = p.Source
	}
	// One lease for the batch: the pulls then share it instead of each
	// creating and deleting its own, and containerd collects garbage once.
	ctx, release, err := c.WithLease(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = release(context.WithoutCancel(ctx)) }()
	errs := puller.PullAll(ctx, refs, b.step.parallel())
	for ref, err := range errs {
		errs[ref] = reg.explain(ref, err)
	}
	return errs, nil
}

// names lists the image names of pairs, for messages.
func names(pairs []eksd.ImagePair) string {
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p.Name
	}
	return strings.Join(out, " and ")
}

// Puller pulls references into containerd and unpacks them.
type Puller struct {
	Client *containerd.Client
	// Resolver resolves (and may check) every reference before a pull.
	Resolver remotes.Resolver
	// Registries says which hosts the daemon may reach over plain HTTP
	// when it fetches (Transfer).
	Registries  Registries
	Snapshotter string
	Progress    Reporter
	// Transfer has the daemon fetch and unpack (containerd 2.x) instead
	// of this process fetching into it (containerd 1.6/1.7).
	Transfer bool
	// Pulled, when set, is called once ref is pulled and unpacked.
	Pulled func(ctx context.Context, ref string)
}

// PullAll pulls refs, at most parallel at a time, and returns the error of
// each ref that failed. ctx must carry the namespace.
func (p *Puller) PullAll(ctx context.Context, refs []string, parallel int) map[string]error {
	var (
		mu   sync.Mutex
		errs = map[string]error{}
		g    errgroup.Group
	)
	g.SetLimit(parallel)
	for _, ref := range refs {
		g.Go(func() error {
			if err := p.Pull(ctx, ref); err != nil {
				mu.Lock()
				errs[ref] = err
				mu.Unlock()
			} else if p.Pulled != nil {
				p.Pulled(ctx, ref)
			}
			return nil // one failed image does not stop the others
		})
	}
	_ = g.Wait()
	return errs
}

// Pull pulls one reference, unpacked, reporting progress while it runs.
func (p *Puller) Pull(ctx context.Context, ref string) error {
	start := time.Now()
	if p.Progress != nil {
		p.Progress.Start(ref)
	}
	// The digest the daemon is given (Transfer); the client's Pull is
	// handed the same answer.
	resolver := p.Resolver
	var desc ocispec.Descriptor
	if p.Transfer {
		name, d, err := p.Resolver.Resolve(ctx, ref)
		if err != nil {
			return p.done(ref, 0, start, err)
		}
		desc, resolver = d, resolved{Resolver: p.Resolver, ref: ref, name: name, desc: d}
	}
	if p.Transfer {
		size, err := p.transferPull(ctx, ref, desc, p.Progress)
		return p.done(ref, size, start, err)
	}
	tr := newTracker(p.Client.ContentStore())
	stop := tr.watch(ctx, ref, p.Progress)
	_, err := p.Client.Pull(ctx, ref,
		containerd.WithResolver(resolver),
		containerd.WithPullUnpack,
		containerd.WithPullSnapshotter(p.Snapshotter),
		containerd.WithImageHandlerWrapper(tr.wrap),
	)
	return p.done(ref, stop(), start, err)
}

// resolved answers the reference it was resolved for without asking the
// registry again; everything else goes to the wrapped resolver.
type resolved struct {
	remotes.Resolver
	ref, name string
	desc      ocispec.Descriptor
}

func (r resolved) Resolve(ctx context.Context, ref string) (string, ocispec.Descriptor, error) {
	if ref == r.ref {
		return r.name, r.desc, nil
	}
	return r.Resolver.Resolve(ctx, ref)
}

func (p *Puller) done(ref string, size int64, start time.Time, err error) error {
	if p.Progress != nil {
		p.Progress.Done(ref, size, time.Since(start), err)
	}
	if err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	return nil
}

// Unpack unpacks an image whose content is already in containerd.
type Unpack struct {
	Ref, Snapshotter string
	socket           string
}

func (u *Unpack) Summary() string { return fmt.Sprintf("unpack %s for %s", u.Ref, u.Snapshotter) }

func (u *Unpack) Apply(ctx context.Context, h *host.Host) error {
	c, ctx, err := client(ctx, h, u.socket)
	if err != nil {
		return err
	}
	defer c.Close()
	img, err := c.GetImage(ctx, u.Ref)
	if err != nil {
		return err
	}
	return img.Unpack(ctx, u.Snapshotter)
}
