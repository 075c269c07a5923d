package release

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/release/releasetest"
)

func cfgFor(channel string, number int, manifest string) *config.NodeConfig {
	c := &config.NodeConfig{}
	c.Spec.Release = config.Release{Channel: channel, Number: number, Manifest: manifest}
	return c
}

// noNetwork fails every request: planning must not need one.
type noNetwork struct{ t *testing.T }

func (n noNetwork) RoundTrip(r *http.Request) (*http.Response, error) {
	n.t.Errorf("unexpected request %s", r.URL)
	return nil, fmt.Errorf("no network in this test")
}

// redirect sends requests for distro.eks.amazonaws.com to a test server.
type redirect struct {
	srv *releasetest.Server
}

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != "distro.eks.amazonaws.com" {
		return nil, fmt.Errorf("unexpected host %s", req.URL.Host)
	}
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host = "https", strings.TrimPrefix(r.srv.URL, "https://")
	return r.srv.Client().Transport.RoundTrip(out)
}

func TestResolveEmbeddedNeedsNoNetwork(t *testing.T) {
	r, err := Resolve(context.Background(), cfgFor("1-36", 0, ""), &http.Client{Transport: noNetwork{t}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if r.String() != "kubernetes-1-36-eks-7" || Verifiable(r, "amd64") {
		t.Errorf("got %s, verifiable %v", r, Verifiable(r, "amd64"))
	}
	if _, err := Resolve(context.Background(), cfgFor("1-99", 0, ""), nil, false); !isInput(err) {
		t.Errorf("unknown channel: %v", err)
	}
}

func TestResolveFetchesPublishedChecksums(t *testing.T) {
	const path = "/kubernetes-1-36/kubernetes-1-36-eks-7.yaml"
	pub := releasetest.Release(t, "1-36", 7, "https://distro.eks.amazonaws.com/x", releasetest.Binaries())
	srv := releasetest.NewServer(t, map[string][]byte{path: releasetest.Manifest(t, pub)})
	srv.Fail(path, releasetest.Status500)
	client := &http.Client{Transport: redirect{srv}}

	r, err := Resolve(context.Background(), cfgFor("1-36", 7, ""), client, true)
	if err != nil {
		t.Fatal(err)
	}
	if !Verifiable(r, runtime.GOARCH) || srv.Hits(path) != 2 {
		t.Errorf("verifiable %v after %d requests", Verifiable(r, runtime.GOARCH), srv.Hits(path))
	}

	// The published manifest must be the release asked for.
	other := releasetest.Release(t, "1-36", 7, "https://distro.eks.amazonaws.com/x", releasetest.Binaries())
	other.Spec.Number = 8
	srv.Set(path, releasetest.Manifest(t, other))
	_, err = Resolve(context.Background(), cfgFor("1-36", 7, ""), client, true)
	if err == nil || !strings.Contains(err.Error(), "describes kubernetes-1-36-eks-8") {
		t.Errorf("mismatched published manifest: %v", err)
	}

	// Unreachable: the error says where checksums come from.
	srv.Fail(path, releasetest.Status404)
	_, err = Resolve(context.Background(), cfgFor("1-36", 7, ""), client, true)
	if err == nil || !strings.Contains(err.Error(), "binary checksums for kubernetes-1-36-eks-7 come from its published manifest") ||
		!strings.Contains(err.Error(), "spec.release.manifest") {
		t.Errorf("unreachable: %v", err)
	}
}

func TestResolveManifestChannelMismatch(t *testing.T) {
	_, data := goodManifest(t)
	file := filepath.Join(t.TempDir(), "r.yaml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Resolve(context.Background(), cfgFor("1-36", 7, file), nil, false)
	if err != nil || !Verifiable(r, "amd64") {
		t.Fatalf("matching manifest: %v", err)
	}
	// The manifest alone names the release.
	if r, err := Resolve(context.Background(), cfgFor("", 0, file), nil, false); err != nil || r.Channel() != "1-36" || r.Number() != 7 {
		t.Fatalf("manifest alone: %v, %v", r, err)
	}
	for _, tc := range []struct {
		channel string
		number  int
		says    string
	}{{"1-35", 0, "1-35"}, {"1-36", 8, "1-36-8"}} {
		_, err = Resolve(context.Background(), cfgFor(tc.channel, tc.number, file), nil, false)
		if !isInput(err) || !strings.Contains(err.Error(), "is EKS-D 1-36-7, but --release (spec.release) says "+tc.says) {
			t.Errorf("%s: %v", tc.says, err)
		}
	}
}

func isInput(err error) bool {
	var in *badinput.Error
	return errors.As(err, &in)
}
