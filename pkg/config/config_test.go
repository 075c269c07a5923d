package config

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestDefaultsValidateAndRoundTrip(t *testing.T) {
	def := Default()
	if errs := Validate(def); len(errs) > 0 {
		t.Fatalf("defaults do not validate: %v", errs)
	}
	out, err := Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(out, "printed")
	if err != nil {
		t.Fatalf("printed defaults do not parse back: %v\n%s", err, out)
	}
	again, _ := Marshal(back)
	if string(again) != string(out) {
		t.Fatalf("round trip changed the config:\n%s\nvs\n%s", out, again)
	}
	// No release named: the verbs resolve the newest embedded one, or a
	// manifest's own.
	if def.Spec.Release != (Release{}) {
		t.Errorf("default release = %+v, want none named", def.Spec.Release)
	}
}

func TestFileOverridesOnlyWhatItSays(t *testing.T) {
	cfg, err := Parse([]byte(`apiVersion: eksd-kata.io/v1alpha1
kind: NodeConfig
spec:
  release: {channel: "1-33"}
  network: {podCIDR: 192.168.0.0/16}
  addons: {untaintControlPlane: false}
`), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Spec.Network.PodCIDR != "192.168.0.0/16" || cfg.Spec.Network.ServiceCIDR != DefaultServiceCIDR {
		t.Errorf("network = %+v", cfg.Spec.Network)
	}
	if cfg.Spec.Addons.UntaintControlPlane {
		t.Error("untaintControlPlane: false in the file was ignored")
	}
	if !cfg.Spec.Kata.Enabled || cfg.Spec.Kata.RuntimeHandler != "kata" {
		t.Errorf("kata defaults lost: %+v", cfg.Spec.Kata)
	}
	if cfg.Spec.Release.Channel != "1-33" || cfg.Spec.Release.Number != 7 {
		// number stays the default's; Validate decides whether 1-33/7 exists.
		t.Logf("release = %+v", cfg.Spec.Release)
	}
}

// TestBadConfigs: each bad input names the field that is wrong.
func TestBadConfigs(t *testing.T) {
	head := "apiVersion: eksd-kata.io/v1alpha1\nkind: NodeConfig\n"
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown field", head + "spec:\n  network:\n    podCidr: 10.0.0.0/16\n", `spec.network.podCidr: unknown field, did you mean podCIDR?`},
		{"unknown field, none close", head + "spec:\n  kata:\n    frobnicate: true\n", `spec.kata.frobnicate: unknown field (eksd-kata config print shows every field)`},
		{"unknown top-level field", head + "specs: {}\n", `specs: unknown field, did you mean spec?`},
		{"duplicate field", head + "spec:\n  node: {role: worker}\n  node: {role: worker}\n", `duplicate`},
		{"yaml bool for string", head + "spec:\n  network: {serviceCIDR: yes}\n", `spec.network.serviceCIDR: Invalid value: is a bool, must be a string`},
		{"bad CIDR", head + "spec:\n  network: {podCIDR: 10.0.0.0/33}\n", `spec.network.podCIDR: Invalid value: "10.0.0.0/33": is not a CIDR`},
		{"host bits", head + "spec:\n  network: {podCIDR: 10.0.0.1/16}\n", `did you mean 10.0.0.0/16`},
		{"overlap", head + "spec:\n  network: {podCIDR: 10.96.0.0/16}\n", `spec.network.serviceCIDR`},
		{"service too big", head + "spec:\n  network: {serviceCIDR: 10.0.0.0/8}\n", `spec.network.serviceCIDR`},
		{"unknown hypervisor", head + "spec:\n  kata: {hypervisors: [qemu, vbox]}\n", `spec.kata.hypervisors[1]: Unsupported value: "vbox"`},
		{"duplicate hypervisor", head + "spec:\n  kata: {hypervisors: [clh, clh]}\n", `spec.kata.hypervisors[1]: Duplicate value`},
		{"no hypervisor", head + "spec:\n  kata: {hypervisors: []}\n", `spec.kata.hypervisors: Required`},
		{"bad handler", head + "spec:\n  kata: {runtimeHandler: Kata_VM}\n", `spec.kata.runtimeHandler`},
		{"handler clash", head + "spec:\n  kata: {runtimeHandler: runc}\n", `clashes`},
		{"relative guest kernel", head + "spec:\n  kata: {guestKernel: vmlinux-pvm}\n", `spec.kata.guestKernel: Invalid value: "vmlinux-pvm": must be an absolute path`},
		{"guest kernel for two hypervisors", head + "spec:\n  kata: {guestKernel: /opt/pvm/vmlinux, hypervisors: [qemu, clh]}\n", `spec.kata.guestKernel: Invalid value: "/opt/pvm/vmlinux": is set for one hypervisor only, and spec.kata.hypervisors lists 2 (qemu, clh)`},
		{"unknown channel", head + "spec:\n  release: {channel: \"1-12\"}\n", `spec.release`},
		{"unknown number", head + "spec:\n  release: {channel: \"1-36\", number: 999}\n", `spec.release`},
		{"negative number", head + "spec:\n  release: {number: -1}\n", `spec.release.number`},
		{"wrong type", head + "spec:\n  release: {number: seven}\n", `spec.release.number`},
		{"bad selinux", head + "spec:\n  host: {selinux: enforcing}\n", `spec.host.selinux: Unsupported value: "enforcing"`},
		{"bad role", head + "spec:\n  node: {role: master}\n", `spec.node.role: Unsupported value: "master"`},
		{"bad node name", head + "spec:\n  node: {name: My_Node}\n", `spec.node.name`},
		{"bad address", head + "spec:\n  node: {advertiseAddress: 10.0.0.300}\n", `spec.node.advertiseAddress`},
		{"bad cgroup driver", head + "spec:\n  node: {cgroupDriver: cgroupv2}\n", `spec.node.cgroupDriver`},
		{"relative containerd config", head + "spec:\n  containerd: {configPath: etc/containerd/config.toml}\n", `spec.containerd.configPath`},
		{"dotdot socket", head + "spec:\n  containerd: {socket: /run/../etc/sock}\n", `spec.containerd.socket`},
		{"mirror with scheme", head + "spec:\n  images: {mirror: \"https://registry.local\"}\n", `spec.images.mirror`},
		{"mirror bad port", head + "spec:\n  images: {mirror: \"registry.local:99999\"}\n", `spec.images.mirror`},
		{"insecure with path", head + "spec:\n  images: {insecureRegistries: [\"reg.local/x\"]}\n", `spec.images.insecureRegistries[0]`},
		{"cni over http", head + "spec:\n  addons: {cniManifest: \"http://example.com/cni.yaml\"}\n", `spec.addons.cniManifest`},
		{"cni ftp", head + "spec:\n  addons: {cniManifest: \"ftp://example.com/cni.yaml\"}\n", `spec.addons.cniManifest`},
		{"wrong kind", "apiVersion: eksd-kata.io/v1alpha1\nkind: ClusterConfiguration\n", `kind: Unsupported value: "ClusterConfiguration"`},
		{"wrong apiVersion", "apiVersion: kubeadm.k8s.io/v1beta4\nkind: NodeConfig\n", `apiVersion: Unsupported value`},
		{"empty", "", `empty`},
		{"not yaml", "spec: [unclosed\n", `document: Invalid value: not valid YAML`},
		{"list document", "- a\n- b\n", `not a YAML mapping`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeTemp(t, tc.yaml), osInput, nil)
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.yaml)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, want *config.Error: %v", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestEveryProblemIsListed(t *testing.T) {
	cfg, err := Parse([]byte("apiVersion: eksd-kata.io/v1alpha1\nkind: NodeConfig\nspec:\n  network: {podCIDR: x, serviceCIDR: nonsense}\n  node: {role: boss}\n"), "f")
	if err != nil {
		t.Fatal(err)
	}
	errs := Validate(cfg)
	if len(errs) != 3 {
		t.Fatalf("want 3 problems (podCIDR, serviceCIDR, role), got %d: %v", len(errs), errs)
	}
}

