package images

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// Import loads an archive through containerd's import (content written
// under a lease, image records created only once all of it is in), then
// names and unpacks the release's images found in it.
type Import struct {
	Path  string
	step  *Step
	pairs []eksd.ImagePair
	names map[string]string // name in the archive → source reference
}

func (i *Import) Summary() string {
	names := make([]string, len(i.pairs))
	for k, p := range i.pairs {
		names[k] = p.Name
	}
	sort.Strings(names)
	return fmt.Sprintf("import %s (%d image(s): %s), unpack for %s", i.Path, len(i.pairs), strings.Join(names, ", "), i.step.snapshotter())
}

func (i *Import) Apply(ctx context.Context, h *host.Host) error {
	c, ctx, err := client(ctx, h, i.step.socket())
	if err != nil {
		return err
	}
	defer c.Close()
	f, err := host.OpenInput(i.Path)
	if err != nil {
		return badinput.Wrap(err)
	}
	defer f.Close()
	if _, err := c.Import(ctx, f, containerd.WithImageRefTranslator(keepFullName)); err != nil {
		return badinput.Wrap(fmt.Errorf("%s: import: %w (nothing was imported)", filepath.Base(i.Path), err))
	}
	is := c.ImageService()
	for _, p := range i.pairs {
		name := archiveName(i.names, p.Source)
		img, err := is.Get(ctx, name)
		if err != nil {
			return fmt.Errorf("%s: %s after import: %w", i.Path, name, err)
		}
		if p.Digest != "" && img.Target.Digest.String() != p.Digest {
			return fmt.Errorf("%s: %s: %w: the archive holds %s, the release names %s", i.Path, name, errDigest, img.Target.Digest, p.Digest)
		}
		if name != p.Source {
			if err := tag(ctx, is, name, p.Source, false); err != nil {
				return err
			}
		}
		if err := containerd.NewImage(c, img).Unpack(ctx, i.step.snapshotter()); err != nil {
			return fmt.Errorf("unpack %s: %w", p.Source, err)
		}
	}
	return nil
}

func archiveName(names map[string]string, source string) string {
	for name, src := range names {
		if src == source {
			return name
		}
	}
	return source
}

// keepFullName drops a bare-tag ref.name, which would become an image
// called "v1.36.2"; full references pass.
func keepFullName(name string) string {
	if n, ok := normalize(name); ok {
		return n
	}
	return ""
}
