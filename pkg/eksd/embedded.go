package eksd

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"sort"
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
	parsed := parseEmbedded()
	rs := make([]*Release, len(parsed))
	for i, r := range parsed {
		rs[i] = r.clone()
	}
	return rs
}

// parseEmbedded parses the manifests once: every command looks the release
// up, and YAML parsing would otherwise dominate a no-op run.
var parseEmbedded = sync.OnceValue(func() []*Release {
	files, err := fs.Glob(embeddedFS, "releases/*.yaml")
	if err != nil {
		panic(err) // the pattern is constant
	}
	rs := make([]*Release, 0, len(files))
	for _, f := range files {
		data, err := embeddedFS.ReadFile(f)
		if err != nil {
			panic(err)
		}
		r, err := Parse(data)
		if err != nil {
			// A broken embedded manifest is a build defect the tests catch.
			panic(fmt.Sprintf("embedded %s: %v", f, err))
		}
		rs = append(rs, r)
	}
	sortReleases(rs)
	return rs
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
// means the newest embedded release of that channel.
func Lookup(channel string, number int) (*Release, error) {
	if number < 0 {
		return nil, fmt.Errorf("EKS-D release number %d: want 1 or more, or 0 for the newest", number)
	}
	all := Embedded()
	var inChannel []*Release
	for _, r := range all {
		if r.Channel() == channel {
			inChannel = append(inChannel, r)
		}
	}
	if len(inChannel) == 0 {
		return nil, fmt.Errorf("EKS-D channel %q is not embedded; embedded channels: %s (give a newer release as a manifest file or URL)",
			channel, strings.Join(channels(all), ", "))
	}
	if number == 0 {
		return inChannel[len(inChannel)-1], nil
	}
	var numbers []string
	for _, r := range inChannel {
		if r.Number() == number {
			return r, nil
		}
		numbers = append(numbers, fmt.Sprint(r.Number()))
	}
	return nil, fmt.Errorf("EKS-D release %s-%d is not embedded; embedded for channel %s: %s (or give its manifest %s as a file or URL)",
		channel, number, channel, strings.Join(numbers, ", "), ManifestURL(channel, number))
}

// Default is the newest embedded release of the newest embedded channel.
func Default() *Release {
	all := Embedded()
	return all[len(all)-1]
}

func channels(rs []*Release) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rs {
		if !seen[r.Channel()] {
			seen[r.Channel()] = true
			out = append(out, r.Channel())
		}
	}
	sort.Slice(out, func(i, j int) bool { return channelLess(out[i], out[j]) })
	return out
}