// TestUnknownFieldsAndProblemsListedTogether: the file's unknown fields,
// each with the known one it is closest to, come in one error with what
// validation finds in the fields that are known.
func TestUnknownFieldsAndProblemsListedTogether(t *testing.T) {
	_, err := Load(writeTemp(t, "apiVersion: eksd-kata.io/v1alpha1\nkind: NodeConfig\nspec:\n  network: {podCidr: 10.0.0.0/16, serviceCIDR: 172.0.0.0/8}\n  node: {rolee: worker, name: My_Node}\n"), osInput, nil)
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	for _, want := range []string{
		"spec.network.podCidr: unknown field, did you mean podCIDR?",
		"spec.node.rolee: unknown field, did you mean role?",
		"spec.network.serviceCIDR: Invalid value",
		"spec.node.name: Invalid value",
	} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, want) }) {
			t.Errorf("no line has %q:\n%v", want, err)
		}
	}
	if len(lines) != 4 {
		t.Errorf("%d lines, want one for each of the 4 problems:\n%v", len(lines), err)
	}
}

// TestMissingFileSaysSo: a file that cannot be read is named once, with
// the reason, and nothing else.
func TestMissingFileSaysSo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path, osInput, nil)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error is %T, want *config.Error: %v", err, err)
	}
	if want := path + ": no such file or directory"; err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
}

