package images

import (
	"context"
	"fmt"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// Tag records Target for the image Source names (same descriptor, so the
// same content and snapshots), pinned when Pin is set.
type Tag struct {
	Source, Target string
	Pin            bool
	socket         string
	// batch, when set, tags as soon as it has pulled Source, beside the
	// other pulls, and Apply only reports how that went.
	batch *batch
}

func (t *Tag) Summary() string {
	s := fmt.Sprintf("tag %s as %s", t.Source, t.Target)
	if t.Source == t.Target {
		s = "label " + t.Source
	}
	if t.Pin {
		s += " (pinned: " + PinnedLabel + "=" + PinnedLabelValue + ")"
	}
	return s
}

func (t *Tag) Apply(ctx context.Context, h *host.Host) error {
	if t.batch != nil {
		if done, err := t.batch.tagged(t); done {
			return err
		}
	}
	c, ctx, err := client(ctx, h, t.socket)
	if err != nil {
		return err
	}
	defer c.Close()
	return tag(ctx, c.ImageService(), t.Source, t.Target, t.Pin)
}

// tag creates or updates target; ctx carries the namespace.
func tag(ctx context.Context, is images.Store, source, target string, pin bool) error {
	src, err := is.Get(ctx, source)
	if err != nil {
		return fmt.Errorf("tag %s: source image: %w", target, err)
	}
	img := images.Image{Name: target, Target: src.Target}
	fields := []string{"target"}
	if pin {
		img.Labels = map[string]string{PinnedLabel: PinnedLabelValue}
		fields = append(fields, "labels."+PinnedLabel)
	}
	// Update keeps the target's other labels; Create when it is new.
	if _, err := is.Update(ctx, img, fields...); err == nil {
		return nil
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("tag %s as %s: %w", source, target, err)
	}
	if _, err := is.Create(ctx, img); err != nil {
		return fmt.Errorf("tag %s as %s: %w", source, target, err)
	}
	return nil
}
