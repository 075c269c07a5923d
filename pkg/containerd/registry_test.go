package containerd

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/containerd/ctrtest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestRegistryHostsConfig: for insecure registries, the file gets
// registry.config_path (neither 1.x nor 2.x reads a hosts directory without
// it), an operator's config_path is kept and used, and a file that
// configures registries the deprecated way is left alone with a note.
func TestRegistryHostsConfig(t *testing.T) {
	insecure := func(version string) Options {
		o := testOptions(version)
		o.InsecureHosts = []string{"10.0.0.5:5000"}
		return o
	}
	r, err := Render(nil, "x", insecure("1.7.28"))
	if err != nil {
		t.Fatal(err)
	}
	if r.HostsDir != DefaultHostsDir || !strings.Contains(string(r.Data), "config_path = '/etc/containerd/certs.d'") {
		t.Errorf("1.7: hosts dir %q, config:\n%s", r.HostsDir, r.Data)
	}
	r, err = Render(nil, "x", insecure("2.4.2"))
	if err != nil {
		t.Fatal(err)
	}
	// 2.x reads no hosts directory unless told either (make e2e found it).
	if r.HostsDir != DefaultHostsDir || !strings.Contains(string(r.Data), "config_path = '/etc/containerd/certs.d'") {
		t.Errorf("2.x: hosts dir %q, config:\n%s", r.HostsDir, r.Data)
	}
	own := "version = 3\n[plugins.\"io.containerd.cri.v1.images\".registry]\n  config_path = \"/srv/certs:/etc/docker/certs.d\"\n"
	if r, err = Render([]byte(own), "x", insecure("2.4.2")); err != nil || r.HostsDir != "/srv/certs" {
		t.Errorf("operator's config_path: hosts dir %q, %v", r.HostsDir, err)
	}
	for kind, table := range map[string]string{
		"mirrors": "mirrors.\"docker.io\"]\n  endpoint = [\"https://mirror.example\"]",
		"auths":   "auths.\"https://registry.example\"]\n  username = \"u\"",
	} {
		old := "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry." + table + "\n"
		r, err = Render([]byte(old), "x", insecure("1.7.28"))
		if err != nil {
			t.Fatal(err)
		}
		if r.HostsDir != "" || strings.Contains(string(r.Data), "config_path") || !hasNote(r.Notes, "deprecated registry.mirrors/configs/auths") {
			t.Errorf("deprecated %s: hosts dir %q, notes %v, config:\n%s", kind, r.HostsDir, r.Notes, r.Data)
		}
	}
	// Without insecure registries nothing changes for them.
	if r, err = Render(nil, "x", testOptions("1.7.28")); err != nil || r.HostsDir != "" || strings.Contains(string(r.Data), "config_path") {
		t.Errorf("no insecure registries: hosts dir %q, %v, config:\n%s", r.HostsDir, err, r.Data)
	}
}

// TestKubeletPullsOverPlainHTTP: the CRI plugin of each real containerd
// pulls from a plain-HTTP registry on a non-loopback address once
// HostsTOML is in its hosts directory, and refuses to without it.
func TestKubeletPullsOverPlainHTTP(t *testing.T) {
	ctrtest.RequireRoot(t)
	ip := nonLoopbackIPv4(t)
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	host := l.Addr().String()
	ref := host + "/test/app:1"
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(must(name.ParseReference(ref, name.Insecure)), img); err != nil {
		t.Fatal(err)
	}
	for _, dm := range daemons {
		t.Run(dm.name, func(t *testing.T) {
			bin := dm.bin(t)
			major, _, err := ParseVersion(daemonVersion(t, bin))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			cfg := fmt.Sprintf("version = 3\n[plugins.\"io.containerd.cri.v1.images\".registry]\n  config_path = %q\n", dir)
			if major == 1 {
				cfg = fmt.Sprintf("version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = %q\n", dir)
			}
			d := ctrtest.Start(t, bin, []byte(cfg))
			cri := ctrtest.DialCRI(t, d)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			pull := func() error {
				_, err := cri.Images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
				return err
			}
			if err := pull(); err == nil {
				t.Fatal("pulled over plain HTTP without a hosts.toml: the test proves nothing")
			}
			if err := os.MkdirAll(filepath.Join(dir, host), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, host, "hosts.toml"), HostsTOML(host), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := pull(); err != nil {
				t.Fatalf("pull %s with %s:\n%s\n%v", ref, filepath.Join(dir, host, "hosts.toml"), HostsTOML(host), err)
			}
		})
	}
}

func nonLoopbackIPv4(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address to serve a plain-HTTP registry on")
	return ""
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
