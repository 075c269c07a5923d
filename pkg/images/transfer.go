package images

import (
	"context"
	"strings"
	"sync"

	"github.com/containerd/containerd/v2/core/transfer"
	transferimage "github.com/containerd/containerd/v2/core/transfer/image"
	"github.com/containerd/containerd/v2/core/transfer/registry"
	"github.com/containerd/platforms"
	ctrd "github.com/eksd-kata/eksd-kata/pkg/containerd"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// HostsDir is where containerd's CRI looks for per-registry hosts.toml
// (mirrors, CAs, the insecure registries the containerd step writes);
// pulls through the transfer service honour it too, so one registry setup
// serves both.
const HostsDir = ctrd.DefaultHostsDir

// hasTransferService reports whether the daemon of version v pulls through
// its transfer service as `ctr images pull` of that version does: 2.0 and
// later (1.7 has the service, experimental, and its ctr does not use it by
// default).
func hasTransferService(v string) bool {
	major, _, err := ctrd.ParseVersion(v)
	return err == nil && major >= 2
}

// transferPull has the daemon fetch and unpack ref itself: every blob goes
// from the registry to containerd's content store once, hashed and
// unpacked there as it arrives, instead of being streamed through this
// process over gRPC. The reference was resolved first (desc), through the
// digest-checking resolver, and the daemon is given that exact digest, so
// what it stores is what was checked.
func (p *Puller) transferPull(ctx context.Context, ref string, desc ocispec.Descriptor, r Reporter) (int64, error) {
	opts := []registry.Opt{registry.WithHostDir(HostsDir)}
	host, _, _ := strings.Cut(ref, "/")
	if p.Registries.PlainHTTP(host) && !ctrd.IsLoopbackHost(host) {
		// containerd already tries HTTPS then HTTP for loopback registries.
		opts = append(opts, registry.WithDefaultScheme("http"))
	}
	src, err := registry.NewOCIRegistry(ctx, pinned(ref, desc.Digest.String()), opts...)
	if err != nil {
		return 0, err
	}
	dst := transferimage.NewStore(ref, transferimage.WithUnpack(platforms.DefaultSpec(), p.Snapshotter))
	prog := &transferProgress{ref: ref, r: r, blobs: map[string][2]int64{}}
	err = p.Client.Transfer(ctx, src, dst, transfer.WithProgress(prog.update))
	return prog.total(), err
}

// pinned returns ref fetched by digest: name:tag@sha256:….
func pinned(ref, digest string) string {
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	return ref + "@" + digest
}

// transferProgress sums the transfer service's per-blob progress events
// into one figure per image.
type transferProgress struct {
	ref   string
	r     Reporter
	mu    sync.Mutex
	blobs map[string][2]int64 // name → done, total
}

func (t *transferProgress) update(p transfer.Progress) {
	if p.Total <= 0 {
		return // resolving, saved, unpacking: no bytes
	}
	t.mu.Lock()
	t.blobs[p.Name] = [2]int64{min(p.Progress, p.Total), p.Total}
	var done, total int64
	for _, b := range t.blobs {
		done += b[0]
		total += b[1]
	}
	t.mu.Unlock()
	if t.r != nil {
		t.r.Update(t.ref, done, total)
	}
}

func (t *transferProgress) total() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var total int64
	for _, b := range t.blobs {
		total += b[1]
	}
	return total
}
