package binaries

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
)

// TestInspect: installed binaries match without being hashed; one
// replaced since is hashed and differs; one removed is missing; against
// a release without checksums each is only hashed.
func TestInspect(t *testing.T) {
	f := newFixture(t)
	if err := mustPlan(t, f.step(), f.h).Apply(context.Background(), f.h); err != nil {
		t.Fatal(err)
	}
	got, err := Inspect(f.h, f.rel, "amd64", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range got {
		if in.State != Match || !in.Cached || in.Got != "" {
			t.Errorf("%+v, want a cached match", in)
		}
	}

	// The same bytes written again: the cache cannot vouch, the hash does.
	bin := func(name string) string { return filepath.Join(f.h.Root(), "usr/local/bin", name) }
	if err := os.WriteFile(bin("kubeadm"), f.bins["kubeadm"], 0o755); err != nil {
		t.Fatal(err)
	}
	tampered := slices.Clone(f.bins["kubelet"])
	tampered[len(tampered)-2] ^= 1
	if err := os.WriteFile(bin("kubelet"), tampered, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(bin("kubectl")); err != nil {
		t.Fatal(err)
	}
	got, err = Inspect(f.h, f.rel, "amd64", "")
	if err != nil {
		t.Fatal(err)
	}
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	want := []Installed{
		{Name: "kubeadm", Path: "/usr/local/bin/kubeadm", State: Match, Algo: "sha256", Got: sum(f.bins["kubeadm"]), Want: sum(f.bins["kubeadm"])},
		{Name: "kubelet", Path: "/usr/local/bin/kubelet", State: Differs, Algo: "sha256", Got: sum(tampered), Want: sum(f.bins["kubelet"])},
		{Name: "kubectl", Path: "/usr/local/bin/kubectl", State: Missing},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}

	embedded, err := eksd.Lookup("1-36", 7)
	if err != nil {
		t.Fatal(err)
	}
	got, err = Inspect(f.h, embedded, "amd64", "")
	if err != nil {
		t.Fatal(err)
	}
	if got[0].State != Unverifiable || got[0].Got != sum(f.bins["kubeadm"]) || got[0].Want != "" || got[2].State != Missing {
		t.Errorf("against the embedded release: %+v", got)
	}
}
