// Package imagesbench measures `eksd-kata images pull` against the
// tutorial's sequential ctr loop and against a fetch-everything-then-unpack
// limit, each on a fresh real containerd. Run by scripts/bench/images.sh.
package imagesbench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	transferimage "github.com/containerd/containerd/v2/core/transfer/image"
	transferregistry "github.com/containerd/containerd/v2/core/transfer/registry"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/containerd/ctrtest"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/images"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// layerMB approximates the compressed layers of the EKS-D 1-36 images
// (about 150 MB in all).
var layerMB = map[string][]int{
	"kube-apiserver":          {2, 6, 22},
	"kube-controller-manager": {2, 6, 20},
	"kube-scheduler":          {2, 6, 12},
	"kube-proxy":              {2, 10, 14},
	"pause":                   {1},
	"coredns":                 {2, 14},
	"etcd":                    {2, 6, 16},
}

func TestBenchImages(t *testing.T) {
	if os.Getenv("EKSD_KATA_BENCH") == "" {
		t.Skip("benchmark: run scripts/bench/images.sh (sets EKSD_KATA_BENCH=1)")
	}
	ctrtest.RequireRoot(t)
	// Each daemon with its own ctr, as the tutorial's reader would have it.
	var bin, ctr string
	switch d := os.Getenv("EKSD_KATA_BENCH_DAEMON"); d {
	case "1.6":
		bin = ctrtest.Containerd16(t)
		var err error
		if ctr, err = exec.LookPath("ctr"); err != nil {
			t.Skip("ctr not on PATH: run scripts/test-prereqs.sh")
		}
	case "2":
		bin = ctrtest.Containerd2(t)
		ctr = filepath.Join(filepath.Dir(must(filepath.EvalSymlinks(bin))), "ctr")
		if _, err := os.Stat(ctr); err != nil {
			t.Skipf("ctr 2.x: %v (scripts/bench/images.sh builds it)", err)
		}
	default:
		t.Fatalf("EKSD_KATA_BENCH_DAEMON=%q: want 1.6 or 2", d)
	}
	runs, _ := strconv.Atoi(os.Getenv("EKSD_KATA_BENCH_RUNS"))
	runs = max(runs, 3)

	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	mirror := strings.TrimPrefix(srv.URL, "http://")
	cfg := config.Default()
	cfg.Spec.Images.Mirror = mirror
	rel := eksd.Default()
	pairs, err := eksd.Images(rel, eksd.ControlPlane, mirror)
	if err != nil {
		t.Fatal(err)
	}
	total := pushAll(t, pairs)
	t.Logf("%d images, %.1f MB of compressed layers, registry %s, containerd %s, %d CPUs", len(pairs), float64(total)/1e6, mirror, bin, runtime.NumCPU())

	var ours, loop, limit []sample
	for i := range runs {
		ours = append(ours, timed(t, bin, func(ctx context.Context, d *ctrtest.Daemon) error {
			c := *cfg
			c.Spec.Containerd.Socket = d.Socket
			h, err := host.New("/")
			if err != nil {
				return err
			}
			_, err = bootstrap.Run(ctx, h, []bootstrap.Step{&images.Step{Config: &c, Release: rel, Parallel: benchParallel()}}, bootstrap.Options{})
			return err
		}))
		loop = append(loop, timed(t, bin, func(ctx context.Context, d *ctrtest.Daemon) error {
			return ctrLoop(ctx, ctr, d.Socket, pairs)
		}))
		limit = append(limit, timed(t, bin, func(ctx context.Context, d *ctrtest.Daemon) error {
			return fetchThenUnpack(ctx, d.Socket, pairs, os.Getenv("EKSD_KATA_BENCH_DAEMON") == "2")
		}))
		t.Logf("run %d: ours %s, ctr loop %s, limit %s", i+1, ours[i], loop[i], limit[i])
	}
	o, l, m := median(walls(ours)), median(walls(loop)), median(walls(limit))
	// The CPU time of a side spread over every CPU is the least wall time
	// any schedule of that work can take here: loop/that is the best
	// ratio against the loop that this machine allows.
	floor := median(cpus(ours)) / time.Duration(runtime.NumCPU())
	fmt.Printf("RESULT containerd=%s images=%d MB=%.1f runs=%d cpus=%d ours=%s loop=%s limit=%s loop/ours=%.2fx ours/limit=%.2f "+
		"ours_cpu=%s loop_cpu=%s best_possible_loop/ours=%.2fx\n",
		os.Getenv("EKSD_KATA_BENCH_DAEMON"), len(pairs), float64(total)/1e6, runs, runtime.NumCPU(),
		o.Round(time.Millisecond), l.Round(time.Millisecond), m.Round(time.Millisecond),
		l.Seconds()/o.Seconds(), o.Seconds()/m.Seconds(),
		median(cpus(ours)).Round(time.Millisecond), median(cpus(loop)).Round(time.Millisecond), l.Seconds()/floor.Seconds())
}

