package eksd

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
)

// The embedded manifests are generated from the release notes tables
// (aws/eks-distro docs/contents/releases/, copied to ../shared/eksd-releases)
// by internal/gen. The notes carry no binary checksums, so neither do these
// manifests: binaries must be verified against the published manifest.
//
//go:generate go run ./internal/gen -in ../../../shared/eksd-releases -out releases

//go:embed releases/*.yaml
var embeddedFS embed.FS

// Embedded returns the releases built into the program, sorted by channel and
// number. Each call returns fresh copies that the caller may modify.
func Embedded() []*Release {
	idx := embeddedIndex()
	rs := make([]*Release, len(idx))
	for i, e := range idx {
		rs[i] = e.parse().clone()
	}
	return rs
}

// embedded is one manifest of embeddedFS, known by its file name
// (kubernetes-<channel>-eks-<number>.yaml) and parsed only when asked for:
// a command needs one release, and parsing all seven YAML files took a
// third of `eksd-kata check`'s own time.
type embedded struct {
	channel string
	number  int
	parse   func() *Release
}

var embeddedIndex = sync.OnceValue(func() []embedded {
	files, err := fs.Glob(embeddedFS, "releases/*.yaml")
	if err != nil {
		panic(err) // the pattern is constant
	}
	idx := make([]embedded, 0, len(files))
	for _, f := range files {
		var e embedded
		base := strings.TrimSuffix(path.Base(f), ".yaml")
		if _, err := fmt.Sscanf(strings.Replace(base, "-eks-", " ", 1), "kubernetes-%s %d", &e.channel, &e.number); err != nil {
			panic(fmt.Sprintf("embedded %s: the name is not kubernetes-<channel>-eks-<number>.yaml", f))
		}
		e.parse = sync.OnceValue(func() *Release {
			data, err := embeddedFS.ReadFile(f)
			if err != nil {
				panic(err)
			}
			r, err := Parse(data)
			if err != nil {
				// A broken embedded manifest is a build defect the tests catch.
				panic(fmt.Sprintf("embedded %s: %v", f, err))
			}
			if r.Channel() != e.channel || r.Number() != e.number {
				panic(fmt.Sprintf("embedded %s holds release %s", f, r))
			}
			return r
		})
		idx = append(idx, e)
	}
	slices.SortFunc(idx, func(a, b embedded) int { return compareReleases(a.channel, a.number, b.channel, b.number) })
	return idx
})

// clone deep-copies r.
func (r *Release) clone() *Release {
	c := *r
	c.Status.Components = slices.Clone(r.Status.Components)
	for i := range c.Status.Components {
		comp := &c.Status.Components[i]
		comp.Assets = slices.Clone(comp.Assets)
		for j := range comp.Assets {
			a := &comp.Assets[j]
			a.Arch = slices.Clone(a.Arch)
			if a.Image != nil {
				img := *a.Image
				a.Image = &img
			}
			if a.Archive != nil {
				ar := *a.Archive
				a.Archive = &ar
			}
		}
	}
	return &c
}

// Lookup returns the embedded release number of channel ("1-36"); number 0
// means the newest embedded release of that channel, and no channel the
// default release (the newest of all).
func Lookup(channel string, number int) (*Release, error) {
	if number < 0 {
		return nil, fmt.Errorf("EKS-D release number %d: want 1 or more, or 0 for the newest", number)
	}
	if channel == "" {
		if number != 0 {
			return nil, fmt.Errorf("EKS-D release number %d names no channel: give both, such as 1-36-7", number)
		}
		return Default(), nil
	}
	idx := embeddedIndex()
	var inChannel []embedded
	for _, e := range idx {
		if e.channel == channel {
			inChannel = append(inChannel, e)
		}
	}
	if len(inChannel) == 0 {
		chs := channels(idx)
		return nil, fmt.Errorf("EKS-D channel %s is not embedded: this eksd-kata knows %s to %s; give an older or newer release with --release-manifest FILE|URL (spec.release.manifest), e.g. %s",
			channel, chs[0], chs[len(chs)-1], ManifestURL(channel, 1))
	}
	if number == 0 {
		return inChannel[len(inChannel)-1].parse().clone(), nil
	}
	var numbers []string
	for _, e := range inChannel {
		if e.number == number {
			return e.parse().clone(), nil
		}
		numbers = append(numbers, fmt.Sprint(e.number))
	}
	return nil, fmt.Errorf("EKS-D release %s-%d is not embedded; embedded for channel %s: %s (or give its manifest %s as a file or URL)",
		channel, number, channel, strings.Join(numbers, ", "), ManifestURL(channel, number))
}

// Default is the newest embedded release of the newest embedded channel.
func Default() *Release {
	idx := embeddedIndex()
	return idx[len(idx)-1].parse().clone()
}

// channels lists the channels of idx, which is sorted, once each.
func channels(idx []embedded) []string {
	var out []string
	for _, e := range idx {
		if len(out) == 0 || out[len(out)-1] != e.channel {
			out = append(out, e.channel)
		}
	}
	return out
}
