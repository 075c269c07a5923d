package kubeadm

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// LearnPauseTag asks the release's own kubeadm, installed in dir (the
// default install dir when empty), which pause tag it expects, and records
// it in rel: kubeadm compiles the tag in, so a channel newer than this
// program needs no table row. It asks nothing and returns nil when the host
// is not live or the kubeadm there is missing or of another version: the
// table of known channels answers then (rel.KubeadmPauseTag).
func LearnPauseTag(ctx context.Context, h *host.Host, rel *eksd.Release, dir string) error {
	if !h.IsLive() {
		return nil
	}
	if dir == "" {
		dir = DefaultInstallDir
	}
	bin := path.Join(dir, "kubeadm")
	if ok, err := h.FS.Exists(bin); err != nil || !ok {
		return err
	}
	out, err := host.Output(ctx, h.Exec, bin, "version", "-o", "short")
	got, want := strings.TrimSpace(string(out)), rel.KubernetesVersion()
	if err != nil || (got != want && !strings.HasPrefix(got, want+"-")) {
		return nil // not this release's kubeadm (yet): the binaries step replaces it
	}
	// --kubernetes-version keeps kubeadm from asking the internet for one.
	out, err = host.Output(ctx, h.Exec, bin, "config", "images", "list", "--kubernetes-version", want)
	if err != nil {
		return fmt.Errorf("asking %s for its images: %w", bin, err)
	}
	tag, err := pauseTagIn(string(out))
	if err != nil {
		return fmt.Errorf("%s config images list: %w", bin, err)
	}
	rel.SetKubeadmPauseTag(tag)
	return nil
}

// pauseTagIn finds the pause image's tag in kubeadm config images list.
func pauseTagIn(list string) (string, error) {
	for _, ref := range strings.Fields(list) {
		name, tag, ok := strings.Cut(path.Base(ref), ":")
		if ok && name == eksd.Pause && tag != "" {
			return tag, nil
		}
	}
	return "", fmt.Errorf("no pause image in %q", list)
}