func TestGuestKernelFlag(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	var o Overrides
	o.Bind(fs)
	if err := fs.Parse([]string{"--kata-guest-kernel", "/opt/pvm/vmlinux"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load("", osInput, &o)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Spec.Kata.GuestKernel != "/opt/pvm/vmlinux" {
		t.Fatalf("guestKernel = %q", cfg.Spec.Kata.GuestKernel)
	}
}

func TestFlagsOverrideFile(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	var o Overrides
	o.Bind(fs)
	if err := fs.Parse([]string{"--release", "1-34", "--pod-cidr", "10.32.0.0/16", "--hypervisors", "clh,qemu", "--untaint=false", "--role", "worker"}); err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "apiVersion: eksd-kata.io/v1alpha1\nkind: NodeConfig\nspec:\n  network: {podCIDR: 192.168.0.0/16, serviceCIDR: 10.100.0.0/16}\n")
	cfg, err := Load(path, osInput, &o)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Spec
	if s.Network.PodCIDR != "10.32.0.0/16" {
		t.Errorf("flag did not override the file: podCIDR %s", s.Network.PodCIDR)
	}
	if s.Network.ServiceCIDR != "10.100.0.0/16" {
		t.Errorf("file value lost: serviceCIDR %s", s.Network.ServiceCIDR)
	}
	if s.Release.Channel != "1-34" || s.Release.Number != 0 {
		t.Errorf("release = %+v, want 1-34/0 (newest)", s.Release)
	}
	if strings.Join(s.Kata.Hypervisors, ",") != "clh,qemu" || s.Addons.UntaintControlPlane || s.Node.Role != RoleWorker {
		t.Errorf("spec = %+v", s)
	}
	if s.Containerd.ConfigPath != DefaultContainerdConfig {
		t.Errorf("an unset flag overrode the default: %s", s.Containerd.ConfigPath)
	}
}

func TestBadReleaseFlag(t *testing.T) {
	for _, v := range []string{"136", "1-36-x", "1-36-0", "a-b-c-d"} {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		var o Overrides
		o.Bind(fs)
		if err := fs.Parse([]string{"--release", v}); err != nil {
			t.Fatal(err)
		}
		_, err := Load("", osInput, &o)
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "--release") {
			t.Errorf("--release %s: got %v, want a config error naming --release", v, err)
		}
	}
}

// TestKubeadmOverlayOwnedFields: only the fields eksd-kata sets are
// refused, nested ones by their full path, and null (which would delete
// them in the merge); the rest passes to kubeadm.
func TestKubeadmOverlayOwnedFields(t *testing.T) {
	cfg := Default()
	cfg.Spec.Kubeadm = Kubeadm{
		ClusterConfiguration: map[string]any{
			"dns":        map[string]any{"disabled": true, "imageTag": "v1"},
			"networking": map[string]any{"dnsDomain": "example.local", "serviceSubnet": "10.0.0.0/16"},
			"apiServer":  map[string]any{"certSANs": []any{"x"}},
			"etcd":       map[string]any{"local": nil},
		},
		KubeletConfiguration: map[string]any{"maxPods": 60, "staticPodPath": "/srv"},
	}
	var got []string
	for _, e := range Validate(cfg) {
		got = append(got, e.Field)
	}
	want := []string{"spec.kubeadm.clusterConfiguration.dns.imageTag", "spec.kubeadm.clusterConfiguration.etcd.local", "spec.kubeadm.clusterConfiguration.networking.serviceSubnet", "spec.kubeadm.kubeletConfiguration.staticPodPath"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("refused %v, want %v", got, want)
	}
}
