package images

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/containerd/ctrtest"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	"github.com/opencontainers/image-spec/identity"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// daemons are the real containerds the tests run against.
var daemons = []struct {
	name   string
	bin    func(testing.TB) string
	config string
}{
	{"containerd-1.6", ctrtest.Containerd16, "version = 2\n"},
	{"containerd-2", ctrtest.Containerd2, "version = 3\n"},
}

// eachDaemon runs f against a fresh daemon of each version.
func eachDaemon(t *testing.T, f func(t *testing.T, d *ctrtest.Daemon, v2 bool)) {
	for _, dm := range daemons {
		t.Run(dm.name, func(t *testing.T) {
			ctrtest.RequireRoot(t)
			d := ctrtest.Start(t, dm.bin(t), []byte(dm.config))
			f(t, d, strings.HasSuffix(dm.name, "-2"))
		})
	}
}

func liveHost(t *testing.T) *host.Host {
	t.Helper()
	h, err := host.New("/")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func newStep(cfg *config.NodeConfig, d *ctrtest.Daemon, r *eksd.Release) *Step {
	cfg.Spec.Containerd.Socket = d.Socket
	if r == nil {
		r = eksd.Default()
	}
	return &Step{Config: cfg, Release: r}
}

func run(ctx context.Context, t *testing.T, s *Step) error {
	t.Helper()
	var out strings.Builder
	_, err := bootstrap.Run(ctx, liveHost(t), []bootstrap.Step{s}, bootstrap.Options{Out: &out})
	t.Logf("run:\n%s", out.String())
	return err
}

func dial(t *testing.T, d *ctrtest.Daemon) (*containerd.Client, context.Context) {
	t.Helper()
	c, err := containerd.New(d.Socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c, namespaces.WithNamespace(ctx, Namespace)
}

// controlPlaneStep is a client of d and a control-plane images step
// pulling from a fresh test registry into d, with its pairs.
func controlPlaneStep(t *testing.T, d *ctrtest.Daemon) (*containerd.Client, context.Context, *Step, []eksd.ImagePair) {
	t.Helper()
	c, ctx := dial(t, d)
	s := newStep(testConfig(config.RoleControlPlane, testRegistry(t)), d, nil)
	pairs, err := s.Pairs()
	if err != nil {
		t.Fatal(err)
	}
	return c, ctx, s, pairs
}

// checkImported proves every pair is in containerd as kubeadm needs it.
func checkImported(ctx context.Context, t *testing.T, c *containerd.Client, d *ctrtest.Daemon, pairs []eksd.ImagePair, want map[string]string, v2 bool) {
	t.Helper()
	is := c.ImageService()
	for _, p := range pairs {
		src, err := is.Get(ctx, p.Source)
		if err != nil {
			t.Errorf("source %s: %v", p.Source, err)
			continue
		}
		if w := want[p.Source]; src.Target.Digest.String() != w {
			t.Errorf("source %s digest = %s, pushed %s", p.Source, src.Target.Digest, w)
		}
		tgt, err := is.Get(ctx, p.Target)
		if err != nil {
			t.Errorf("target %s: %v", p.Target, err)
			continue
		}
		if tgt.Target.Digest != src.Target.Digest {
			t.Errorf("target %s digest %s != source digest %s", p.Target, tgt.Target.Digest, src.Target.Digest)
		}
		// Unpacked: the snapshot of the image's top layer chain exists.
		diffIDs, err := containerd.NewImage(c, src).RootFS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		chain := identity.ChainID(diffIDs).String()
		if _, err := c.SnapshotService(DefaultSnapshotter).Stat(ctx, chain); err != nil {
			t.Errorf("%s: snapshot %s: %v", p.Source, chain, err)
		}
		if p.Name == eksd.Pause {
			if tgt.Labels[PinnedLabel] != PinnedLabelValue {
				t.Errorf("pause target %s labels = %v, want %s=%s", p.Target, tgt.Labels, PinnedLabel, PinnedLabelValue)
			}
			checkCRIPinned(ctx, t, d, p.Target, v2)
		}
	}
}

// checkCRIPinned asks the CRI image service, as the kubelet's image GC
// does, whether pause is pinned. containerd 1.6 predates pinned images.
func checkCRIPinned(ctx context.Context, t *testing.T, d *ctrtest.Daemon, ref string, v2 bool) {
	t.Helper()
	cri := ctrtest.DialCRI(t, d)
	if err := cri.WaitImage(ctx, ref); err != nil {
		t.Fatal(err)
	}
	st, err := cri.Images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case v2 && !st.Image.Pinned:
		t.Errorf("CRI ImageStatus(%s).Pinned = false on containerd 2", ref)
	case !v2:
		t.Logf("containerd 1.6 CRI ImageStatus(%s).Pinned = %v (1.6 has no pinned images; 1.7+ does)", ref, st.Image.Pinned)
	}
}

func checkConverged(ctx context.Context, t *testing.T, s *Step) {
	t.Helper()
	p, err := s.Plan(ctx, liveHost(t))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() {
		for _, c := range p.Changes {
			t.Errorf("second plan not empty: %s", c.Summary())
		}
	}
}

func digests(t *testing.T, imgs map[string]v1Image) map[string]string {
	t.Helper()
	out := map[string]string{}
	for ref, img := range imgs {
		out[ref] = digestOf(t, img)
	}
	return out
}

func TestPullRetagsIntoRealContainerd(t *testing.T) {
	eachDaemon(t, func(t *testing.T, d *ctrtest.Daemon, v2 bool) {
		c, ctx, s, pairs := controlPlaneStep(t, d)
		if len(pairs) != 7 {
			t.Fatalf("%d pairs, want 7: %v", len(pairs), pairs)
		}
		imgs := testImages(t, pairs)
		push(t, imgs)
		var lines strings.Builder
		s.Progress = &Lines{W: &lines}
		// As bootstrap runs it: kube-proxy and CoreDNS after the milestone.
		s.ControlPlaneStored = plan.NewMilestone("control-plane images stored")
		p, err := s.Plan(ctx, liveHost(t))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(p.Changes); n != 8 { // 7 pulls + the pause tag
			t.Errorf("first plan has %d changes, want 8", n)
		}
		// containerd 2 fetches by itself; 1.6 has no transfer service.
		how := "fetched through eksd-kata into containerd"
		if v2 {
			how = "(transfer service)"
		}
		notes := strings.Join(p.Notes, "\n")
		if !strings.Contains(notes, how) {
			t.Errorf("plan notes %q, want the pull path %q", notes, how)
		}
		if !strings.Contains(notes, "kube-proxy and coredns pulled after the others") {
			t.Errorf("notes %q: want kube-proxy and coredns after the milestone", notes)
		}
		if err := run(ctx, t, s); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(lines.String(), "pulled  "); n != 7 {
			t.Errorf("progress reported %d pulls:\n%s", n, lines.String())
		}
		checkImported(ctx, t, c, d, pairs, digests(t, imgs), v2)
		checkConverged(ctx, t, s)
	})
}

// The pause tag is made as soon as pause is pulled, by the pulls, not
// after the last of them: its own change only reports it.
func TestPauseTaggedWithItsPull(t *testing.T) {
	eachDaemon(t, func(t *testing.T, d *ctrtest.Daemon, v2 bool) {
		c, ctx, s, pairs := controlPlaneStep(t, d)
		push(t, testImages(t, pairs))
		p, err := s.Plan(ctx, liveHost(t))
		if err != nil {
			t.Fatal(err)
		}
		var pull *Pull
		var tags []*Tag
		for _, ch := range p.Changes {
			switch ch := ch.(type) {
			case *Pull:
				if pull == nil {
					pull = ch
				}
			case *Tag:
				tags = append(tags, ch)
			}
		}
		if pull == nil || len(tags) != 1 {
			t.Fatalf("plan %q: want pulls and one tag", p.Summaries())
		}
		// The first pull applied runs the batch: every pull, and the tag.
		if err := pull.Apply(ctx, liveHost(t)); err != nil {
			t.Fatal(err)
		}
		img, err := c.ImageService().Get(ctx, tags[0].Target)
		if err != nil || img.Labels[PinnedLabel] != PinnedLabelValue {
			t.Fatalf("pause target after the pulls, before its tag change: %v, labels %v", err, img.Labels)
		}
		if err := tags[0].Apply(ctx, liveHost(t)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPullDigestMismatchLeavesNoTag(t *testing.T) {
	eachDaemon(t, func(t *testing.T, d *ctrtest.Daemon, _ bool) {
		c, ctx := dial(t, d)
		mirror := testRegistry(t)
		probe := newStep(testConfig(config.RoleWorker, mirror), d, nil)
		pairs, _ := probe.Pairs()
		imgs := testImages(t, pairs)
		push(t, imgs)
		// kube-proxy's digest is right, pause's is not.
		var proxy, pause eksd.ImagePair
		for _, p := range pairs {
			if p.Name == eksd.Pause {
				pause = p
			} else {
				proxy = p
			}
		}
		wrong := "sha256:" + strings.Repeat("ab", 32)
		r := releaseWithDigests(t, map[string]string{"kube-proxy": digestOf(t, imgs[proxy.Source]), "pause": wrong})
		s := newStep(testConfig(config.RoleWorker, mirror), d, r)
		err := run(ctx, t, s)
		if err == nil || !errors.Is(err, errDigest) || !strings.Contains(err.Error(), wrong) {
			t.Fatalf("run error = %v, want a digest mismatch naming %s", err, wrong)
		}
		is := c.ImageService()
		for _, ref := range []string{pause.Source, pause.Target} {
			if _, err := is.Get(ctx, ref); !errdefs.IsNotFound(err) {
				t.Errorf("%s after a digest mismatch: %v, want not found", ref, err)
			}
		}
		if img, err := is.Get(ctx, proxy.Source); err != nil || img.Target.Digest.String() != digestOf(t, imgs[proxy.Source]) {
			t.Errorf("kube-proxy with the right digest: %v, %v", img.Target.Digest, err)
		}
	})
}

func TestImportArchiveIntoRealContainerd(t *testing.T) {
	for _, kind := range []string{"oci", "docker"} {
		t.Run(kind, func(t *testing.T) {
			eachDaemon(t, func(t *testing.T, d *ctrtest.Daemon, v2 bool) {
				c, ctx := dial(t, d)
				// The archive carries the public names; the node uses a
				// mirror it cannot reach: import must still name the sources.
				s := newStep(testConfig(config.RoleControlPlane, "127.0.0.1:1"), d, nil)
				pairs, _ := s.Pairs()
				public, _ := eksd.Images(eksd.Default(), eksd.ControlPlane, "")
				imgs := testImages(t, public)
				file := ociArchive(t, imgs)
				if kind == "docker" {
					file = dockerArchive(t, imgs)
				}
				s.Archive = file
				if err := run(ctx, t, s); err != nil {
					t.Fatal(err)
				}
				want := map[string]string{}
				for i, p := range pairs {
					want[p.Source] = digestOf(t, imgs[public[i].Source])
				}
				if kind == "docker" {
					// docker save stores no manifest: containerd writes its
					// own, so compare with what the source got.
					for _, p := range pairs {
						img, err := c.ImageService().Get(ctx, p.Source)
						if err == nil {
							want[p.Source] = img.Target.Digest.String()
						}
					}
				}
				checkImported(ctx, t, c, d, pairs, want, v2)
				checkConverged(ctx, t, s)
			})
		})
	}
}

func TestImportBadArchiveIsBadInput(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(config.RoleWorker, "")
	garbage := dir + "/garbage.tar"
	writeFile(t, garbage, "this is not a tar file at all, but long enough to look like something.........................................................................................................................................................................................................................................................................................................................................................................................................................................................................................")
	public, _ := eksd.Images(eksd.Default(), eksd.Worker, "")
	imgs := testImages(t, public)
	other := map[string]v1Image{"registry.example/other/app:v1": randomImage(t, 1024, 1)}
	cases := map[string]struct {
		file, want string
	}{
		"garbage":      {garbage, "not a readable tar archive"},
		"other image":  {ociArchive(t, other), "holds none of the release's images"},
		"missing blob": {truncatedLayout(t, imgs), "is missing"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := &Step{Config: cfg, Release: eksd.Default(), Archive: tc.file}
			_, err := s.Plan(context.Background(), liveHost(t))
			var in *badinput.Error
			if !errors.As(err, &in) {
				t.Fatalf("Plan error = %v, want an input error", err)
			}
			if !strings.Contains(err.Error(), tc.file) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %s and %q", err, tc.file, tc.want)
			}
		})
	}
}
