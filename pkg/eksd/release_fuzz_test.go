package eksd

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
)

// FuzzReleaseManifest feeds arbitrary bytes to Parse: it never panics, and
// a release it accepts has what Validate promises (the required images and
// node binaries) and yields an image plan for every role, from its own
// registry or a mirror.
func FuzzReleaseManifest(f *testing.F) {
	manifests, err := fs.ReadDir(embeddedFS, "releases")
	if err != nil || len(manifests) == 0 {
		f.Fatalf("no embedded manifests: %v", err)
	}
	for _, m := range manifests {
		data, err := fs.ReadFile(embeddedFS, "releases/"+m.Name())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(trimmedManifest("1-36", "v1.36.2", "sha256: 0123abcd")))
	f.Add([]byte(trimmedManifest("1-99", "v1.99.0", "")))
	f.Add([]byte(trimmedManifest("1-36", "v1.35.0", "")))                // gitTag of another channel
	f.Add([]byte(strings.Replace(trimmedManifest("1-36", "v1.36.2", ""), // image without a registry
		"public.ecr.aws/eks-distro/etcd-io/etcd", "etcd", 1)))
	f.Add([]byte(`{"apiVersion":"distro.eks.amazonaws.com/v1alpha1","kind":"Release","spec":{"channel":"1-36","number":7}}`))
	f.Add([]byte("kind: Release\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("Validate of a parsed release: %v", err)
		}
		if !IsChannel(r.Channel()) || r.Number() < 1 {
			t.Fatalf("accepted release %s", r)
		}
		if m := gitTagRE.FindStringSubmatch(r.KubernetesVersion()); m == nil || r.Channel() != m[1]+"-"+m[2] {
			t.Fatalf("release %s has Kubernetes %q", r, r.KubernetesVersion())
		}
		for _, name := range RequiredImages {
			if img, ok := r.Image(name); !ok || img.Tag == "" || img.Repository == "" {
				t.Fatalf("release %s: image %s = %+v, %v", r, name, img, ok)
			}
		}
		for _, name := range RequiredBinaries {
			if b, err := r.Binary(name, "amd64"); err != nil || !strings.HasPrefix(b.URL, "https://") {
				t.Fatalf("release %s: binary %s = %+v, %v", r, name, b, err)
			}
		}
		for _, mirror := range []string{"", "127.0.0.1:5000/eks"} {
			for _, role := range []Role{ControlPlane, Worker} {
				pairs, err := Images(r, role, mirror)
				if err != nil {
					t.Fatalf("Images(%s, %s, %q): %v", r, role, mirror, err)
				}
				for _, p := range pairs {
					if p.Source == "" || p.TargetUnknown() && p.Name != Pause {
						t.Fatalf("Images(%s, %s, %q): %+v", r, role, mirror, p)
					}
				}
			}
			if _, err := SandboxImage(r, mirror); err != nil && !errors.Is(err, ErrPauseTagUnknown) {
				t.Fatalf("SandboxImage(%s, %q): %v", r, mirror, err)
			}
		}
	})
}

// trimmedManifest is a release with only what Parse requires, shaped like
// the published manifests (checksums, digests, extra fields).
func trimmedManifest(channel, gitTag, sum string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: %s\nkind: %s\nmetadata:\n  name: kubernetes-%s-eks-1\n  creationTimestamp: null\nspec:\n  channel: %q\n  number: 1\nstatus:\n  components:\n", APIVersion, Kind, channel, channel)
	fmt.Fprintf(&b, "  - name: kubernetes\n    gitTag: %s\n    assets:\n", gitTag)
	for _, bin := range RequiredBinaries {
		fmt.Fprintf(&b, "    - name: bin/linux/amd64/%s\n      type: Archive\n      archive:\n        uri: https://distro.eks.amazonaws.com/%s\n        %s\n", bin, bin, sum)
	}
	repos := map[string]string{CoreDNS: "coredns", Etcd: "etcd-io"}
	for _, img := range RequiredImages {
		repo := repos[img]
		if repo == "" {
			repo = "kubernetes"
		}
		fmt.Fprintf(&b, "    - name: %s-image\n      type: Image\n      image:\n        uri: public.ecr.aws/eks-distro/%s/%s:%s-eks-%s-1\n        imageDigest: sha256:%064d\n", img, repo, img, gitTag, channel, 0)
	}
	return b.String()
}
