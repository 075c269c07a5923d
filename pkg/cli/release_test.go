package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/release/releasetest"
)

// manifestFile writes the manifest of embedded release channel-number,
// renumbered as number renumber (a release newer than the embedded ones
// when it differs), and returns its path.
func manifestFile(t *testing.T, channel string, number, renumber int) string {
	t.Helper()
	// The binaries' URLs name the release, so that a plan that installs them shows it.
	r := releasetest.Release(t, channel, number, "https://distro.invalid/release-eks-"+channel+"-"+strconv.Itoa(number), releasetest.Binaries())
	data := string(releasetest.Manifest(t, r))
	if renumber != number {
		old, now := channel+"-"+strconv.Itoa(number), channel+"-"+strconv.Itoa(renumber)
		data = strings.ReplaceAll(data, "-eks-"+old, "-eks-"+now)
		data = strings.Replace(data, "number: "+strconv.Itoa(number), "number: "+strconv.Itoa(renumber), 1)
	}
	path := filepath.Join(t.TempDir(), "kubernetes-"+channel+"-eks-"+strconv.Itoa(renumber)+".yaml")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// verbsOfRelease are the verbs that take a release, run offline under
// --root; each must name the same release for the same flags.
var verbsOfRelease = [][]string{
	{"images", "list"},
	{"config", "render", "kubeadm", "--node-name", "n1", "--advertise-address", "192.0.2.10"},
	{"config", "print"},
	{"check"},
	{"bootstrap", "--dry-run", "--only", "kubeadm", "--node-name", "n1", "--advertise-address", "192.0.2.10"},
	{"join", "--dry-run", "--only", "binaries", "--token", goodToken, "--discovery-token-ca-cert-hash", goodHash, "--control-plane-endpoint", "192.0.2.10:6443"},
}

// TestEveryVerbTakesTheManifestsRelease: --release-manifest alone selects
// the manifest's own release in every verb, a release number not embedded
// is found in a manifest that has it, and a --release that disagrees with
// the manifest, or a file that is not a release, exits 2 naming both, with
// nothing changed.
func TestEveryVerbTakesTheManifestsRelease(t *testing.T) {
	m33 := manifestFile(t, "1-33", 31, 31)
	m368 := manifestFile(t, "1-36", 7, 8)
	notRelease := filepath.Join(t.TempDir(), "not-a-release.yaml")
	if err := os.WriteFile(notRelease, []byte("apiVersion: v1\nkind: ConfigMap\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, verb := range verbsOfRelease {
		name := verb[0]
		if len(verb) > 1 && !strings.HasPrefix(verb[1], "-") {
			name += " " + verb[1]
		}
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			hosttest.WriteTree(t, root, map[string]string{"/etc/hostname": "n1\n"})
			runIn := func(extra ...string) (int, string, string) {
				return run(t, "", append(append([]string{"--root", root}, verb...), extra...)...)
			}
			// Exit 0 or 1 (a check that fails on this machine) both answer.
			for _, tc := range []struct {
				args            []string
				channel, number string
			}{
				{[]string{"--release-manifest", m33}, "1-33", "31"},
				{[]string{"--release-manifest", m368, "--release", "1-36-8"}, "1-36", "8"},
				{[]string{"--release-manifest", m368, "--release", "1-36"}, "1-36", "8"},
			} {
				code, out, errOut := runIn(tc.args...)
				if code == ExitUsage {
					t.Fatalf("%v: exit 2:\n%s%s", tc.args, out, errOut)
				}
				// config print names the release in two fields.
				answers := strings.Contains(out, tc.channel+"-"+tc.number) ||
					strings.Contains(out, "channel: "+tc.channel+"\n") && strings.Contains(out, "number: "+tc.number+"\n")
				if !answers || (tc.channel == "1-33" && strings.Contains(out, "1-36")) {
					t.Errorf("%v does not answer for %s-%s:\n%s", tc.args, tc.channel, tc.number, out)
				}
			}
			before := hosttest.HashTree(t, root)
			for _, tc := range []struct {
				args []string
				want []string
			}{
				{[]string{"--release-manifest", m368, "--release", "1-36-7"}, []string{m368, "is EKS-D 1-36-8", "says 1-36-7"}},
				{[]string{"--release-manifest", m33, "--release", "1-34"}, []string{"is EKS-D 1-33-31", "says 1-34"}},
				{[]string{"--release-manifest", notRelease}, []string{notRelease, "kind"}},
				{[]string{"--release", "1-18"}, []string{"1-18 is not embedded", "1-30 to 1-36", "--release-manifest"}},
			} {
				code, out, errOut := runIn(tc.args...)
				if code != ExitUsage {
					t.Errorf("%v: exit %d, want 2:\n%s%s", tc.args, code, out, errOut)
				}
				for _, w := range tc.want {
					if !strings.Contains(errOut, w) {
						t.Errorf("%v: the error does not say %q:\n%s", tc.args, w, errOut)
					}
				}
				if strings.Contains(errOut, "1-18/0") {
					t.Errorf("an internal form in the error:\n%s", errOut)
				}
			}
			if hosttest.HashTree(t, root) != before {
				t.Error("bad input changed the root")
			}
		})
	}
}

