package release

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/release/fetch"
	"github.com/eksd-kata/eksd-kata/pkg/release/releasetest"
)

func TestMain(m *testing.M) {
	Policy = fetch.Policy{Attempts: 3, Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Timeout: 10 * time.Second, Stall: 5 * time.Second}
	os.Exit(m.Run())
}

func goodManifest(t *testing.T) (*eksd.Release, []byte) {
	r := releasetest.Release(t, "1-36", 7, "https://mirror.example", releasetest.Binaries())
	return r, releasetest.Manifest(t, r)
}

func TestLoadFileAndURL(t *testing.T) {
	want, data := goodManifest(t)
	file := filepath.Join(t.TempDir(), "release.yaml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := releasetest.NewServer(t, map[string][]byte{"/r.yaml": data})
	for _, src := range []string{file, srv.URL + "/r.yaml"} {
		r, err := Load(context.Background(), src, srv.Client())
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		b, _ := r.Binary("kubelet", "arm64")
		wb, _ := want.Binary("kubelet", "arm64")
		if r.String() != "kubernetes-1-36-eks-7" || b != wb || !b.Verifiable() {
			t.Errorf("%s: got %s %+v", src, r, b)
		}
	}
}

func TestLoadURLRetriesServerErrors(t *testing.T) {
	_, data := goodManifest(t)
	srv := releasetest.NewServer(t, map[string][]byte{"/r.yaml": data})
	srv.Fail("/r.yaml", releasetest.Status500, releasetest.Truncate)
	if _, err := Load(context.Background(), srv.URL+"/r.yaml", srv.Client()); err != nil {
		t.Fatal(err)
	}
	if n := srv.Hits("/r.yaml"); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestLoadBadManifests(t *testing.T) {
	_, good := goodManifest(t)
	noKubeadm := strings.Replace(string(good), "name: bin/linux/amd64/kubeadm", "name: bin/linux/amd64/kubeadm-old", 1)
	if noKubeadm == string(good) {
		t.Fatal("fixture: no kubeadm asset to remove")
	}
	srv := releasetest.NewServer(t, map[string][]byte{"/r.yaml": good})
	srv.Fail("/gone.yaml", releasetest.Status404)
	cases := []struct{ name, content, source, want string }{
		{"not YAML", "{{{ not yaml", "", "not a valid YAML Release document"},
		{"empty", "\n", "", "empty document"},
		{"wrong kind", strings.Replace(string(good), "kind: Release", "kind: Bundle", 1), "", `kind is "Bundle", want "Release"`},
		{"no kubeadm", noKubeadm, "", `has no asset "bin/linux/amd64/kubeadm"`},
		{"missing file", "", "/nonexistent/release.yaml", "no such file or directory"},
		{"404", "", srv.URL + "/gone.yaml", "GET " + srv.URL + "/gone.yaml: 404 Not Found"},
		{"plain http", "", "http://example.com/r.yaml", "plain http is allowed only for loopback"},
		{"ftp", "", "ftp://example.com/r.yaml", `scheme "ftp" not supported`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := c.source
			if src == "" {
				src = filepath.Join(t.TempDir(), "r.yaml")
				if err := os.WriteFile(src, []byte(c.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Load(context.Background(), src, srv.Client())
			var in *badinput.Error
			if !errors.As(err, &in) {
				t.Fatalf("want an input error (exit 2), got %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q lacks %q", err, c.want)
			}
		})
	}
	if n := srv.Hits("/gone.yaml"); n != 1 {
		t.Errorf("404 retried: %d requests", n)
	}
}

func TestLoadServerDownIsNotBadInput(t *testing.T) {
	srv := releasetest.NewServer(t, map[string][]byte{"/r.yaml": []byte("x")})
	srv.Fail("/r.yaml", releasetest.Status500, releasetest.Status500, releasetest.Status500)
	_, err := Load(context.Background(), srv.URL+"/r.yaml", srv.Client())
	var in *badinput.Error
	if err == nil || errors.As(err, &in) || !strings.Contains(err.Error(), "500") {
		t.Fatalf("want a plain 500 error after retries, got %v", err)
	}
	if n := srv.Hits("/r.yaml"); n != Policy.Attempts {
		t.Errorf("%d requests, want %d", n, Policy.Attempts)
	}
}
