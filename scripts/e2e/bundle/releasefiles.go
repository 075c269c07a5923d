package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
)

// releaseFile is a file of a component other than kubernetes that the
// bundle carries and its manifest lists: containerd, runc or the CNI
// plugins, as their projects publish it for linux/amd64.
type releaseFile struct {
	name        string // the component: eksd.ContainerdComponent, ...
	version     string // its gitTag, e.g. v2.4.2
	fileName    string // the asset, e.g. containerd-static-2.4.2-linux-amd64.tar.gz
	uri         string
	description string
	data        []byte
}

// The binaries of each packed file, under -bin.
var (
	containerdBinaries = []string{"containerd", "containerd-shim-runc-v2", "ctr"}
	runcBinary         = "runc"
	cniDir             = "cni"
)

// releaseFileInputs lists the files under binDir that releaseFiles packs,
// for the stamp.
func releaseFileInputs(binDir string) ([]string, error) {
	var in []string
	for _, b := range append(append([]string{}, containerdBinaries...), runcBinary) {
		if p := filepath.Join(binDir, b); exists(p) {
			in = append(in, p)
		}
	}
	plugins, err := cniPlugins(binDir)
	for _, p := range plugins {
		in = append(in, filepath.Join(binDir, cniDir, p))
	}
	return in, err
}

// releaseFiles packs containerd, runc and the CNI plugins of binDir as
// their releases publish them, each at the version its binary reports. A
// file whose binaries binDir lacks is left out (said on stderr): its node
// then needs it installed some other way.
func releaseFiles(binDir string, r *eksd.Release) ([]releaseFile, error) {
	var files []releaseFile
	missing := func(what string) {
		fmt.Fprintf(os.Stderr, "bundle: no %s in %s: the release lists none\n", what, binDir)
	}

	if allExist(binDir, containerdBinaries) {
		v, err := reportedTag(filepath.Join(binDir, "containerd"), 2)
		if err != nil {
			return nil, err
		}
		var entries []tarEntry
		entries = append(entries, tarEntry{name: "bin/"})
		for _, b := range containerdBinaries {
			entries = append(entries, tarEntry{name: "bin/" + b, path: filepath.Join(binDir, b)})
		}
		data, err := tarGz(entries)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("containerd-static-%s-linux-amd64.tar.gz", strings.TrimPrefix(v, "v"))
		files = append(files, releaseFile{
			name: eksd.ContainerdComponent, version: v, fileName: name, data: data,
			uri:         "https://github.com/containerd/containerd/releases/download/" + v + "/" + name,
			description: "containerd " + v + " static binaries (containerd, containerd-shim-runc-v2, ctr) for linux/amd64",
		})
	} else {
		missing(strings.Join(containerdBinaries, ", "))
	}

	if p := filepath.Join(binDir, runcBinary); exists(p) {
		v, err := reportedTag(p, 2)
		if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		files = append(files, releaseFile{
			name: eksd.RuncComponent, version: v, fileName: "runc.amd64", data: data,
			uri:         "https://github.com/opencontainers/runc/releases/download/" + v + "/runc.amd64",
			description: "runc " + v + " static binary for linux/amd64",
		})
	} else {
		missing(runcBinary)
	}

	plugins, err := cniPlugins(binDir)
	if err != nil {
		return nil, err
	}
	if len(plugins) > 0 {
		v, err := reportedTag(filepath.Join(binDir, cniDir, plugins[0]), 3)
		if err != nil {
			return nil, err
		}
		entries := []tarEntry{{name: "./"}}
		for _, p := range plugins {
			entries = append(entries, tarEntry{name: "./" + p, path: filepath.Join(binDir, cniDir, p)})
		}
		data, err := tarGz(entries)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("cni-plugins-linux-amd64-%s.tar.gz", v)
		files = append(files, releaseFile{
			name: eksd.CNIPluginsComponent, version: v, fileName: name, data: data,
			// Where EKS-D publishes its build of the plugins.
			uri: fmt.Sprintf("https://distro.eks.amazonaws.com/kubernetes-%s/releases/%d/artifacts/plugins/%s/%s",
				r.Channel(), r.Number(), v, name),
			description: "cni-plugins tarball for linux/amd64",
		})
	} else {
		missing(cniDir + "/ plugins")
	}
	return files, nil
}

// asComponent is the manifest's component for f, as EKS-D lists its own
// (the cni-plugins one is EKS-D's shape exactly).
func (f releaseFile) asComponent() eksd.Component {
	s256, s512 := sha256.Sum256(f.data), sha512.Sum512(f.data)
	return eksd.Component{
		Name:   f.name,
		GitTag: f.version,
		Assets: []eksd.Asset{{
			Name:        f.fileName,
			Type:        eksd.AssetTypeArchive,
			Description: f.description,
			OS:          "linux",
			Arch:        []string{"amd64"},
			Archive: &eksd.AssetArchive{
				URI:    f.uri,
				SHA256: hex.EncodeToString(s256[:]),
				SHA512: hex.EncodeToString(s512[:]),
			},
		}},
	}
}

// setComponent puts c into r in place of the component of its name, or
// after the others.
func setComponent(r *eksd.Release, c eksd.Component) {
	for i := range r.Status.Components {
		if r.Status.Components[i].Name == c.Name {
			r.Status.Components[i] = c
			return
		}
	}
	r.Status.Components = append(r.Status.Components, c)
}

// checkManifest parses the manifest as eksd-kata does and checks that it
// names each carried file with that file's checksums.
func checkManifest(manifest []byte, carried []releaseFile) error {
	r, err := eksd.Parse(manifest)
	if err != nil {
		return fmt.Errorf("the release written: %w", err)
	}
	for _, f := range carried {
		a, ok := r.Archive(f.name, "amd64")
		s256 := sha256.Sum256(f.data)
		if !ok || a.FileName != f.fileName || a.SHA256 != hex.EncodeToString(s256[:]) || a.Version != f.version {
			return fmt.Errorf("the release written lists %s as %+v, want %s %s", f.name, a, f.fileName, f.version)
		}
	}
	return nil
}

// tarEntry is a directory (name ends in /) or the file at path.
type tarEntry struct {
	name, path string
}

// tarGz is a gzipped tar of entries, every one root's, mode 0755, from the
// epoch: the same files give the same bytes.
func tarGz(entries []tarEntry) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o755, ModTime: epoch, Uname: "root", Gname: "root", Format: tar.FormatUSTAR}
		var data []byte
		if strings.HasSuffix(e.name, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			if data, err = os.ReadFile(e.path); err != nil {
				return nil, err
			}
			h.Typeflag, h.Size = tar.TypeReg, int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// reportedTag is the version bin --version says it is, as a git tag
// (v1.2.3): the field'th word (from 0) of its first line.
func reportedTag(bin string, field int) (string, error) {
	out, err := exec.Command(bin, "--version").CombinedOutput() // the CNI plugins print it on stderr
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", bin, err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	words := strings.Fields(line)
	if len(words) <= field || !strings.ContainsAny(words[field], "0123456789") {
		return "", fmt.Errorf("%s --version: no version in %q", bin, line)
	}
	return "v" + strings.TrimPrefix(words[field], "v"), nil
}

// cniPlugins are the executables in binDir/cni, sorted; none without that
// directory.
func cniPlugins(binDir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(binDir, cniDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func allExist(dir string, names []string) bool {
	for _, n := range names {
		if !exists(filepath.Join(dir, n)) {
			return false
		}
	}
	return true
}