// TestChannelWithoutNumberIsItsNewest: a configuration that names a channel
// and no number gets that channel's newest embedded release, not the
// default's number carried over.
func TestChannelWithoutNumberIsItsNewest(t *testing.T) {
	dir := t.TempDir()
	hosttest.WriteTree(t, dir, map[string]string{"/c.yaml": "apiVersion: eksd-kata.io/v1alpha1\nkind: NodeConfig\nspec:\n  release: {channel: \"1-34\"}\n"})
	code, out, errOut := run(t, "", "--config", filepath.Join(dir, "c.yaml"), "images", "list")
	if code != ExitOK || !strings.Contains(out, "v1.34.9-eks-1-34-21") {
		t.Fatalf("exit %d:\n%s%s", code, out, errOut)
	}
	code, out, errOut = run(t, "", "--config", filepath.Join(dir, "c.yaml"), "config", "validate")
	if code != ExitOK || !strings.Contains(out, "EKS-D 1-34-21") {
		t.Fatalf("validate: exit %d:\n%s%s", code, out, errOut)
	}
}

// newChannelManifest writes the manifest of a channel newer than the
// embedded ones, 1-37-1 (Kubernetes v1.37.0), made from 1-36-7's.
func newChannelManifest(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(manifestFile(t, "1-36", 7, 7))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer("1-36-7", "1-37-1", "1-36", "1-37", "v1.36.2", "v1.37.0", "number: 7", "number: 1", "/7/", "/1/").Replace(string(data))
	path := filepath.Join(t.TempDir(), "kubernetes-1-37-eks-1.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestNewerChannelWithoutCodeChange: a channel newer than this program,
// given by its manifest, lists its images (the pause tag left to its
// kubeadm, saying so) and is planned and applied by bootstrap under --root,
// containerd's sandbox image left for the live run to set.
func TestNewerChannelWithoutCodeChange(t *testing.T) {
	m := newChannelManifest(t)
	code, out, errOut := run(t, "", "images", "list", "--release-manifest", m)
	if code != ExitOK {
		t.Fatalf("images list: exit %d:\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"kube-apiserver:v1.37.0-eks-1-37-1", "pause:v1.37.0-eks-1-37-1", "(the tag kubeadm v1.37.0 expects (kubeadm config images list), once it is installed)"} {
		if !strings.Contains(out, want) {
			t.Errorf("images list does not show %q:\n%s", want, out)
		}
	}
	root := t.TempDir()
	hosttest.WriteTree(t, root, map[string]string{"/etc/hostname": "n1\n"})
	args := []string{"--root", root, "bootstrap", "--release-manifest", m, "--containerd-version", "2.2.1", "--ignore", "all", "--advertise-address", "192.0.2.10"}
	for _, dry := range []bool{true, false} {
		// The real run leaves out the downloads and what needs a live host.
		a := append(slices.Clone(args), "--skip", "binaries,certs,kubeadm,addons,verify")
		if dry {
			a = append(slices.Clone(args), "--dry-run")
		}
		code, out, errOut = run(t, "", a...)
		if code != ExitOK || !strings.Contains(out, "sandbox image not set: the pause tag is unknown for EKS-D 1-37-1") {
			t.Fatalf("bootstrap (dry run %v): exit %d:\n%s%s", dry, code, out, errOut)
		}
	}
	data, err := os.ReadFile(filepath.Join(root, "etc/containerd/config.toml"))
	if err != nil || strings.Contains(string(data), "pause") {
		t.Errorf("containerd's config names a pause image before its kubeadm was asked (%v):\n%s", err, data)
	}
}
