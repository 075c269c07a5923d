// Package cniplugins is the bootstrap step "cni": the CNI plugins of the
// EKS-D release (its cni-plugins component, one tarball per
// architecture), verified against the manifest's sha256 before anything is
// written, then installed one by one into /opt/cni/bin, where containerd
// runs them. Plugins already there that the release does not ship are kept.
package cniplugins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	"github.com/eksd-kata/eksd-kata/pkg/release"
	"github.com/eksd-kata/eksd-kata/pkg/release/fetch"
)

// StepName is the step's name, in the run order and for --only/--skip.
const StepName = "cni"

// Dir is containerd's default CNI bin dir.
const Dir = "/opt/cni/bin"

// BridgePlugins are the plugins the pod network eksd-kata writes for a
// single node runs: bridge with host-local addresses and portmap, and
// loopback, which containerd runs for every pod's lo.
var BridgePlugins = []string{"bridge", "host-local", "portmap", "loopback"}

// Step installs the release's CNI plugins.
type Step struct {
	Release *eksd.Release
	// Arch defaults to the architecture this program was built for.
	Arch string
	// ArtifactsDir holds the release files on the operator's machine
	// (offline installs): the tarball is read from DIR/<its file name>.
	ArtifactsDir string
	// Client and Policy shape the download; zero values mean fetch's defaults.
	Client *http.Client
	Policy fetch.Policy
	// Progress receives a line once the tarball is downloaded or read; nil: none.
	Progress io.Writer

	// read is the operator's tarball read while planning, by its sha256:
	// a run plans twice and reads it once.
	read map[string]*tarball
}

func (s *Step) Name() string { return StepName }

// Ships reports whether the step installs plugins from r: r lists them,
// or r is release data without checksums, whose published manifest,
// which a real run reads, lists them.
func Ships(r *eksd.Release, arch string) bool {
	if r == nil {
		return false
	}
	_, ok := r.Archive(eksd.CNIPluginsComponent, arch)
	return ok || !release.Verifiable(r, arch)
}

// Plan compares what is installed with what the release ships and plans
// one install of the tarball when something differs. From the network the
// tarball is fetched only when applied: what the plan knows then comes
// from the record of the last install, checked against the files.
func (s *Step) Plan(ctx context.Context, h *host.Host) (*plan.Plan, error) {
	if s.Release == nil {
		return nil, errors.New("cni: no release")
	}
	p := &plan.Plan{}
	arch := s.arch()
	a, ok := s.Release.Archive(eksd.CNIPluginsComponent, arch)
	if !ok {
		if !release.Verifiable(s.Release, arch) {
			// The release data built into eksd-kata comes from the release
			// notes, which name no CNI plugins.
			p.Notef("the CNI plugins of release %s are listed in the manifest EKS-D publishes, %s, which this run has not read: nothing planned for them "+
				"(a run without --dry-run, --insecure-skip-verify or --artifacts-dir reads it; offline, give it as spec.release.manifest)", s.Release, s.Release.ManifestURL())
		} else {
			p.Notef("release %s lists no CNI plugins for %s: nothing installed, %s left as it is", s.Release, arch, Dir)
		}
		return p, nil
	}
	if a.SHA256 == "" {
		return p, badinput.Wrap(plan.Block(
			fmt.Sprintf("the CNI plugins %s of release %s have no sha256 in its manifest: eksd-kata installs nothing unverified", a.Version, s.Release),
			"give a manifest that lists it, as the one EKS-D publishes does ("+s.Release.ManifestURL()+"), or --skip "+StepName))
	}
	dir, err := installDir(h, p)
	if err != nil {
		return p, err
	}
	rec := loadRecord(h)
	if rec.matches(h, a, dir) {
		return p, nil
	}
	c := &Install{Archive: a, Dir: dir, step: s}
	if s.ArtifactsDir == "" {
		p.Add(c)
		return p, nil
	}
	if c.tarball, err = s.readArtifact(ctx, a); err != nil {
		return p, badinput.Wrap(err)
	}
	c.Artifact = filepath.Join(s.ArtifactsDir, a.FileName)
	c.changed = c.tarball.differing(h, dir)
	if len(c.changed) > 0 {
		p.Add(c)
		return p, nil
	}
	// The files are the release's already: only the record is missing.
	w, err := plan.PlanFile(h, RecordFile, c.tarball.record(a, dir), 0o644)
	if err != nil {
		return p, err
	}
	p.Add(w)
	return p, nil
}

// readArtifact reads the operator's copy of the tarball, verified, and
// its plugins, so a wrong or unsafe tarball stops the run before anything
// changed.
func (s *Step) readArtifact(ctx context.Context, a eksd.Archive) (*tarball, error) {
	if t := s.read[a.SHA256]; t != nil {
		return t, nil
	}
	data, err := getter(s).Get(ctx, file(a))
	if err != nil {
		return nil, err
	}
	t, err := readTarball(data)
	if err != nil {
		return nil, fmt.Errorf("--artifacts-dir: %s: %w", a.FileName, err)
	}
	if s.read == nil {
		s.read = map[string]*tarball{}
	}
	s.read[a.SHA256] = t
	return t, nil
}

// installDir is where the plugins go: Dir, or where it leads when it is a
// symlink (Debian's containernetworking-plugins installs into
// /usr/lib/cni, and some hosts link /opt/cni/bin there). A link is
// followed inside the root only, and only to a directory of CNI plugins:
// one to /usr/sbin would have the bridge plugin replace iproute2's bridge.
func installDir(h *host.Host, p *plan.Plan) (string, error) {
	real, err := h.FS.Resolve(Dir)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(h.FS.Root(), real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s resolves to %s, outside %s", Dir, real, h.FS.Root())
	}
	dir := path.Join("/", filepath.ToSlash(rel))
	if fi, err := h.FS.Stat(dir); err == nil && !fi.IsDir() {
		return "", plan.Block(fmt.Sprintf("%s is not a directory", dir), "move it away, so that the CNI plugins can be installed there, or --skip "+StepName)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if dir == Dir {
		return dir, nil
	}
	if !slices.Contains(strings.Split(dir, "/"), "cni") {
		return "", plan.Block(fmt.Sprintf("%s leads to %s, which is not a directory of CNI plugins: installing them there could replace other programs", Dir, dir),
			fmt.Sprintf("make %s a directory of its own, or a link to one that holds only CNI plugins (such as /usr/lib/cni), or --skip %s", Dir, StepName))
	}
	p.Notef("%s leads to %s: the CNI plugins are installed there (a package that owns that directory may replace them; a re-run puts them back)", Dir, dir)
	return dir, nil
}

func (s *Step) arch() string {
	if s.Arch != "" {
		return s.Arch
	}
	return runtime.GOARCH
}
