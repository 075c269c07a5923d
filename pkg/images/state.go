package images

import (
	"context"
	"fmt"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
)

type containerdClient = containerd.Client

// state is what containerd holds of one image pair.
type state struct {
	sourceRight bool // source recorded, with the release's digest when it names one
	unpacked    bool // source unpacked for the snapshotter
	targetRight bool // target recorded with the source's descriptor
	pinned      bool // target carries the pinned label
}

// inspect reads the image records of pair; ctx carries the namespace.
func inspect(ctx context.Context, c *containerd.Client, pair eksd.ImagePair, snapshotter string) (state, error) {
	var st state
	is := c.ImageService()
	src, err := is.Get(ctx, pair.Source)
	if errdefs.IsNotFound(err) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("containerd image %s: %w", pair.Source, err)
	}
	st.sourceRight = pair.Digest == "" || src.Target.Digest.String() == pair.Digest
	if !st.sourceRight {
		return st, nil
	}
	if st.unpacked, err = containerd.NewImage(c, src).IsUnpacked(ctx, snapshotter); err != nil {
		// Content missing (garbage collected, half pulled): pull again.
		st.sourceRight, st.unpacked = false, false
		return st, nil
	}
	if pair.TargetUnknown() {
		return st, nil
	}
	tgt, err := is.Get(ctx, pair.Target)
	if errdefs.IsNotFound(err) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("containerd image %s: %w", pair.Target, err)
	}
	st.targetRight = tgt.Target.Digest == src.Target.Digest && tgt.Target.MediaType == src.Target.MediaType
	st.pinned = tgt.Labels[PinnedLabel] == PinnedLabelValue
	return st, nil
}
