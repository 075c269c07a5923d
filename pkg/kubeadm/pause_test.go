package kubeadm

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"k8s.io/kubernetes/cmd/kubeadm/app/constants"
)

// releaseOf is a channel newer than the pause table knows whose Kubernetes
// version is version.
func releaseOf(t *testing.T, version string) *eksd.Release {
	t.Helper()
	r := eksd.Default()
	r.Spec.Channel = "1-99"
	for i := range r.Status.Components {
		if c := &r.Status.Components[i]; c.Name == eksd.KubernetesComponent {
			c.GitTag = version
		}
	}
	if _, err := r.KubeadmPauseTag(); !errors.Is(err, eksd.ErrPauseTagUnknown) {
		t.Fatalf("the table knows channel 1-99: %v", err)
	}
	return r
}

// TestLearnPauseTagAsksTheReleasesKubeadm: the real kubeadm of the
// release's version is asked and its compiled-in pause tag recorded; a
// kubeadm of another version, a missing one, or a host under --root is
// not asked, and the tag stays unknown.
func TestLearnPauseTagAsksTheReleasesKubeadm(t *testing.T) {
	bin := kubeadmBinary(t)
	out, err := exec.Command(bin, "version", "-o", "short").Output()
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(out))
	live := &host.Host{FS: host.NewFS("/"), Exec: host.ExecRunner{}}
	ctx := context.Background()

	r := releaseOf(t, version)
	if err := LearnPauseTag(ctx, live, r, filepath.Dir(bin)); err != nil {
		t.Fatal(err)
	}
	if tag, err := r.KubeadmPauseTag(); err != nil || tag != constants.PauseVersion {
		t.Fatalf("learned %q, %v; kubeadm %s compiles in %s", tag, err, version, constants.PauseVersion)
	}

	for name, tc := range map[string]struct {
		h   *host.Host
		dir string
		ver string
	}{
		"another version": {live, filepath.Dir(bin), "v1.99.0"},
		"no kubeadm":      {live, t.TempDir(), version},
		"under --root":    {&host.Host{FS: host.NewFS(t.TempDir()), Exec: host.ExecRunner{}, Offline: true}, filepath.Dir(bin), version},
	} {
		r := releaseOf(t, tc.ver)
		if err := LearnPauseTag(ctx, tc.h, r, tc.dir); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := r.KubeadmPauseTag(); !errors.Is(err, eksd.ErrPauseTagUnknown) {
			t.Errorf("%s: a pause tag was learned: %v", name, err)
		}
	}
}

func TestPauseTagIn(t *testing.T) {
	list := "registry.k8s.io/kube-proxy:v1.36.2\nmirror.local:5000/eks-distro/kubernetes/pause:3.10.2\nregistry.k8s.io/etcd:3.6.8-0\n"
	if tag, err := pauseTagIn(list); err != nil || tag != "3.10.2" {
		t.Errorf("pauseTagIn = %q, %v", tag, err)
	}
	if _, err := pauseTagIn("registry.k8s.io/etcd:3.6.8-0\n"); err == nil {
		t.Error("a list without pause gave a tag")
	}
}
