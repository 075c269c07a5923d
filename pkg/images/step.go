package images

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

const (
	// Namespace is where the CRI plugin, and so the kubelet, finds images.
	Namespace = "k8s.io"
	// DefaultSnapshotter is the CRI plugin's default snapshotter.
	DefaultSnapshotter = "overlayfs"
	// DefaultParallel bounds concurrent pulls: unpacking and hashing, not
	// the network, limit a small node.
	DefaultParallel = 4
	// PinnedLabel keeps an image from containerd's CRI image GC and the
	// kubelet's: the CRI plugin of containerd 1.7+/2.x reports images with
	// it as pinned.
	PinnedLabel      = "io.cri-containerd.pinned"
	PinnedLabelValue = "pinned"
)

// Step is the bootstrap step "images": the release's images for the node's
// role pulled (or, with Archive, imported), unpacked and tagged as kubeadm
// expects, the pause image pinned.
type Step struct {
	Config  *config.NodeConfig
	Release *eksd.Release
	// Archive, when set, is an OCI or docker archive to import instead of
	// pulling (eksd-kata images import FILE).
	Archive string
	// Snapshotter to unpack for; DefaultSnapshotter when empty.
	Snapshotter string
	// Parallel bounds concurrent pulls; DefaultParallel when 0.
	Parallel int
	// Progress shows pulls advancing; nil shows nothing.
	Progress Reporter
	// ControlPlaneStored, when set, is reached once every image kubeadm
	// init or join runs is stored, unpacked and tagged: all but kube-proxy
	// and CoreDNS, which kubeadm deploys once the control plane is up, and
	// which are pulled after it.
	ControlPlaneStored *plan.Milestone
}

func (s *Step) Name() string { return "images" }

// Pairs are the images of the release for the node's role, with the mirror applied.
func (s *Step) Pairs() ([]eksd.ImagePair, error) {
	return eksd.Images(s.Release, eksd.Role(s.Config.Spec.Node.Role), s.Config.Spec.Images.Mirror)
}

// publicSources maps image names to the release's own references, which
// an archive made from the public registry carries.
func (s *Step) publicSources() map[string]string {
	m := map[string]string{}
	pairs, _ := eksd.Images(s.Release, eksd.Role(s.Config.Spec.Node.Role), "")
	for _, p := range pairs {
		m[p.Name] = p.Source
	}
	return m
}

func (s *Step) registries() Registries {
	return Registries{Insecure: s.Config.Spec.Images.InsecureRegistries}
}

func (s *Step) snapshotter() string {
	if s.Snapshotter != "" {
		return s.Snapshotter
	}
	return DefaultSnapshotter
}

func (s *Step) parallel() int {
	if s.Parallel > 0 {
		return s.Parallel
	}
	return DefaultParallel
}

// Plan compares what containerd holds with the release's images; it only reads.
func (s *Step) Plan(ctx context.Context, h *host.Host) (*plan.Plan, error) {
	pairs, err := s.Pairs()
	if err != nil {
		return nil, badinput.Wrap(err)
	}
	var arc *archive
	if s.Archive != "" {
		if arc, err = readArchive(s.Archive); err != nil {
			return nil, badinput.Wrap(err)
		}
	}
	p := &plan.Plan{}
	states := make([]state, len(pairs))
	daemon := "" // containerd's version, when it answers
	c, err := h.Containerd(ctx, s.Config.Spec.Containerd.Socket)
	switch {
	case errors.Is(err, host.ErrNotLive):
		p.Notef("images: no containerd to ask under --root: nothing pulled or tagged")
		if arc != nil {
			if err := arc.check(pairs, s.publicSources()); err != nil {
				return nil, badinput.Wrap(err)
			}
		}
		return p, nil
	case err != nil:
		// A fresh host: the containerd step starts the daemon before this
		// step is planned again and applied.
		p.Notef("containerd does not answer yet (%v): planned as if it held no image", err)
	default:
		defer c.Close()
		nctx := namespaces.WithNamespace(ctx, Namespace)
		if v, err := c.Version(nctx); err == nil {
			daemon = v.Version
		}
		for i, pair := range pairs {
			if states[i], err = inspect(nctx, c, pair, s.snapshotter()); err != nil {
				return nil, err
			}
		}
	}
	if arc != nil {
		return s.planImport(p, arc, pairs, states)
	}
	return s.planPull(p, pairs, states, daemon), nil
}