// sample is one side of one run: wall time, and the CPU time spent by the
// daemon, this process (registry and eksd-kata's client) and any ctr.
type sample struct{ wall, cpu time.Duration }

func (s sample) String() string {
	return fmt.Sprintf("%s (cpu %s)", s.wall.Round(time.Millisecond), s.cpu.Round(time.Millisecond))
}

func cpus(ss []sample) []time.Duration {
	out := make([]time.Duration, len(ss))
	for i, s := range ss {
		out[i] = s.cpu
	}
	return out
}

func walls(ss []sample) []time.Duration {
	out := make([]time.Duration, len(ss))
	for i, s := range ss {
		out[i] = s.wall
	}
	return out
}

// cpuTime is the user+system time of pid (from /proc/PID/stat), and of this
// process with its reaped children.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command's closing parenthesis: utime and stime are
	// the 12th and 13th.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ
	d := time.Duration(ut+st) * time.Second / ticks
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	for _, ru := range []syscall.Rusage{self, children} {
		d += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return d
}

// timed runs f against a fresh daemon (fresh content store) and checks
// that every image ended up unpacked.
func timed(t *testing.T, bin string, f func(context.Context, *ctrtest.Daemon) error) sample {
	t.Helper()
	d := ctrtest.Start(t, bin, []byte(benchConfig()))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Each side starts with nothing left to write back from the one
	// before it.
	syscall.Sync()
	cpu0 := cpuTime(t, d.Pid())
	start := time.Now()
	if err := f(ctx, d); err != nil {
		t.Fatal(err)
	}
	took := sample{wall: time.Since(start), cpu: cpuTime(t, d.Pid()) - cpu0}
	c, err := containerd.New(d.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nctx := namespaces.WithNamespace(ctx, images.Namespace)
	imgs, err := c.ListImages(nctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range imgs {
		if ok, err := img.IsUnpacked(nctx, images.DefaultSnapshotter); !ok {
			t.Fatalf("%s not unpacked: %v", img.Name(), err)
		}
	}
	return took
}

// ctrLoop is the tutorial: pull then tag, one image after the other.
func ctrLoop(ctx context.Context, ctr, sock string, pairs []eksd.ImagePair) error {
	for _, p := range pairs {
		argvs := [][]string{{ctr, "--address", sock, "-n", images.Namespace, "images", "pull", "--plain-http", p.Source}}
		if p.NeedsRetag() {
			argvs = append(argvs, []string{ctr, "--address", sock, "-n", images.Namespace, "images", "tag", p.Source, p.Target})
		}
		for _, argv := range argvs {
			if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
				return fmt.Errorf("%v: %v: %s", argv, err, out)
			}
		}
	}
	return nil
}

// fetchThenUnpack is the limit: every blob fetched at once, then every
// image unpacked at once. The fetch takes the fastest path the daemon has:
// its own transfer service on containerd 2, else this process.
func fetchThenUnpack(ctx context.Context, sock string, pairs []eksd.ImagePair, daemonFetches bool) error {
	c, err := containerd.New(sock)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx = namespaces.WithNamespace(ctx, images.Namespace)
	res := images.Registries{}.Resolver()
	fetched := make([]containerd.Image, len(pairs))
	var g errgroup.Group
	for i, p := range pairs {
		g.Go(func() error {
			if daemonFetches {
				src, err := transferregistry.NewOCIRegistry(ctx, p.Source)
				if err != nil {
					return err
				}
				if err := c.Transfer(ctx, src, transferimage.NewStore(p.Source)); err != nil {
					return err
				}
				fetched[i], err = c.GetImage(ctx, p.Source)
				return err
			}
			img, err := c.Fetch(ctx, p.Source, containerd.WithResolver(res), containerd.WithMaxConcurrentDownloads(16))
			fetched[i] = containerd.NewImage(c, img)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, img := range fetched {
		g.Go(func() error { return img.Unpack(ctx, images.DefaultSnapshotter) })
	}
	return g.Wait()
}

func pushAll(t *testing.T, pairs []eksd.ImagePair) int64 {
	var total int64
	for _, p := range pairs {
		img := empty.Image
		for _, mb := range layerMB[p.Name] {
			l, err := random.Layer(int64(mb)<<20, types.DockerLayer)
			if err != nil {
				t.Fatal(err)
			}
			if img, err = mutate.AppendLayers(img, l); err != nil {
				t.Fatal(err)
			}
			size, _ := l.Size()
			total += size
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", runtime.GOARCH
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		ref, err := name.ParseReference(p.Source, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	return total
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// benchParallel is EKSD_KATA_BENCH_PARALLEL, or 0 for the step's default.
func benchParallel() int {
	n, _ := strconv.Atoi(os.Getenv("EKSD_KATA_BENCH_PARALLEL"))
	return n
}

// benchConfig is the daemons' config.toml: EKSD_KATA_BENCH_CONFIG, else
// containerd's defaults.
func benchConfig() string {
	if c := os.Getenv("EKSD_KATA_BENCH_CONFIG"); c != "" {
		return c
	}
	return "version = 2\n"
}
