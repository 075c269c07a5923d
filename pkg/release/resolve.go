package release

import (
	"context"
	"fmt"
	"net/http"
	"runtime"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// Resolve returns the release cfg selects.
//
// With spec.release.manifest set, that file or URL is loaded (a URL is
// fetched even when allowNetwork is false: the operator asked for it) and
// must belong to the configured channel. Otherwise the embedded release is
// used, which needs no network but has no binary checksums; when
// allowNetwork is true (a real run) and the embedded release cannot verify
// the binaries of this machine, the manifest EKS-D publishes for the same
// release is fetched instead, and a failure to get it is an error.
func Resolve(ctx context.Context, cfg *config.NodeConfig, client *http.Client, allowNetwork bool) (*eksd.Release, error) {
	want := cfg.Spec.Release
	if want.Manifest != "" {
		r, err := Load(ctx, want.Manifest, client)
		if err != nil {
			return nil, err
		}
		if r.Channel() != want.Channel {
			return nil, plan.BadInput(fmt.Errorf("release manifest %s is %s, channel %s, but the configuration says channel %s (spec.release.channel / --release)",
				want.Manifest, r, r.Channel(), want.Channel))
		}
		return r, nil
	}
	emb, err := eksd.Lookup(want.Channel, want.Number)
	if err != nil {
		return nil, plan.BadInput(err)
	}
	if !allowNetwork || Verifiable(emb, runtime.GOARCH) {
		return emb, nil
	}
	pub, err := Load(ctx, emb.ManifestURL(), client)
	if err != nil {
		return nil, fmt.Errorf("binary checksums for %s come from its published manifest, which could not be read: %w "+
			"(offline: save that manifest and give it as spec.release.manifest)", emb, err)
	}
	if pub.Channel() != emb.Channel() || pub.Number() != emb.Number() || pub.KubernetesVersion() != emb.KubernetesVersion() {
		return nil, fmt.Errorf("published manifest %s describes %s (Kubernetes %s), not %s (Kubernetes %s)",
			emb.ManifestURL(), pub, pub.KubernetesVersion(), emb, emb.KubernetesVersion())
	}
	return pub, nil
}

// Verifiable reports whether r has checksums for every node binary of arch.
func Verifiable(r *eksd.Release, arch string) bool {
	for _, name := range eksd.RequiredBinaries {
		b, err := r.Binary(name, arch)
		if err != nil || !b.Verifiable() {
			return false
		}
	}
	return true
}
