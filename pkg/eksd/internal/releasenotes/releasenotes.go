// Package releasenotes reads the image tables of EKS-D release notes
// (aws/eks-distro docs/contents/releases/<ch>/<n>/index.md, as copied to
// shared/eksd-releases/kubernetes-<ch>-eks-<n>.md) and turns them into
// release manifests without binary checksums. The embedded manifests of
// package eksd are generated with it, and its tests cross-check them.
package releasenotes

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
)

// Note is what a release note tells us.
type Note struct {
	File    string
	Channel string // 1-36
	Number  int    // 7
	Images  []Row  // in table order
}

// Row is one line of the image table.
type Row struct {
	Name    string // kube-apiserver
	Version string // v1.36.2 (upstream gitTag)
	URI     string // public.ecr.aws/eks-distro/kubernetes/kube-apiserver:v1.36.2-eks-1-36-7
}

var titleRE = regexp.MustCompile(`^# EKS-D v([0-9]+-[0-9]+)-eks-([0-9]+) Release\s*$`)

// Parse reads one release note.
func Parse(file string, data []byte) (*Note, error) {
	n := &Note{File: file}
	inTable := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if m := titleRE.FindStringSubmatch(text); m != nil {
			n.Channel = m[1]
			n.Number, _ = strconv.Atoi(m[2])
			continue
		}
		if !strings.HasPrefix(text, "|") {
			inTable = false
			continue
		}
		cells := strings.Split(strings.Trim(text, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		switch {
		case len(cells) == 3 && cells[0] == "Name" && cells[1] == "Version" && cells[2] == "URI":
			inTable = true
		case !inTable || strings.HasPrefix(cells[0], "---"):
		case len(cells) != 3 || cells[0] == "" || cells[1] == "" || cells[2] == "":
			return nil, fmt.Errorf("%s:%d: want | Name | Version | URI |, got %q", file, line, text)
		default:
			n.Images = append(n.Images, Row{Name: cells[0], Version: cells[1], URI: cells[2]})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if n.Channel == "" {
		return nil, fmt.Errorf("%s: no title line like \"# EKS-D v1-36-eks-7 Release\"", file)
	}
	if len(n.Images) == 0 {
		return nil, fmt.Errorf("%s: no | Name | Version | URI | image table", file)
	}
	return n, nil
}

// ParseDir reads every kubernetes-*-eks-*.md of dir, sorted by file name.
func ParseDir(dir string) ([]*Note, error) {
	files, err := filepath.Glob(filepath.Join(dir, "kubernetes-*-eks-*.md"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no kubernetes-<channel>-eks-<number>.md release notes", dir)
	}
	sort.Strings(files)
	var notes []*Note
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		n, err := Parse(f, data)
		if err != nil {
			return nil, err
		}
		notes = append(notes, n)
	}
	return notes, nil
}

// Row returns the table row of an image name.
func (n *Note) Row(name string) (Row, bool) {
	for _, r := range n.Images {
		if r.Name == name {
			return r, true
		}
	}
	return Row{}, false
}

// kubernetesImages live in the "kubernetes" component of a manifest, as in
// the published ones; every other image is its own component.
var kubernetesImages = map[string]bool{
	eksd.KubeAPIServer: true, eksd.KubeControllerManager: true, eksd.KubeScheduler: true,
	eksd.KubeProxy: true, eksd.Pause: true,
}

// Release builds the manifest the note describes: every image of the table,
// plus kubeadm, kubelet and kubectl for linux/amd64 and arm64 at the EKS-D
// artifact URLs with empty (unknown) checksums.
func (n *Note) Release() (*eksd.Release, error) {
	api, ok := n.Row(eksd.KubeAPIServer)
	if !ok {
		return nil, fmt.Errorf("%s: no %s row to take the Kubernetes version from", n.File, eksd.KubeAPIServer)
	}
	k8s := eksd.Component{Name: eksd.KubernetesComponent, GitTag: api.Version}
	for _, arch := range []string{"amd64", "arm64"} {
		for _, bin := range eksd.RequiredBinaries {
			k8s.Assets = append(k8s.Assets, eksd.Asset{
				Name:        "bin/linux/" + arch + "/" + bin,
				Type:        eksd.AssetTypeArchive,
				Description: bin + " binary for linux/" + arch,
				OS:          "linux",
				Arch:        []string{arch},
				Archive: &eksd.AssetArchive{URI: fmt.Sprintf(
					"https://distro.eks.amazonaws.com/kubernetes-%s/releases/%d/artifacts/kubernetes/%s/bin/linux/%s/%s",
					n.Channel, n.Number, api.Version, arch, bin)},
			})
		}
	}
	comps := []eksd.Component{k8s}
	for _, row := range n.Images {
		if kubernetesImages[row.Name] && row.Version != api.Version {
			return nil, fmt.Errorf("%s: %s is %s, want the Kubernetes version %s", n.File, row.Name, row.Version, api.Version)
		}
		asset := eksd.Asset{
			Name:        row.Name + "-image",
			Type:        eksd.AssetTypeImage,
			Description: row.Name + " container image",
			OS:          "linux",
			Arch:        []string{"amd64", "arm64"},
			Image:       &eksd.AssetImage{URI: row.URI},
		}
		if kubernetesImages[row.Name] {
			comps[0].Assets = append(comps[0].Assets, asset)
			continue
		}
		comps = append(comps, eksd.Component{Name: row.Name, GitTag: row.Version, Assets: []eksd.Asset{asset}})
	}
	r := &eksd.Release{
		APIVersion: eksd.APIVersion,
		Kind:       eksd.Kind,
		Metadata:   eksd.Metadata{Name: fmt.Sprintf("kubernetes-%s-eks-%d", n.Channel, n.Number)},
		Spec:       eksd.ReleaseSpec{Channel: n.Channel, Number: n.Number},
		Status:     eksd.ReleaseStatus{Components: comps},
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", n.File, err)
	}
	return r, nil
}

// Render returns the embedded manifest file for the note.
func (n *Note) Render() ([]byte, error) {
	r, err := n.Release()
	if err != nil {
		return nil, err
	}
	body, err := yaml.Marshal(r)
	if err != nil {
		return nil, err
	}
	header := fmt.Sprintf(`# Generated by pkg/eksd/internal/gen from the release notes of EKS-D %s
# (image table only). DO NOT EDIT. Binary checksums are unknown here (""):
# verify downloads against the published manifest
# %s
`, r, r.ManifestURL())
	return append([]byte(header), body...), nil
}

// FileName is the embedded manifest's name: kubernetes-1-36-eks-7.yaml.
func (n *Note) FileName() string {
	return fmt.Sprintf("kubernetes-%s-eks-%d.yaml", n.Channel, n.Number)
}
