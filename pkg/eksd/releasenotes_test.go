package eksd_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/eksd/internal/releasenotes"
)

// notesDir is shared/eksd-releases beside the checkout; EKSD_RELEASE_NOTES
// overrides it.
func notesDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("EKSD_RELEASE_NOTES")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "eksd-releases")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("release notes %s not available (%v); set EKSD_RELEASE_NOTES to cross-check the embedded manifests", dir, err)
	}
	return dir
}

// Every embedded manifest must say exactly what its release note says, and
// every release note must be embedded.
func TestEmbeddedMatchReleaseNotes(t *testing.T) {
	notes, err := releasenotes.ParseDir(notesDir(t))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, n := range notes {
		r, err := eksd.Lookup(n.Channel, n.Number)
		if err != nil {
			t.Errorf("%s: %v", n.File, err)
			continue
		}
		seen[r.String()] = true

		// Field by field first, for readable failures.
		imageAssets := 0
		for _, c := range r.Status.Components {
			for _, a := range c.Assets {
				if a.Type == eksd.AssetTypeImage {
					imageAssets++
				}
			}
		}
		if imageAssets != len(n.Images) {
			t.Errorf("%s: %d image assets embedded, the note lists %d", r, imageAssets, len(n.Images))
		}
		for _, row := range n.Images {
			img, ok := r.Image(row.Name)
			if !ok || img.Ref != row.URI {
				t.Errorf("%s: image %s = %q, note says %q", r, row.Name, img.Ref, row.URI)
			}
		}
		if row, _ := n.Row(eksd.KubeAPIServer); r.KubernetesVersion() != row.Version {
			t.Errorf("%s: Kubernetes version %s, note says %s", r, r.KubernetesVersion(), row.Version)
		}

		// Then the whole manifest: regenerating must give the same release.
		want, err := n.Release()
		if err != nil {
			t.Error(err)
			continue
		}
		if !reflect.DeepEqual(r, want) {
			t.Errorf("%s differs from what %s generates; run go generate ./pkg/eksd", r, n.File)
		}
	}
	for _, r := range eksd.Embedded() {
		if !seen[r.String()] {
			t.Errorf("embedded %s has no release note in the notes directory", r)
		}
	}
}

func TestReleaseNotesParseErrors(t *testing.T) {
	for name, doc := range map[string]string{
		"no title": "| Name | Version | URI |\n|--|--|--|\n| pause | v1 | x.io/p:v1 |\n",
		"no table": "# EKS-D v1-36-eks-7 Release\n",
		"bad row":  "# EKS-D v1-36-eks-7 Release\n| Name | Version | URI |\n|--|--|--|\n| pause | v1 |\n",
	} {
		if _, err := releasenotes.Parse(name+".md", []byte(doc)); err == nil {
			t.Errorf("%s: Parse succeeded", name)
		}
	}
}
