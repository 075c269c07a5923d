package cli

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/kata/katatest"
	"github.com/eksd-kata/eksd-kata/pkg/release/releasetest"
)

// TestBadInputTable is the promise for every kind of bad input: exit 2, a
// message that names the problem, and not one byte changed under --root
// although the host step always has changes to make there.
func TestBadInputTable(t *testing.T) {
	files := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(files, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	head := "apiVersion: eksd-kata.io/v1alpha1\nkind: NodeConfig\n"
	cfg := func(name, spec string) string { return write(name+".yaml", head+"spec:\n"+spec) }
	tarball := kataTarball(t)
	tarPath := filepath.Join(files, "kata-static-3.21.0-amd64.tar.gz")
	os.WriteFile(tarPath, tarball, 0o644)
	sum := sha256.Sum256(tarball)
	goodSum := hex.EncodeToString(sum[:])
	escaping := kataTarball(t,
		tar.Header{Name: "./opt/kata/a", Linkname: ".", Typeflag: tar.TypeSymlink},
		tar.Header{Name: "./opt/kata/b", Linkname: "a/a/a/../../../etc", Typeflag: tar.TypeSymlink},
	)
	escapingSum := sha256.Sum256(escaping)
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	otherArch := katatest.Tarball(t, other, "gz")
	otherArchSum := sha256.Sum256(otherArch)

	manifest := releasetest.Manifest(t, eksd.Default())
	boot := []string{"bootstrap", "--only", "host,containerd,kata", "--containerd-version", "2.4.2"}
	with := func(extra ...string) []string { return append(append([]string{}, boot...), extra...) }

	cases := []struct {
		name  string
		files map[string]string // extra files under the root
		links map[string]string // symlinks under the root: link -> target
		args  []string
		want  string
	}{
		// Configuration files.
		{name: "config unknown field", args: with("--config", cfg("c1", "  network: {podCidr: 10.0.0.0/16}\n")), want: "spec.network.podCidr"},
		{name: "config duplicate field", args: with("--config", write("c2.yaml", head+"spec:\n  node: {}\n  node: {}\n")), want: `key "node" already set`},
		{name: "config wrong kind", args: with("--config", write("c3.yaml", "apiVersion: eksd-kata.io/v1alpha1\nkind: InitConfiguration\n")), want: "kind"},
		{name: "config wrong apiVersion", args: with("--config", write("c4.yaml", "apiVersion: v1\nkind: NodeConfig\n")), want: "apiVersion"},
		{name: "config empty", args: with("--config", write("c5.yaml", "")), want: "empty"},
		{name: "config not YAML", args: with("--config", write("c6.yaml", "spec: [\n")), want: "not valid YAML"},
		{name: "config wrong type", args: with("--config", cfg("c7", "  release: {number: seven}\n")), want: "spec.release.number"},
		{name: "config missing file", args: with("--config", filepath.Join(files, "nope.yaml")), want: "nope.yaml"},
		// CIDRs.
		{name: "pod CIDR /33", args: with("--config", cfg("n1", "  network: {podCIDR: 10.0.0.0/33}\n")), want: `spec.network.podCIDR: Invalid value: "10.0.0.0/33"`},
		{name: "pod CIDR host bits", args: with("--pod-cidr", "10.244.1.1/16"), want: "did you mean 10.244.0.0/16"},
		{name: "CIDRs overlap", args: with("--pod-cidr", "10.96.0.0/16"), want: "overlaps"},
		{name: "service CIDR too big", args: with("--service-cidr", "10.0.0.0/8"), want: "spec.network.serviceCIDR"},
		{name: "IPv6 CIDR /129", args: with("--pod-cidr", "fd00::/129"), want: "spec.network.podCIDR"},
		{name: "flag CIDR not an address", args: with("--pod-cidr", "300.0.0.0/8"), want: "spec.network.podCIDR"},
		{name: "control-plane endpoint port", args: with("--control-plane-endpoint", "cp.example.com:0"), want: `spec.network.controlPlaneEndpoint: Invalid value: "cp.example.com:0": port must be 1-65535`},
		{name: "kubeadm overlay of an owned field", args: with("--config", cfg("ko1", "  kubeadm:\n    clusterConfiguration: {imageRepository: example.com}\n")),
			want: "spec.kubeadm.clusterConfiguration.imageRepository: Forbidden: eksd-kata sets it: set spec.images.mirror"},
		{name: "kubeadm overlay of an owned nested field", args: with("--config", cfg("ko2", "  kubeadm:\n    clusterConfiguration: {networking: {podSubnet: 10.0.0.0/16}}\n")),
			want: "spec.kubeadm.clusterConfiguration.networking.podSubnet: Forbidden"},
		{name: "kubelet overlay of an owned field", args: with("--config", cfg("ko3", "  kubeadm:\n    kubeletConfiguration: {cgroupDriver: cgroupfs}\n")),
			want: "spec.kubeadm.kubeletConfiguration.cgroupDriver: Forbidden: eksd-kata sets it: set spec.node.cgroupDriver"},
		{name: "kubeadm overlay unknown field", args: []string{"bootstrap", "--only", "certs", "--node-name", "n1", "--advertise-address", "192.0.2.10", "--config", cfg("ko4", "  kubeadm:\n    clusterConfiguration: {apiServer: {certSans: [x]}}\n")},
			want: `spec.kubeadm.clusterConfiguration: unknown field "apiServer.certSans"`},
		{name: "control-plane endpoint host", args: with("--config", cfg("n2", "  network: {controlPlaneEndpoint: \"cp_1:6443\"}\n")), want: "spec.network.controlPlaneEndpoint"},
		// Hypervisors and Kata.
		{name: "unknown hypervisor", args: with("--hypervisors", "vbox"), want: `spec.kata.hypervisors[0]: Unsupported value: "vbox"`},
		{name: "duplicate hypervisor", args: with("--hypervisors", "qemu,qemu"), want: "spec.kata.hypervisors[1]: Duplicate"},
		{name: "no hypervisor", args: with("--config", cfg("k1", "  kata: {hypervisors: []}\n")), want: "spec.kata.hypervisors: Required"},
		{name: "bad handler name", args: with("--kata-handler", "Kata_VM"), want: "spec.kata.runtimeHandler"},
		{name: "handler clashes with runc", args: with("--kata-handler", "runc"), want: "clashes"},
		{name: "firecracker without devmapper", args: with("--hypervisors", "fc"), want: "devmapper"},
		{name: "install-kata without checksum", args: with("--install-kata", tarPath), want: "checksum"},
		{name: "install-kata wrong checksum", args: with("--install-kata", tarPath, "--kata-sha256", strings.Repeat("0", 64)), want: "sha256"},
		{name: "install-kata malformed checksum", args: with("--install-kata", tarPath, "--kata-sha256", "abc"), want: "--kata-sha256"},
		{name: "install-kata missing file", args: with("--install-kata", filepath.Join(files, "none.tar.zst"), "--kata-sha256", goodSum), want: "none.tar.zst"},
		{name: "install-kata not a tarball", args: with("--install-kata", write("junk.tar.zst", "junk"), "--kata-sha256", hex.EncodeToString(func() []byte { s := sha256.Sum256([]byte("junk")); return s[:] }())), want: "not a kata-static tarball"},
		{name: "install-kata tarball with a link out of the tree", args: with("--install-kata", write("escaping.tar.gz", string(escaping)), "--kata-sha256", hex.EncodeToString(escapingSum[:])), want: `"./opt/kata/b"`},
		{name: "install-kata ftp", args: with("--install-kata", "ftp://example.com/k.tar.zst", "--kata-sha256", goodSum), want: "https"},
		{name: "kata-sha256 without install-kata", args: with("--kata-sha256", goodSum), want: "--kata-sha256 checks the tarball of --install-kata, which is not given"},
		{name: "kata-checksum-file without install-kata", args: with("--kata-checksum-file", write("SUMS2", goodSum+"  kata-static-3.21.0-amd64.tar.gz\n")), want: "--kata-checksum-file checks the tarball of --install-kata, which is not given"},
		{name: "containerd version with junk around it", args: with("--containerd-version", "x2.4.2junk"), want: `--containerd-version: containerd version "x2.4.2junk"`},
		{name: "manifest image digest not sha256", args: with("--release-manifest", write("m7.yaml", strings.Replace(string(manifest), "uri: public.ecr.aws/eks-distro/kubernetes/pause:", "imageDigest: sha256:12345\n        uri: public.ecr.aws/eks-distro/kubernetes/pause:", 1))), want: `m7.yaml: release manifest: asset "pause-image": image.imageDigest is "sha256:12345"`},
		{name: "install-kata version without a carried checksum", args: with("--install-kata", "3.21.0"), want: "carries no checksum for kata 3.21.0"},
		{name: "install-kata neither a version nor a file", args: with("--install-kata", "latest"), want: "--install-kata latest: want a Kata release version"},
		{name: "install-kata of another architecture", args: with("--install-kata", write("kata-static-3.21.0-other.tar.gz", string(otherArch)), "--kata-sha256", hex.EncodeToString(otherArchSum[:])), want: "is built for"},
		{name: "guest kernel for two hypervisors", args: with("--kata-guest-kernel", "/opt/pvm/vmlinux", "--hypervisors", "qemu,clh"), want: "spec.kata.guestKernel"},
		{name: "relative guest kernel", args: with("--kata-guest-kernel", "vmlinux"), want: "spec.kata.guestKernel"},
		{name: "checksum file without the tarball", args: with("--install-kata", tarPath, "--kata-checksum-file", write("SUMS", goodSum+"  other.tar.gz\n")), want: "no sha256 line"},
		// Releases and manifests.
		{name: "unknown channel", args: with("--release", "1-99"), want: "spec.release"},
		{name: "unknown release number", args: with("--release", "1-36-999"), want: "spec.release"},
		{name: "malformed --release", args: with("--release", "1.36"), want: "--release"},
		{name: "manifest not YAML", args: with("--config", cfg("m1", "  release: {channel: \"1-36\", manifest: "+write("m1.txt", "{{{")+"}\n")), want: "manifest"},
		{name: "manifest wrong kind", args: with("--config", cfg("m2", "  release: {channel: \"1-36\", manifest: "+write("m2.yaml", "apiVersion: v1\nkind: ConfigMap\n")+"}\n")), want: "kind"},
		{name: "manifest missing", args: with("--config", cfg("m3", "  release: {channel: \"1-36\", manifest: "+filepath.Join(files, "missing.yaml")+"}\n")), want: "missing.yaml"},
		{name: "config with a second document", args: with("--config", write("d1.yaml", head+"spec: {}\n---\n"+head)), want: "d1.yaml: document: Invalid value: the file holds more than one YAML document (a second one starts at line 4 after ---): give one document"},
		{name: "config with an empty second document", args: with("--config", write("d2.yaml", head+"---\n# nothing\n")), want: "d2.yaml: document: Invalid value: the file holds more than one YAML document"},
		{name: "config with a null second document", args: with("--config", write("d3.yaml", head+"---\n~\n")), want: "d3.yaml: document: Invalid value: the file holds more than one YAML document"},
		{name: "manifest with a second document", args: with("--release-manifest", write("m5.yaml", string(manifest)+"---\n"+string(manifest))), want: "m5.yaml: release manifest: the file holds more than one YAML document"},
		{name: "manifest with garbage after its end", args: with("--release-manifest", write("m6.yaml", string(manifest)+"...\ngarbage\n")), want: "m6.yaml: release manifest: the file holds more after its first document"},
		{name: "manifest over ftp", args: with("--config", cfg("m4", "  release: {manifest: \"ftp://example.com/r.yaml\"}\n")), want: "spec.release.manifest"},
		// Other settings.
		{name: "bad role", args: with("--role", "master"), want: `spec.node.role: Unsupported value: "master"`},
		{name: "bad node name", args: with("--node-name", "Node_1"), want: "spec.node.name"},
		{name: "bad advertise address", args: with("--advertise-address", "10.0.0.256"), want: "spec.node.advertiseAddress"},
		{name: "bad cgroup driver", args: with("--cgroup-driver", "cgroupv2"), want: "spec.node.cgroupDriver"},
		{name: "mirror with a scheme", args: with("--image-mirror", "https://registry.local"), want: "spec.images.mirror"},
		{name: "mirror without a registry host", args: []string{"config", "validate", "-f", cfg("im1", "  images: {mirror: mirror/eks}\n")}, want: `spec.images.mirror: Invalid value: "mirror/eks": "mirror" is not a registry host`},
		{name: "mirror without a registry host in bootstrap", args: with("--image-mirror", "eks-mirror/eks"), want: `spec.images.mirror: Invalid value: "eks-mirror/eks": "eks-mirror" is not a registry host`},
		{name: "mirror with a bad port", args: with("--image-mirror", "registry.local:0"), want: "spec.images.mirror"},
		{name: "insecure registry with a path", args: with("--insecure-registry", "registry.local/x"), want: "spec.images.insecureRegistries[0]"},
		{name: "CNI manifest over plain http", args: with("--cni-manifest", "http://example.com/cni.yaml"), want: "spec.addons.cniManifest"},
		{name: "SELinux mode", args: with("--config", cfg("s1", "  host: {selinux: enforcing}\n")), want: "spec.host.selinux"},
		// Flags and steps.
		{name: "unknown step", args: with("--only", "host,kubelet"), want: `unknown step "kubelet"`},
		{name: "every step skipped", args: with("--skip", "host,containerd,kata"), want: "no step"},
		{name: "unknown preflight id", args: with("--ignore", "host.nope"), want: "--ignore"},
		{name: "bad containerd version", args: with("--containerd-version", "latest"), want: "--containerd-version"},
		{name: "no containerd version under --root", args: with("--containerd-version", ""), want: "--containerd-version"},
		{name: "unknown flag", args: with("--frobnicate"), want: "unknown flag"},
		{name: "bad log format", args: append([]string{"--log-format", "xml"}, boot...), want: "--log-format"},
		// Paths and the files under --root.
		{name: "relative containerd config path", args: with("--containerd-config", "etc/containerd/config.toml"), want: "spec.containerd.configPath"},
		{name: "containerd config path with ..", args: with("--containerd-config", "/etc/../etc/containerd/config.toml"), want: "spec.containerd.configPath"},
		{name: "containerd config path with a newline", args: with("--containerd-config", "/etc/containerd/config.toml\nx"), want: `spec.containerd.configPath: Invalid value: "/etc/containerd/config.toml\nx": contains a control character`},
		{name: "containerd socket with a NUL", args: with("--config", cfg("p1", "  containerd: {socket: \"/run/containerd/containerd.sock\\0\"}\n")), want: `spec.containerd.socket: Invalid value: "/run/containerd/containerd.sock\x00": contains a control character`},
		{name: "CNI manifest with a newline", args: with("--cni-manifest", "/srv/cni\n.yaml"), want: `spec.addons.cniManifest: Invalid value: "/srv/cni\n.yaml": contains a control character`},
		{name: "release manifest with a tab", args: with("--config", cfg("p2", "  release: {manifest: \"/srv/r\\t.yaml\"}\n")), want: `spec.release.manifest: Invalid value: "/srv/r\t.yaml": contains a control character`},
		{name: "containerd config path is fstab", args: with("--containerd-config", "/etc/fstab"), want: `spec.containerd.configPath: Invalid value: "/etc/fstab": is /etc/fstab, which eksd-kata's host step writes`},
		{name: "containerd config path is the sysctl file", args: with("--containerd-config", "/etc/sysctl.d/99-eksd-kata.conf"), want: "which eksd-kata's host step writes"},
		{name: "containerd config path is the modules file", args: with("--containerd-config", "/etc/modules-load.d/eksd-kata.conf"), want: "which eksd-kata's host step writes"},
		{name: "containerd config path is SELinux's", args: with("--containerd-config", "/etc/selinux/config"), want: "which eksd-kata's host step writes"},
		{name: "containerd config path is kubeadm's", args: with("--containerd-config", "/etc/eksd-kata/kubeadm.yaml"), want: "lies in /etc/eksd-kata, which eksd-kata's kubeadm step writes"},
		{name: "containerd config path is the kubelet drop-in", args: with("--containerd-config", "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"), want: "which eksd-kata's binaries step writes"},
		{name: "malformed config.toml", files: map[string]string{"/etc/containerd/config.toml": "version = 2\n[plugins\n"}, args: boot, want: "/etc/containerd/config.toml:2:"},
		{name: "version 3 config.toml for containerd 1.7", files: map[string]string{"/etc/containerd/config.toml": "version = 3\n"}, args: with("--containerd-version", "1.7.28", "--release", "1-34"), want: "config.toml"},
		{name: "version 2 CRI section is an integer", files: map[string]string{"/etc/containerd/config.toml": "version = 2\n[plugins]\n\"io.containerd.grpc.v1.cri\" = 1\n"}, args: boot,
			want: `/etc/containerd/config.toml: key plugins."io.containerd.grpc.v1.cri" holds an integer, want a table`},
		{name: "version 2 CRI section is a string", files: map[string]string{"/etc/containerd/config.toml": "version = 2\n[plugins]\n\"io.containerd.grpc.v1.cri\" = \"x\"\n"}, args: boot,
			want: `/etc/containerd/config.toml: key plugins."io.containerd.grpc.v1.cri" holds a string, want a table`},
		{name: "version 2 runtimes not a table", files: map[string]string{"/etc/containerd/config.toml": "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\nruntimes = [\"runc\"]\n"}, args: boot,
			want: `/etc/containerd/config.toml: key plugins."io.containerd.grpc.v1.cri".containerd.runtimes holds an array, want a table`},
		{name: "version 2 runtime not a table", files: map[string]string{"/etc/containerd/config.toml": "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes]\nrunc = 1\n"}, args: boot,
			want: `/etc/containerd/config.toml: key plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc holds an integer, want a table`},
		{name: "version 1 plugins not a table", files: map[string]string{"/etc/containerd/config.toml": "plugins = 3\n"}, args: boot,
			want: `/etc/containerd/config.toml: key plugins holds an integer, want a table`},
		{name: "config.toml is a directory", files: map[string]string{"/etc/containerd/config.toml/x": ""}, args: boot, want: "/etc/containerd/config.toml"},
		{name: "config.toml is a symlink loop", links: map[string]string{"/etc/containerd/config.toml": "config.toml"}, args: boot, want: "/etc/containerd/config.toml"},
		{name: "images import of garbage", args: []string{"images", "import", write("garbage.tar", "garbage")}, want: "garbage.tar"},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			fixture := map[string]string{"/etc/fstab": "/dev/sda2 none swap sw 0 0\n"}
			for k, v := range tc.files {
				fixture[k] = v
			}
			hosttest.WriteTree(t, root, fixture)
			for link, target := range tc.links {
				os.MkdirAll(filepath.Dir(filepath.Join(root, link)), 0o755)
				if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
					t.Fatal(err)
				}
			}
			before := hosttest.HashTree(t, root)
			code, out, stderr := run(t, "", append([]string{"--root", root}, tc.args...)...)
			if code != ExitUsage {
				t.Fatalf("exit %d, want 2\n%s%s", code, out, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Fatalf("stderr does not name %q:\n%s", tc.want, stderr)
			}
			if hosttest.HashTree(t, root) != before {
				t.Fatal("bad input changed the root")
			}
		})
	}
}
