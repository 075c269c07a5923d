// Package binaries is the bootstrap step "binaries": kubeadm, kubelet and
// kubectl of the EKS-D release, verified against the release manifest and
// installed atomically, and the kubelet's systemd unit with kubeadm's
// drop-in, enabled so that kubeadm can start the kubelet.
package binaries

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
	"sync"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	"github.com/eksd-kata/eksd-kata/pkg/release/fetch"
)

// DefaultInstallDir is where the binaries go unless InstallDir says otherwise.
const DefaultInstallDir = "/usr/local/bin"

// Arches are the architectures EKS-D builds node binaries for.
var Arches = []string{"amd64", "arm64"}

// Step installs the node binaries and the kubelet unit.
type Step struct {
	Release *eksd.Release
	// Mirror stands in for public.ecr.aws (spec.images.mirror); only used
	// to name the sandbox image in a note.
	Mirror string
	// Arch defaults to the architecture this program was built for.
	Arch string
	// InstallDir defaults to DefaultInstallDir (a host path, under --root).
	InstallDir string
	// ArtifactsDir holds the binaries on the operator's machine (offline
	// installs): DIR/bin/linux/<arch>/<name> as in the manifest, or DIR/<name>.
	ArtifactsDir string
	// InsecureSkipVerify installs binaries the release has no checksum for.
	InsecureSkipVerify bool
	// DryRun turns a missing checksum into a note: a real run resolves the
	// release with network and gets the published checksums.
	DryRun bool
	// Client and Policy shape downloads; zero values mean fetch's defaults.
	Client *http.Client
	Policy fetch.Policy
	// Progress receives download progress (a bar on a terminal); nil: none.
	Progress io.Writer
	// Names are the binaries the step installs, of eksd.RequiredBinaries,
	// in that order; empty: all of them. The kubelet's unit is planned
	// only with the kubelet.
	Names []string
	// Keep, when set, is a host directory where each binary the step
	// replaces is copied first, under its name: an upgrade keeps the old
	// release's for a rollback.
	Keep string
	// KubeadmInstalled and KubeletInstalled, when set, are reached once
	// that binary is in place: kubeadm first, then the kubelet, then
	// kubectl, so that what runs them need not wait for the rest.
	KubeadmInstalled, KubeletInstalled *plan.Milestone
}

// StepName is the binaries step's name.
const StepName = "binaries"

func (s *Step) Name() string { return StepName }

// Plan plans the kubelet's unit files and systemd actions, then compares
// each installed binary with the manifest's checksum and plans an install
// for every one that is missing or different.
func (s *Step) Plan(ctx context.Context, h *host.Host) (*plan.Plan, error) {
	if s.Release == nil {
		return nil, errors.New("binaries: no release")
	}
	arch := s.arch()
	if !slices.Contains(Arches, arch) {
		return nil, badinput.Wrap(fmt.Errorf("EKS-D has no node binaries for %s (only %v)", arch, Arches))
	}
	dir := s.installDir()
	if !path.IsAbs(dir) {
		return nil, badinput.Wrap(fmt.Errorf("install directory %q: not an absolute path", dir))
	}
	if _, err := s.artifactsDir(); err != nil {
		return nil, badinput.Wrap(err)
	}
	names, err := s.names()
	if err != nil {
		return nil, err
	}
	s.verifyArtifacts(h, arch, names)
	p := &plan.Plan{}
	// The unit files and the enable first: they need no binary.
	if slices.Contains(names, "kubelet") {
		if err := s.planKubelet(ctx, h, p, dir); err != nil {
			return nil, err
		}
	}
	reached := map[string]*plan.Milestone{"kubeadm": s.KubeadmInstalled, "kubelet": s.KubeletInstalled}
	for _, name := range names {
		c, err := s.planBinary(h, p, name, arch, dir)
		if err != nil {
			return nil, err
		}
		p.Add(c)
		p.Reach(reached[name])
	}
	return p, nil
}

func (s *Step) planBinary(h *host.Host, p *plan.Plan, name, arch, dir string) (*Install, error) {
	b, err := s.Release.Binary(name, arch)
	if err != nil {
		return nil, badinput.Wrap(err)
	}
	c := &Install{Binary: b, Path: path.Join(dir, name), release: s.Release, client: s.Client, policy: s.Policy, progress: s.Progress}
	if b.Verifiable() && knownGood(h, c.Path, b) {
		return nil, nil // installed by us, verified, unchanged since
	}
	if s.ArtifactsDir != "" {
		if c.Artifact, err = s.findArtifact(b); err != nil {
			return nil, err
		}
	}
	cur, err := h.FS.ReadInput(c.Path, maxBinary)
	present := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", c.Path, err)
	}

	if !b.Verifiable() {
		switch {
		case s.InsecureSkipVerify && present:
			p.Notef("%s is present and kept: the release has no checksum to check it against (%s)", c.Path, checksumSource(s.Release))
			return nil, nil
		case s.InsecureSkipVerify:
			c.Unverified = true
			return c, nil
		case s.DryRun:
			p.Notef("%s: release %s has no checksum here; %s", name, s.Release, checksumSource(s.Release))
			return c, nil
		}
		return nil, badinput.Wrap(fmt.Errorf("refusing to install %s of %s without a checksum: %s (or pass --insecure-skip-verify to install it unverified)",
			name, s.Release, checksumSource(s.Release)))
	}

	if c.Artifact != "" {
		// Check the operator's copy now, before any step changes the host.
		if err := verifyArtifact(c.Artifact, b); err != nil {
			return nil, err
		}
	}
	if !present {
		return c, nil
	}
	if verifyBytes(b, cur, c.Path) != nil {
		if s.Keep != "" {
			c.Keep = path.Join(s.Keep, name)
		}
		return c, nil
	}
	fi, err := h.FS.Stat(c.Path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm() != 0o755 {
		c.have = cur
		return c, nil
	}
	if _, ours := loadDigests(h)[c.Path]; ours {
		// eksd-kata installed a binary here, and a run cut short before
		// the digest cache said which: it says so now, which also clears
		// what a write of the cache cut short left.
		p.Add(&Remember{Path: c.Path, Binary: b})
	}
	return nil, nil
}

