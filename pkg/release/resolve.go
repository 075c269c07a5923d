package release

import (
	"context"
	"fmt"
	"net/http"
	"runtime"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
)

// Resolve returns the release cfg selects; every verb takes its release
// from here.
//
// With spec.release.manifest set, that file or URL is loaded (a URL is
// fetched even when allowNetwork is false: the operator asked for it) and
// its own release is the one: a channel or number given too must agree
// with it. Otherwise the embedded release of spec.release is used (the
// newest of its channel when it has no number, the newest of all when it
// has no channel), which needs no network but has no binary checksums;
// when allowNetwork is true (a real run) and the embedded release cannot
// verify the binaries of this machine, the manifest EKS-D publishes for
// the same release is fetched instead, and a failure to get it is an error.
func Resolve(ctx context.Context, cfg *config.NodeConfig, client *http.Client, allowNetwork bool) (*eksd.Release, error) {
	want := cfg.Spec.Release
	if want.Manifest != "" {
		r, err := Load(ctx, want.Manifest, client)
		if err != nil {
			return nil, err
		}
		if (want.Channel != "" && r.Channel() != want.Channel) || (want.Number != 0 && r.Number() != want.Number) {
			return nil, badinput.Wrap(fmt.Errorf("release manifest %s is EKS-D %s-%d, but --release (spec.release) says %s: give one of them, or two that agree",
				want.Manifest, r.Channel(), r.Number(), wantName(want)))
		}
		return r, nil
	}
	emb, err := eksd.Lookup(want.Channel, want.Number)
	if err != nil {
		return nil, badinput.Wrap(err)
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

// wantName is how the configuration names a release: "1-36" or "1-36-7".
func wantName(r config.Release) string {
	if r.Number == 0 {
		return r.Channel
	}
	return fmt.Sprintf("%s-%d", r.Channel, r.Number)
}
