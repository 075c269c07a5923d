package cli

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/containerd/ctrtest"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/kata/katatest"
)

// TestFaultChild is not a test: killAt runs the test binary again with
// this alone, to die at fault point number EKSD_KATA_FAULT_AT of a run.
func TestFaultChild(t *testing.T) {
	at, err := strconv.Atoi(os.Getenv("EKSD_KATA_FAULT_AT"))
	if err != nil {
		return
	}
	var n atomic.Int64 // phases reach fault points from goroutines of their own
	fault := func(string) {
		if n.Add(1) == int64(at) {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
	args := strings.Split(os.Getenv("EKSD_KATA_FAULT_ARGS"), "\n")
	code := mainFault(fault, args)
	t.Fatalf("the run survived fault point %d (exit %d)", at, code)
}

// TestCrashAnywhereThenRerunConverges kills a bootstrap (host, containerd,
// kata from a tarball) at every fault point in turn: at each step boundary
// and before and after the rename of every file written (backups
// included), and before the swap of the Kata tree. Each time a re-run must
// finish and leave exactly the tree an uninterrupted run leaves, with no
// temporary file behind.
func TestCrashAnywhereThenRerunConverges(t *testing.T) {
	tarball := kataTarball(t)
	dir := t.TempDir()
	tarPath := filepath.Join(dir, "kata-static-3.21.0-amd64.tar.gz")
	if err := os.WriteFile(tarPath, tarball, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(tarball)
	args := func(root string) []string {
		return []string{"--root", root, "bootstrap", "--only", "host,containerd,kata",
			"--containerd-version", "2.4.2", "--install-kata", tarPath, "--kata-sha256", hex.EncodeToString(sum[:])}
	}
	ref := foundHost(t)
	var fc faultCounter
	code, out, stderr := runFault(t, fc.hit, args(ref)...)
	points := fc.count()
	if code != ExitOK {
		t.Fatalf("uninterrupted run: exit %d\n%s%s", code, out, stderr)
	}
	want := treeHash(t, ref)
	if points < 20 {
		t.Fatalf("only %d fault points: the hooks are not wired", points)
	}
	// The tree every crashed run must converge to is one real containerd runs with.
	loadsInContainerd2(t, filepath.Join(ref, "etc/containerd/config.toml"))

	for at := 1; at <= points; at++ {
		root := foundHost(t)
		killAt(t, at, args(root))
		code, out, stderr := run(t, "", args(root)...)
		if code != ExitOK {
			t.Fatalf("fault point %d: re-run exit %d\n%s%s", at, code, out, stderr)
		}
		if got := treeHash(t, root); got != want {
			t.Fatalf("fault point %d: the re-run left a different tree than an uninterrupted run", at)
		}
	}
	t.Logf("%d fault points, each converged", points)
}

// killAt runs eksd-kata with args in a child that is killed at its fault
// point number at.
func killAt(t *testing.T, at int, args []string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFaultChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "EKSD_KATA_FAULT_AT="+strconv.Itoa(at), "EKSD_KATA_FAULT_ARGS="+strings.Join(args, "\n"))
	outb, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("fault point %d: child not killed: %v\n%s", at, err, outb)
	}
}

// loadsInContainerd2 starts the containerd 2.x daemon with the config at
// path and asks its CRI plugin for the Kata runtimes.
func loadsInContainerd2(t *testing.T, path string) {
	t.Helper()
	ctrtest.RequireRoot(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := ctrtest.Start(t, ctrtest.Containerd2(t), data)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := ctrtest.DialCRI(t, d).Config(ctx)
	if err != nil {
		t.Fatalf("%v\n%s", err, d.LogTail(20))
	}
	for _, rt := range []string{"runc", "kata", "kata-qemu"} {
		if _, ok := cfg.Containerd.Runtimes[rt]; !ok {
			t.Fatalf("containerd 2.x does not list runtime %s from the converged config", rt)
		}
	}
}

// treeHash hashes the tree, and fails on any temporary file a write or an
// install left behind.
func treeHash(t *testing.T, root string) string {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n := d.Name(); strings.Contains(n, ".eksd-kata-") && (strings.HasSuffix(n, ".tmp") || strings.HasPrefix(n, ".kata")) {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hosttest.HashTree(t, root)
}

// kataTarball is a small kata-static-shaped .tar.gz for this machine's
// architecture, with extra entries after its files.
func kataTarball(t *testing.T, extra ...tar.Header) []byte {
	return katatest.Tarball(t, runtime.GOARCH, "gz", extra...)
}

// faultCounter counts the fault points of a run; phases reach them from
// goroutines of their own.
type faultCounter struct{ n atomic.Int64 }

func (c *faultCounter) hit(string) { c.n.Add(1) }

func (c *faultCounter) count() int { return int(c.n.Load()) }
