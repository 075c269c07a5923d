package binaries

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestDigestCacheTrustsOnlyUnchangedFiles: after an install, a re-plan
// trusts the recorded identity instead of hashing; a binary changed since
// (same size, other bytes) is hashed again and replaced.
func TestDigestCacheTrustsOnlyUnchangedFiles(t *testing.T) {
	f := newFixture(t)
	if err := (mustPlan(t, f.step(), f.h)).Apply(context.Background(), f.h); err != nil {
		t.Fatal(err)
	}
	b, err := f.rel.Binary("kubelet", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if !knownGood(f.h, "/usr/local/bin/kubelet", b) {
		t.Fatal("the installed kubelet is not in the digest cache")
	}
	real := filepath.Join(f.h.Root(), "usr/local/bin/kubelet")
	tampered := slices.Clone(f.bins["kubelet"])
	tampered[len(tampered)-2] ^= 1
	if err := os.WriteFile(real, tampered, 0o755); err != nil {
		t.Fatal(err)
	}
	if knownGood(f.h, "/usr/local/bin/kubelet", b) {
		t.Fatal("a changed file is still trusted")
	}
	p := mustPlan(t, f.step(), f.h)
	if got := p.Summaries(); len(got) != 1 || got[0] != "install /usr/local/bin/kubelet from "+f.srv.URL+"/bin/linux/amd64/kubelet (sha256 verified before install)" {
		t.Fatalf("plan after tampering: %v", got)
	}
}

// TestArtifactVerifiedOncePerUnchangedFile: an artifact checked once is not
// hashed again, but a change to it (even of equal size) is caught.
func TestArtifactVerifiedOncePerUnchangedFile(t *testing.T) {
	f := newFixture(t)
	b, err := f.rel.Binary("kubeadm", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "kubeadm")
	if err := os.WriteFile(p, f.bins["kubeadm"], 0o755); err != nil {
		t.Fatal(err)
	}
	if err := verifyArtifact(p, b); err != nil {
		t.Fatal(err)
	}
	if key, ok := artifactKeyOf(p, b); !ok {
		t.Fatal("no identity")
	} else if !verified(key) {
		t.Fatal("a verified artifact was not remembered")
	}
	bad := slices.Clone(f.bins["kubeadm"])
	bad[0] ^= 1
	if err := os.WriteFile(p, bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := verifyArtifact(p, b); err == nil {
		t.Fatal("a changed artifact passed on the strength of the earlier check")
	}
}