// Remember records in the digest cache that the binary at Path, found
// right by its checksum, is b.
type Remember struct {
	Path   string
	Binary eksd.Binary
}

func (c *Remember) Summary() string {
	return fmt.Sprintf("record %s, verified by its %s, in %s", c.Path, algo(c.Binary), DigestsFile)
}

func (c *Remember) Apply(_ context.Context, h *host.Host) error { return remember(h, c.Path, c.Binary) }

// verifyArtifacts checks the operator's copies of the binaries that are
// not installed yet at once, one per CPU, so that the plan below finds
// them verified. What fails here is checked again, and reported, in order
// by the plan.
func (s *Step) verifyArtifacts(h *host.Host, arch string, names []string) {
	if s.ArtifactsDir == "" {
		return
	}
	var wg sync.WaitGroup
	for _, name := range names {
		b, err := s.Release.Binary(name, arch)
		if err != nil || !b.Verifiable() || knownGood(h, path.Join(s.installDir(), name), b) {
			continue
		}
		if p, err := s.findArtifact(b); err == nil {
			wg.Go(func() { _ = verifyArtifact(p, b) })
		}
	}
	wg.Wait()
}

// verifyArtifact checks the operator's copy against the manifest, once per
// unchanged file in this process: a check under way for the same file is
// waited for, not done twice.
func verifyArtifact(p string, b eksd.Binary) error {
	key, ok := artifactKeyOf(p, b)
	if !ok {
		return hashArtifact(p, b)
	}
	v := &verification{done: make(chan struct{})}
	if prev, loaded := verifications.LoadOrStore(key, v); loaded {
		prev := prev.(*verification)
		<-prev.done
		return prev.err
	}
	v.err = hashArtifact(p, b)
	if v.err != nil {
		verifications.Delete(key) // a failure is checked again next time
	}
	close(v.done)
	return v.err
}

// hashArtifact checks the operator's copy against the manifest.
func hashArtifact(p string, b eksd.Binary) error {
	// Streamed: the whole of kubelet need not sit in memory to be checked.
	f, err := host.OpenInput(p)
	if err != nil {
		return badinput.Wrap(fmt.Errorf("--artifacts-dir: %w", err))
	}
	defer f.Close()
	h := newHasher(b)
	if _, err := io.Copy(h, f); err != nil {
		return badinput.Wrap(fmt.Errorf("--artifacts-dir: %s: %w", p, err))
	}
	if err := h.verify(p); err != nil {
		return badinput.Wrap(err)
	}
	return nil
}

// artifactsDir is ArtifactsDir made absolute: the artifacts are known by
// their paths.
func (s *Step) artifactsDir() (string, error) {
	if s.ArtifactsDir == "" || filepath.IsAbs(s.ArtifactsDir) {
		return s.ArtifactsDir, nil
	}
	abs, err := filepath.Abs(s.ArtifactsDir)
	if err != nil {
		return "", fmt.Errorf("--artifacts-dir %s: %w", s.ArtifactsDir, err)
	}
	return abs, nil
}

// findArtifact looks for b in ArtifactsDir as the manifest names it, then flat.
func (s *Step) findArtifact(b eksd.Binary) (string, error) {
	dir, err := s.artifactsDir()
	if err != nil {
		return "", badinput.Wrap(err)
	}
	candidates := []string{
		filepath.Join(dir, "bin", "linux", b.Arch, b.Name),
		filepath.Join(dir, b.Name),
	}
	for _, c := range candidates {
		if fi, err := operatorFS().Stat(c); err == nil && fi.Mode().IsRegular() {
			return c, nil
		}
	}
	return "", badinput.Wrap(fmt.Errorf("--artifacts-dir %s has no %s: looked for %s and %s", s.ArtifactsDir, b.Name, candidates[0], candidates[1]))
}

// checksumSource tells the operator where checksums come from.
func checksumSource(r *eksd.Release) string {
	return fmt.Sprintf("checksums come from the release manifest EKS-D publishes, %s, which a run with network reads by itself; offline, save it and give it as spec.release.manifest", r.ManifestURL())
}

// names are the binaries the step installs, in the release's order.
func (s *Step) names() ([]string, error) {
	for _, n := range s.Names {
		if !slices.Contains(eksd.RequiredBinaries, n) {
			return nil, fmt.Errorf("binaries: %q is not a node binary (%v)", n, eksd.RequiredBinaries)
		}
	}
	if len(s.Names) == 0 {
		return eksd.RequiredBinaries, nil
	}
	return slices.DeleteFunc(slices.Clone(eksd.RequiredBinaries), func(n string) bool { return !slices.Contains(s.Names, n) }), nil
}

func (s *Step) arch() string {
	if s.Arch != "" {
		return s.Arch
	}
	return runtime.GOARCH
}

func (s *Step) installDir() string {
	if s.InstallDir != "" {
		return s.InstallDir
	}
	return DefaultInstallDir
}

// operatorFS is the file system of the machine eksd-kata runs on, where
// --artifacts-dir lives even when the node is built under --root.
func operatorFS() *host.FS { return host.NewFS("/") }