func (s *Step) planPull(p *plan.Plan, pairs []eksd.ImagePair, states []state, daemon string) *plan.Plan {
	transfer := hasTransferService(daemon)
	first, firstStates, late, lateStates := s.split(pairs, states)
	n := s.planBatch(p, first, firstStates, transfer)
	p.Reach(s.ControlPlaneStored)
	if m := s.planBatch(p, late, lateStates, transfer); m > 0 {
		p.Notef("%s pulled after the others: they run only once the control plane is up", names(late))
		n += m
	}
	if n > 0 {
		how := "fetched through eksd-kata into containerd"
		if transfer {
			how = "fetched by containerd " + daemon + " itself (transfer service)"
		}
		p.Notef("%d pull(s), %d at a time, each %s and unpacked for %s", n, min(n, s.parallel()), how, s.snapshotter())
	}
	return p
}

// split parts the pairs into those kubeadm runs (ControlPlaneStored) and
// those that may come after: kube-proxy and CoreDNS, unless a tag must
// be made for them. Without the milestone all come first.
func (s *Step) split(pairs []eksd.ImagePair, states []state) (first []eksd.ImagePair, firstStates []state, late []eksd.ImagePair, lateStates []state) {
	for i, pair := range pairs {
		if s.ControlPlaneStored != nil && (pair.Name == eksd.KubeProxy || pair.Name == eksd.CoreDNS) && !pair.NeedsRetag() {
			late, lateStates = append(late, pair), append(lateStates, states[i])
		} else {
			first, firstStates = append(first, pair), append(firstStates, states[i])
		}
	}
	return first, firstStates, late, lateStates
}

// planBatch plans the pulls (one batch), unpacks and tags of pairs, and
// returns how many pulls.
func (s *Step) planBatch(p *plan.Plan, pairs []eksd.ImagePair, states []state, transfer bool) int {
	b := &batch{step: s, transfer: transfer}
	for i, pair := range pairs {
		switch {
		case !states[i].sourceRight:
			b.pairs = append(b.pairs, pair)
			p.Add(&Pull{Pair: pair, batch: b})
		case !states[i].unpacked:
			p.Add(&Unpack{Ref: pair.Source, Snapshotter: s.snapshotter(), socket: s.socket()})
		}
	}
	s.planTags(p, pairs, states)
	b.takeTags(p)
	return len(b.pairs)
}

func (s *Step) planImport(p *plan.Plan, arc *archive, pairs []eksd.ImagePair, states []state) (*plan.Plan, error) {
	public := s.publicSources()
	if err := arc.check(pairs, public); err != nil {
		return nil, badinput.Wrap(err)
	}
	imp := &Import{Path: s.Archive, step: s, names: map[string]string{}}
	for i, pair := range pairs {
		if states[i].sourceRight && states[i].unpacked {
			continue
		}
		name, ok := arc.find(pair, public[pair.Name])
		if !ok {
			p.Notef("%s is not in %s and not in containerd: pull it or import another archive", pair.Source, filepath.Base(s.Archive))
			continue
		}
		imp.names[name] = pair.Source
		imp.pairs = append(imp.pairs, pair)
	}
	if len(imp.pairs) > 0 {
		p.Add(imp)
	}
	s.planTags(p, pairs, states)
	return p, nil
}

// planTags adds a tag for every pair whose target is missing, stale or,
// for pause, not pinned.
func (s *Step) planTags(p *plan.Plan, pairs []eksd.ImagePair, states []state) {
	for i, pair := range pairs {
		if pair.TargetUnknown() {
			p.Notef("%s is not tagged for kubeadm yet: it takes %s", pair.Source, pair.TargetFrom)
			continue
		}
		pin := pair.Name == eksd.Pause
		if !pair.NeedsRetag() && !pin {
			continue
		}
		if states[i].sourceRight && states[i].targetRight && (!pin || states[i].pinned) {
			continue
		}
		p.Add(&Tag{Source: pair.Source, Target: pair.Target, Pin: pin, socket: s.socket()})
	}
}

func (s *Step) socket() string { return s.Config.Spec.Containerd.Socket }

// client connects to containerd for an apply.
func client(ctx context.Context, h *host.Host, socket string) (*containerdClient, context.Context, error) {
	c, err := h.Containerd(ctx, socket)
	if err != nil {
		return nil, ctx, err
	}
	return c, namespaces.WithNamespace(ctx, Namespace), nil
}
