package noderecord

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/release"
	"github.com/eksd-kata/eksd-kata/pkg/release/releasetest"
)

func offlineHost(t *testing.T) *host.Host {
	t.Helper()
	h, err := host.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func joinConfig() *config.NodeConfig {
	cfg := config.Default()
	cfg.Spec.Node.Name, cfg.Spec.Node.Role = "node-1", config.RoleWorker
	cfg.Spec.Join = config.Join{ControlPlaneEndpoint: "10.0.0.10:6443", Token: "abcdef.0123456789abcdef",
		DiscoveryTokenCACertHash: "sha256:" + strings.Repeat("a", 64), CertificateKey: strings.Repeat("b", 64)}
	cfg.Spec.Release.Manifest = "https://user:secret@mirror.example/kubernetes-1-36-eks-7.yaml?X-Amz-Signature=sig#x"
	return cfg
}

// TestWriteRead: what a run writes reads back the same, release manifest
// with its checksums included, and holds none of the join's secrets.
func TestWriteRead(t *testing.T) {
	h := offlineHost(t)
	if _, err := Read(h); !errors.Is(err, ErrNone) {
		t.Fatalf("a fresh host: %v, want ErrNone", err)
	}
	rel := releasetest.Release(t, "1-36", 7, "https://distro.invalid", releasetest.Binaries())
	cfg := joinConfig()
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	if err := Write(h, New("join", cfg, rel, "v1.2.3", now), rel); err != nil {
		t.Fatal(err)
	}
	got, err := Read(h)
	if err != nil {
		t.Fatal(err)
	}
	want := Release{Name: "kubernetes-1-36-eks-7", Channel: "1-36", Number: 7, KubernetesVersion: "v1.36.2",
		Manifest: "https://mirror.example/kubernetes-1-36-eks-7.yaml", Checksums: true}
	if got.Release != want || got.Verb != "join" || got.Role != config.RoleWorker || got.NodeName != "node-1" || !got.Time.Equal(now) || got.EksdKata != "v1.2.3" {
		t.Errorf("record %+v", got)
	}
	if j := got.Config.Spec.Join; j.Token != "" || j.CertificateKey != "" || j.ControlPlaneEndpoint != "10.0.0.10:6443" {
		t.Errorf("join settings kept: %+v", j)
	}
	if cfg.Spec.Join.Token == "" {
		t.Error("New changed the configuration it was given")
	}
	raw, _ := os.ReadFile(filepath.Join(h.Root(), Path))
	for _, secret := range []string{"0123456789abcdef", strings.Repeat("b", 64), "secret", "X-Amz"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("the record holds %q:\n%s", secret, raw)
		}
	}
	kept, err := ReadRelease(h)
	if err != nil {
		t.Fatal(err)
	}
	if !release.Verifiable(kept, runtime.GOARCH) || kept.String() != rel.String() {
		t.Errorf("the kept manifest lost its checksums: %s", kept)
	}
	b, _ := kept.Binary("kubelet", runtime.GOARCH)
	if w, _ := rel.Binary("kubelet", runtime.GOARCH); b != w {
		t.Errorf("kubelet %+v, want %+v", b, w)
	}

	// Both files are eksd-kata's own: reset removes them.
	backups, err := h.FS.Backups()
	if err != nil {
		t.Fatal(err)
	}
	var created []string
	for _, b := range backups {
		if b.Created && !b.Dir {
			created = append(created, b.Path)
		}
	}
	if !slices.Contains(created, Path) || !slices.Contains(created, ManifestPath) {
		t.Errorf("created files %q lack the record", created)
	}
}

// TestWriteSameKeepsFile: a run that would record the same keeps the
// file and its time; a different release is recorded, with its own time.
func TestWriteSameKeepsFile(t *testing.T) {
	h := offlineHost(t)
	rel := eksd.Default()
	cfg := config.Default()
	first := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	if err := Write(h, New("bootstrap", cfg, rel, "dev", first), rel); err != nil {
		t.Fatal(err)
	}
	before := hosttest.HashTreeTimes(t, h.Root())
	if err := Write(h, New("bootstrap", cfg, rel, "dev", first.Add(time.Hour)), rel); err != nil {
		t.Fatal(err)
	}
	if hosttest.HashTreeTimes(t, h.Root()) != before {
		t.Fatal("the same record was written again")
	}
	got, _ := Read(h)
	if !got.Time.Equal(first) || got.Release.Checksums || got.Release.Manifest != "" {
		t.Errorf("record %+v", got.Release)
	}

	older, err := eksd.Lookup("1-35", 0)
	if err != nil {
		t.Fatal(err)
	}
	later := first.Add(2 * time.Hour)
	if err := Write(h, New("bootstrap", cfg, older, "dev", later), older); err != nil {
		t.Fatal(err)
	}
	if got, _ = Read(h); got.Release.Channel != "1-35" || !got.Time.Equal(later) {
		t.Errorf("record %+v at %s", got.Release, got.Time)
	}
	if kept, err := ReadRelease(h); err != nil || kept.Channel() != "1-35" {
		t.Errorf("kept manifest %v, %v", kept, err)
	}
}

func TestReadRefusesOtherFiles(t *testing.T) {
	for name, content := range map[string]string{
		"not json":    "{",
		"other kind":  `{"apiVersion":"eksd-kata.io/v1alpha1","kind":"NodeConfig"}`,
		"no config":   `{"apiVersion":"eksd-kata.io/v1alpha1","kind":"NodeRecord"}`,
		"old version": `{"apiVersion":"eksd-kata.io/v0","kind":"NodeRecord","config":{}}`,
	} {
		t.Run(name, func(t *testing.T) {
			h := offlineHost(t)
			hosttest.WriteTree(t, h.Root(), map[string]string{Path: content})
			if _, err := Read(h); err == nil || errors.Is(err, ErrNone) || !strings.Contains(err.Error(), Path) {
				t.Errorf("Read: %v", err)
			}
		})
	}
}
