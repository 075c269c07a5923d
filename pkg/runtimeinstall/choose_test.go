package runtimeinstall

import (
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/artifacts"
	"github.com/eksd-kata/eksd-kata/pkg/containerd"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/runtimeinstall/runtimetest"
)

// TestChooseFromTheTable: without a manifest component, the newest
// carried containerd the release's Kubernetes supports, and the newest
// runc, both with the checksums carried.
func TestChooseFromTheTable(t *testing.T) {
	for _, ch := range []string{"1-30", "1-35", "1-36"} {
		rel, err := eksd.Lookup(ch, 0)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Choose(rel, Request{}, "amd64")
		if err != nil {
			t.Fatalf("%s: %v", ch, err)
		}
		want, _ := artifacts.Newest(artifacts.Containerd, "amd64", fits(eksd.ChannelMinor(ch)))
		if c.Containerd.File != want || c.Replace || c.Containerd.From != fromTable {
			t.Errorf("%s: containerd %+v, want %+v", ch, c.Containerd, want)
		}
		if containerd.SupportsKubernetes(c.Containerd.Version, eksd.ChannelMinor(ch)) != nil {
			t.Errorf("%s: containerd %s does not fit", ch, c.Containerd.Version)
		}
		runc, _ := artifacts.Newest(artifacts.Runc, "amd64", nil)
		if c.Runc.File != runc || !c.Runc.Known() {
			t.Errorf("%s: runc %+v, want %+v", ch, c.Runc, runc)
		}
	}
}

// TestNewestThatFits: the filter, on the table itself: for 1.36 no 1.7
// or 2.1; for 1.35 a 1.7 and a 2.1, from 1.7.28 and 2.1.5 on; for 1.34
// any.
func TestNewestThatFits(t *testing.T) {
	for _, tc := range []struct {
		minor            int
		line, upTo, want string
	}{
		{36, "2.1", "2.1.9", ""},
		{36, "1.7", "1.7.99", ""},
		{35, "2.1", "2.1.9", "2.1.9"},
		{35, "2.1", "2.1.4", ""},
		{35, "1.7", "1.7.27", ""},
		{35, "1.7", "1.7.28", "1.7.28"},
		{34, "2.1", "2.1.4", "2.1.4"},
	} {
		f, _ := artifacts.Newest(artifacts.Containerd, "amd64", func(v string) bool {
			return strings.HasPrefix(v, tc.line+".") && artifacts.Compare(v, tc.upTo) <= 0 && fits(tc.minor)(v)
		})
		if f.Version != tc.want {
			t.Errorf("1.%d, %s up to %s: %q, want %q", tc.minor, tc.line, tc.upTo, f.Version, tc.want)
		}
	}
}

// TestChooseFromTheManifest: a manifest that lists containerd and runc
// (a mirror's) is followed, and --install-containerd of its version
// takes its file.
func TestChooseFromTheManifest(t *testing.T) {
	rel, files := runtimetest.Release(t, "2.2.7", "1.3.4", "amd64", "https://mirror.example")
	c, err := Choose(rel, Request{}, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	tarball := runtimetest.ContainerdName("2.2.7", "amd64")
	if c.Containerd.Version != "2.2.7" || c.Containerd.URL != "https://mirror.example/"+tarball || c.Containerd.Name != tarball ||
		c.Containerd.SHA256 != runtimetest.SHA256(files[tarball]) || c.Containerd.From != fromManifest {
		t.Errorf("containerd %+v", c.Containerd)
	}
	if c.Runc.Version != "1.3.4" || c.Runc.URL != "https://mirror.example/runc.amd64" || c.Runc.SHA256 != runtimetest.SHA256(files["runc.amd64"]) {
		t.Errorf("runc %+v", c.Runc)
	}
	for _, v := range []string{"2.2.7", "2.2", "2.2.x"} {
		c, err := Choose(rel, Request{Containerd: v}, "amd64")
		if err != nil || c.Containerd.URL != "https://mirror.example/"+tarball || !c.Replace {
			t.Errorf("--install-containerd %s: %+v, %v", v, c.Containerd, err)
		}
	}
	// Another version: the project's release, with the checksum carried.
	c, err = Choose(rel, Request{Containerd: "2.3"}, "amd64")
	if err != nil || c.Containerd.Version != "2.3.4" || !strings.HasPrefix(c.Containerd.URL, "https://github.com/containerd/containerd/releases/download/v2.3.4/") {
		t.Errorf("--install-containerd 2.3: %+v, %v", c.Containerd, err)
	}
}

// TestChooseRefuses: every request that cannot be met names its flag.
func TestChooseRefuses(t *testing.T) {
	rel := eksd.Default()
	sum := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		req  Request
		want string
	}{
		{Request{SHA256: sum}, "--containerd-sha256 checks the tarball of --install-containerd, which is not given"},
		{Request{Containerd: "1.7.28"}, "--install-containerd 1.7.28: containerd 1.7.28 is too old for Kubernetes 1.36 (it needs 2.2.0+)"},
		{Request{Containerd: "9.9.9"}, "--install-containerd 9.9.9: eksd-kata carries no checksum for containerd 9.9.9"},
		{Request{Containerd: "2.2.7", SHA256: sum}, "--containerd-sha256: eksd-kata carries the checksum of containerd 2.2.7 itself"},
		{Request{Containerd: "2.2.7", SHA256: "abc"}, `--containerd-sha256 "abc": want 64 hex digits`},
		{Request{Containerd: "latest"}, "--install-containerd latest: containerd version \"latest\""},
		{Request{Containerd: "./containerd-static-2.2.7-linux-amd64.tar.gz"}, "refusing to install without a checksum; pass --containerd-sha256"},
		{Request{Containerd: "./containerd.tar.gz", SHA256: sum}, "want a containerd release tarball, named containerd-static-VERSION-linux-ARCH.tar.gz"},
		{Request{Containerd: "./containerd-static-2.2.7-linux-arm64.tar.gz", SHA256: sum}, "for arm64, this host is amd64"},
		{Request{Containerd: "http://example.com/containerd-static-2.2.7-linux-amd64.tar.gz", SHA256: sum}, "want an https URL"},
		{Request{Containerd: "./containerd-static-2.1.4-linux-amd64.tar.gz", SHA256: sum}, "too old for Kubernetes 1.36"},
	} {
		_, err := Choose(rel, tc.req, "amd64")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.req, err, tc.want)
		}
	}
	// A version carried for no checksum takes the operator's; a file, its path.
	c, err := Choose(rel, Request{Containerd: "2.9.1", SHA256: strings.ToUpper(sum)}, "amd64")
	if err != nil || c.Containerd.SHA256 != sum || !strings.HasSuffix(c.Containerd.URL, "/v2.9.1/containerd-static-2.9.1-linux-amd64.tar.gz") {
		t.Errorf("2.9.1 with its checksum: %+v, %v", c.Containerd, err)
	}
	c, err = Choose(rel, Request{Containerd: "/srv/containerd-2.2.7-linux-amd64.tar.gz", SHA256: sum}, "amd64")
	if err != nil || c.Containerd.Local != "/srv/containerd-2.2.7-linux-amd64.tar.gz" || c.Containerd.Version != "2.2.7" || c.Containerd.URL != "" {
		t.Errorf("a file: %+v, %v", c.Containerd, err)
	}
}
