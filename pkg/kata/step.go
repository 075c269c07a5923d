// Package kata is the bootstrap step "kata": it checks that the Kata
// Containers install the configuration asks for is there (shim,
// configuration per hypervisor, hypervisor binary), installs a kata-static
// release when asked (by version, or a tarball; checksum and architecture
// first), points Kata at the configured guest kernel, and puts the shims
// where containerd 1.6 looks for them.
package kata

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/artifacts"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// Where the kata-static release tarball installs.
const (
	Dir       = "/opt/kata"
	ConfigDir = Dir + "/share/defaults/kata-containers"
	// ShimLinkDir is on containerd's PATH: containerd 1.6 ignores
	// runtime_path (containerd#8207) and finds shims by name there.
	ShimLinkDir = "/usr/local/bin"
	// Marker records the sha256 of the tarball installed, so a re-run with
	// the same tarball plans nothing.
	Marker = Dir + "/.eksd-kata-installed"
)

// Step verifies, and on request installs, Kata Containers.
type Step struct {
	Config *config.NodeConfig
	// Install names the Kata to install into /opt/kata: a release version
	// (3.32.0, or 3.32 for the newest patch eksd-kata knows), whose
	// kata-static tarball for this architecture comes from the project's
	// release or Artifacts.Dir; or a tarball file or https URL. Empty
	// verifies what is there.
	Install string
	// SHA256 of the tarball, or ChecksumFile in sha256sum format naming it:
	// for a file, a URL, or a version eksd-kata carries no checksum for.
	SHA256, ChecksumFile string
	// Artifacts gets a release's tarball (its HTTP client, --artifacts-dir)
	// and downloads a URL's.
	Artifacts artifacts.Getter
	// ReleaseURL, when set, is where a release's tarball is downloaded
	// from instead of the project's release page: ReleaseURL/<file name>.
	ReleaseURL string
	// Arch is the architecture the tarball must be built for; empty: the
	// one this program runs on.
	Arch    string
	checked string // sha256 of the local tarball whose entries were checked
}

// WillInstall says what the run installs into /opt/kata before Kata is
// used, for the checks that would otherwise find it missing; "" when
// nothing is to be installed.
func (s *Step) WillInstall() string {
	src, err := parseSource(s.Install)
	switch {
	case s.Install == "" || err != nil:
		return ""
	case src.version != "":
		v := src.version
		if f, _ := artifacts.Lookup(artifacts.Kata, v, s.arch()); f.Version != "" {
			v = f.Version // a line names its newest patch
		}
		from := "its release"
		if s.Artifacts.Dir != "" {
			from = "its release file in " + s.Artifacts.Dir
		}
		return fmt.Sprintf("Kata %s will be installed from %s", v, from)
	}
	return "Kata will be installed from " + s.Install
}

func (s *Step) Name() string { return "kata" }

// Plan installs the tarball if asked and not already installed, links the
// shims, points Kata at the configured guest kernel, and says what is
// missing for the configured hypervisors.
func (s *Step) Plan(ctx context.Context, h *host.Host) (*plan.Plan, error) {
	p := &plan.Plan{}
	if !s.Config.Spec.Kata.Enabled {
		p.Notef("Kata is disabled in the configuration: nothing to check")
		return p, nil
	}
	installing := false
	if s.Install != "" {
		c, err := s.planInstall(ctx, h)
		if err != nil {
			return nil, err
		}
		if c != nil {
			p.Add(c)
			installing = true
		}
	}
	shims, err := s.shims(h, installing)
	if err != nil {
		return nil, err
	}
	for _, shim := range shims {
		target := path.Join(Dir, "bin", shim)
		link := path.Join(ShimLinkDir, shim)
		if cur, err := h.FS.Readlink(link); err == nil && cur == target {
			continue
		}
		p.Add(&plan.Symlink{Target: target, Link: link})
	}
	if err := s.planGuestKernel(h, p, installing); err != nil {
		return nil, err
	}
	if !installing {
		r, err := Ready(h, s.Config.Spec.Kata)
		if err != nil {
			return nil, err
		}
		if len(r.Missing) > 0 {
			// The run goes on: the node still runs runc pods.
			p.Unsolved = append(p.Unsolved, plan.Problem{
				What:   fmt.Sprintf("Kata is not completely installed (%s): eksd-kata applies no RuntimeClass for those hypervisors until it is", r.Why()),
				Remedy: "install a Kata release: " + FixCommand(),
			})
		}
	}
	return p, nil
}

var shimName = regexp.MustCompile(`^containerd-shim-kata(-[a-z0-9]+)?-v2$`)

// shims lists the Kata shims in /opt/kata/bin; while installing, the one
// every release has.
func (s *Step) shims(h *host.Host, installing bool) ([]string, error) {
	if installing {
		return []string{"containerd-shim-kata-v2"}, nil
	}
	entries, err := h.FS.ReadDir(path.Join(Dir, "bin"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if shimName.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

var pathLine = regexp.MustCompile(`(?m)^\s*path\s*=\s*"([^"]+)"`)

// HypervisorPath reads the hypervisor binary from a Kata configuration:
// the first `path = "..."` of its [hypervisor.<name>] section.
func HypervisorPath(conf []byte) string {
	s := string(conf)
	i := strings.Index(s, "[hypervisor.")
	if i < 0 {
		return ""
	}
	m := pathLine.FindStringSubmatch(s[i:])
	if m == nil {
		return ""
	}
	return m[1]
}
