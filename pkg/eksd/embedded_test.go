package eksd

import (
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// factsTable is the "latest release per channel" table of FACTS.md.
var factsTable = []struct {
	channel    string
	number     int
	kubernetes string
	pause      string
	coredns    string
	etcd       string
}{
	{"1-30", 59, "v1.30.14", "3.9", "v1.12.4", "v3.5.21"},
	{"1-31", 48, "v1.31.14", "3.10", "v1.12.4", "v3.5.21"},
	{"1-32", 41, "v1.32.13", "3.10", "v1.12.4", "v3.5.21"},
	{"1-33", 31, "v1.33.13", "3.10", "v1.14.3", "v3.5.21"},
	{"1-34", 21, "v1.34.9", "3.10.1", "v1.14.3", "v3.5.21"},
	{"1-35", 13, "v1.35.6", "3.10.1", "v1.14.3", "v3.5.21"},
	{"1-36", 7, "v1.36.2", "3.10.2", "v1.14.3", "v3.6.12"},
}

func TestEmbeddedFilesParse(t *testing.T) {
	files, err := fs.Glob(embeddedFS, "releases/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no embedded manifests (%v)", err)
	}
	for _, f := range files {
		data, _ := embeddedFS.ReadFile(f)
		r, err := Parse(data)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if want := "releases/" + r.String() + ".yaml"; f != want {
			t.Errorf("%s holds release %s; name it %s", f, r, want)
		}
		if r.Metadata.Name != r.String() {
			t.Errorf("%s: metadata.name %q, want %q", f, r.Metadata.Name, r.String())
		}
	}
}

func TestEmbeddedMatchesFacts(t *testing.T) {
	all := Embedded()
	if len(all) != len(factsTable) {
		t.Fatalf("%d embedded releases, want %d", len(all), len(factsTable))
	}
	for i, want := range factsTable {
		r := all[i] // also checks the sort order
		if r.Channel() != want.channel || r.Number() != want.number {
			t.Errorf("Embedded()[%d] = %s, want %s-%d", i, r, want.channel, want.number)
			continue
		}
		if r.KubernetesVersion() != want.kubernetes {
			t.Errorf("%s: KubernetesVersion %s, want %s", r, r.KubernetesVersion(), want.kubernetes)
		}
		suffix := "-eks-" + want.channel + "-" + strconv.Itoa(want.number)
		for name, tag := range map[string]string{
			KubeAPIServer: want.kubernetes, KubeControllerManager: want.kubernetes, KubeScheduler: want.kubernetes,
			KubeProxy: want.kubernetes, Pause: want.kubernetes, CoreDNS: want.coredns, Etcd: want.etcd,
		} {
			img, ok := r.Image(name)
			if !ok || img.Tag != tag+suffix {
				t.Errorf("%s: image %s = %+v, want tag %s", r, name, img, tag+suffix)
			}
		}
		for _, arch := range []string{"amd64", "arm64"} {
			for _, bin := range RequiredBinaries {
				b, err := r.Binary(bin, arch)
				if err != nil {
					t.Error(err)
					continue
				}
				url := "https://distro.eks.amazonaws.com/kubernetes-" + want.channel + "/releases/" + strconv.Itoa(want.number) +
					"/artifacts/kubernetes/" + want.kubernetes + "/bin/linux/" + arch + "/" + bin
				if b.URL != url || b.Verifiable() {
					t.Errorf("%s: binary %+v, want URL %s without checksums", r, b, url)
				}
			}
		}
	}
}

func TestEmbeddedReturnsCopies(t *testing.T) {
	a := Embedded()
	a[0].Spec.Channel = "9-99"
	if Embedded()[0].Channel() == "9-99" {
		t.Error("Embedded shares state between calls")
	}
}

func TestLookupAndDefault(t *testing.T) {
	d := Default()
	if d.Channel() != "1-36" || d.Number() != 7 {
		t.Errorf("Default = %s, want kubernetes-1-36-eks-7", d)
	}
	if r, err := Lookup("", 0); err != nil || r.Channel() != d.Channel() || r.Number() != d.Number() {
		t.Errorf(`Lookup("", 0) = %v, %v; want the default`, r, err)
	}
	if _, err := Lookup("", 7); err == nil {
		t.Error(`Lookup("", 7) named a release without a channel`)
	}
	r, err := Lookup("1-33", 0)
	if err != nil || r.Number() != 31 {
		t.Errorf("Lookup(1-33, 0) = %v, %v; want release 31", r, err)
	}
	r, err = Lookup("1-30", 59)
	if err != nil || r.KubernetesVersion() != "v1.30.14" {
		t.Errorf("Lookup(1-30, 59) = %v, %v", r, err)
	}

	_, err = Lookup("1-29", 0)
	for _, w := range []string{`EKS-D channel 1-29 is not embedded`, "knows 1-30 to 1-36", "--release-manifest FILE|URL"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Lookup(1-29) error = %v, want it to contain %q", err, w)
		}
	}
	_, err = Lookup("1-36", 8)
	for _, w := range []string{"EKS-D release 1-36-8 is not embedded", "embedded for channel 1-36: 7",
		"https://distro.eks.amazonaws.com/kubernetes-1-36/kubernetes-1-36-eks-8.yaml"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Lookup(1-36, 8) error = %v, want it to contain %q", err, w)
		}
	}
	if _, err := Lookup("1-36", -1); err == nil {
		t.Error("Lookup(1-36, -1) succeeded")
	}
}

func TestChannelOrderIsNumeric(t *testing.T) {
	rs := []*Release{{Spec: ReleaseSpec{Channel: "1-10", Number: 1}}, {Spec: ReleaseSpec{Channel: "1-9", Number: 2}}, {Spec: ReleaseSpec{Channel: "1-9", Number: 1}}}
	slices.SortFunc(rs, func(a, b *Release) int { return compareReleases(a.Channel(), a.Number(), b.Channel(), b.Number()) })
	var got []string
	for _, r := range rs {
		got = append(got, r.String())
	}
	if want := "kubernetes-1-9-eks-1 kubernetes-1-9-eks-2 kubernetes-1-10-eks-1"; strings.Join(got, " ") != want {
		t.Errorf("order %v, want %s", got, want)
	}
}

func TestChannelMinor(t *testing.T) {
	for ch, want := range map[string]int{"1-36": 36, "1-9": 9, "2-0": 0, "1.36": 0, "1-": 0, "": 0} {
		if got := ChannelMinor(ch); got != want {
			t.Errorf("ChannelMinor(%q) = %d, want %d", ch, got, want)
		}
	}
}

func TestEmbeddedCopiesAreDeep(t *testing.T) {
	a := Embedded()
	for i := range a[0].Status.Components {
		for j := range a[0].Status.Components[i].Assets {
			as := &a[0].Status.Components[i].Assets[j]
			if as.Image != nil {
				as.Image.URI = "changed"
			}
			if as.Archive != nil {
				as.Archive.URI = "changed"
			}
		}
	}
	if img, ok := Embedded()[0].Image(Pause); !ok || img.Ref == "changed" {
		t.Error("Embedded shares assets between calls")
	}
}
