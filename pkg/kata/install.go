package kata

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/artifacts"
	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Newest is the newest Kata release eksd-kata carries a checksum for: what
// the hints suggest installing. (A function: the table is read on first
// use, not by every run.)
func Newest() string { return artifacts.Versions(artifacts.Kata)[0] }

// Install puts a verified kata-static tarball into /opt/kata.
type Install struct {
	Version string // the release, when --install-kata named one
	From    string // where the tarball comes from: a file or a URL
	File    artifacts.File
	Arch    string // the architecture its binaries must be built for
	step    *Step
	data    []byte // a local tarball, read and checked while planning
}

func (c *Install) Summary() string {
	what := "Kata"
	if c.Version != "" {
		what += " " + c.Version
	}
	return fmt.Sprintf("install %s from %s (sha256 %s…) into %s", what, c.From, c.File.SHA256[:12], Dir)
}

func (c *Install) Apply(ctx context.Context, h *host.Host) error {
	data := c.data
	if data == nil {
		var err error
		if data, err = c.step.getter(c.Version != "").Get(ctx, c.File); err != nil {
			return err
		}
		// Verified, it is the file named; whether it runs here is its ELF.
		if err := checkArch(data, c.Arch); err != nil {
			return badinput.Wrap(fmt.Errorf("%s: %w", c.From, err))
		}
	}
	tr, done, err := tarReader(data)
	if err != nil {
		return fmt.Errorf("%s: %w", c.From, err)
	}
	defer done()
	// The marker travels inside the new tree: installed and recorded at once.
	marker := map[string][]byte{path.Base(Marker): []byte(c.File.SHA256 + "\n")}
	if err := h.FS.InstallTree(Dir, tr, underOptKata, marker); err != nil {
		err = fmt.Errorf("%s: %w", c.From, err)
		// Its checksum says which archive this is, not that it is safe.
		var unsafe *host.UnsafeEntryError
		if errors.As(err, &unsafe) {
			return badinput.Wrap(err)
		}
		return err
	}
	return nil
}

// underOptKata keeps the entries of the tarball's ./opt/kata tree.
func underOptKata(name string) (string, bool) {
	name = strings.TrimPrefix(name, "./")
	if name == "opt/kata" || name == "opt/kata/" {
		return ".", true
	}
	return strings.CutPrefix(name, "opt/kata/")
}

// versionArg is a release version as --install-kata takes it: 3.32.0,
// v3.32.0, or a line (3.32, 3.32.x) for its newest patch.
var versionArg = regexp.MustCompile(`^v?[0-9]+\.[0-9]+(\.[0-9]+|\.x)?$`)

// source is what --install-kata names: a release version, a URL or a file.
type source struct{ version, url, file string }

// parseSource tells them apart: a URL has a scheme; a path that exists, has
// a '/' or is named like a tarball is a file; then a version.
func parseSource(s string) (source, error) {
	switch {
	case artifacts.IsURL(s):
		return source{url: s}, nil
	case strings.Contains(s, "/") || strings.Contains(s, ".tar") || host.InputExists(s):
		return source{file: s}, nil
	case versionArg.MatchString(s):
		return source{version: strings.TrimPrefix(s, "v")}, nil
	}
	return source{}, fmt.Errorf("--install-kata %s: want a Kata release version (such as %s), a kata-static tarball file or an https URL (no such file here)", s, Newest())
}

// planInstall returns the install change, or nil when the tarball with this
// checksum is what /opt/kata holds. A local tarball (a file, or a release's
// from --artifacts-dir) is verified and its entries and architecture
// checked now, so a wrong or unsafe one stops the run before anything
// changed; a download is checked before it is unpacked.
func (s *Step) planInstall(ctx context.Context, h *host.Host) (*Install, error) {
	src, err := parseSource(s.Install)
	if err != nil {
		return nil, badinput.Wrap(err)
	}
	c := &Install{Arch: s.arch(), step: s}
	switch {
	case src.version != "":
		if c.File, err = s.release(src.version); err != nil {
			return nil, badinput.Wrap(err)
		}
		c.Version, c.From = c.File.Version, c.File.URL
		if s.Artifacts.Dir != "" {
			c.From = filepath.Join(s.Artifacts.Dir, c.File.Name)
		}
	case src.url != "":
		if err := artifacts.CheckURL(src.url); err != nil {
			return nil, badinput.Wrap(fmt.Errorf("--install-kata %s: want a file or an https URL (plain http only to loopback)", s.Install))
		}
		c.File = artifacts.File{Project: artifacts.Kata, Name: path.Base(src.url), URL: src.url, Arch: c.Arch}
		c.From = src.url
	default:
		c.File = artifacts.File{Project: artifacts.Kata, Name: path.Base(src.file), Arch: c.Arch}
		c.From = src.file
	}
	if c.File.SHA256 == "" {
		if c.File.SHA256, err = s.expectedSHA256(c.File.Name); err != nil {
			return nil, badinput.Wrap(err)
		}
	}
	if cur, err := h.FS.ReadText(Marker); err == nil && strings.TrimSpace(string(cur)) == c.File.SHA256 {
		return nil, nil
	}
	switch {
	case src.file != "":
		c.data, err = artifacts.Local(src.file, c.File.SHA256)
		if err != nil {
			err = fmt.Errorf("--install-kata: %w", err)
		}
	case src.version != "" && s.Artifacts.Dir != "":
		c.data, err = s.Artifacts.Get(ctx, c.File)
	default:
		return c, nil // downloaded, verified and checked when applied
	}
	if err != nil {
		return nil, badinput.Wrap(err)
	}
	if s.checked != c.File.SHA256 {
		err := checkArch(c.data, c.Arch)
		if err == nil {
			var tr *tar.Reader
			var done func()
			if tr, done, err = tarReader(c.data); err == nil {
				err = host.CheckArchive(tr, underOptKata)
				done()
			}
		}
		if err != nil {
			return nil, badinput.Wrap(fmt.Errorf("--install-kata %s: %w", s.Install, err))
		}
		s.checked = c.File.SHA256 // a run plans twice: check it once
	}
	return c, nil
}

// release is the kata-static file of a version for this host, with the
// checksum eksd-kata carries or, for a version it carries none for, the
// one the operator gives.
func (s *Step) release(version string) (artifacts.File, error) {
	f, err := artifacts.Lookup(artifacts.Kata, version, s.arch())
	if s.ReleaseURL != "" && f.Name != "" {
		f.URL = strings.TrimSuffix(s.ReleaseURL, "/") + "/" + f.Name
	}
	given := s.SHA256 != "" || s.ChecksumFile != ""
	var unknown *artifacts.UnknownVersionError
	switch {
	case errors.As(err, &unknown) && f.Name == "":
		return f, fmt.Errorf("--install-kata %s: %v; name an exact version to install another one, with its --kata-sha256", version, err)
	case errors.As(err, &unknown) && !given:
		return f, fmt.Errorf("--install-kata %s: %v: to install it, pass --kata-sha256 SUM, the sha256 of %s", version, err, f.URL)
	case errors.As(err, &unknown):
		return f, nil // the operator's checksum is asked for next
	case err != nil:
		return f, fmt.Errorf("--install-kata %s: %w", version, err)
	case given:
		sum, err := s.expectedSHA256(f.Name)
		if err != nil {
			return f, err
		}
		if sum != f.SHA256 {
			return f, fmt.Errorf("--install-kata %s: the sha256 given, %s, is not the %s eksd-kata carries for %s: not installing it", version, sum, f.SHA256, f.Name)
		}
	}
	return f, nil
}

// getter gets a download: a release's from --artifacts-dir when one is
// given, a URL's always from the URL.
func (s *Step) getter(release bool) artifacts.Getter {
	g := s.Artifacts
	if !release {
		g.Dir = ""
	}
	return g
}

func (s *Step) arch() string {
	if s.Arch != "" {
		return s.Arch
	}
	return runtime.GOARCH
}

// expectedSHA256 comes from --kata-sha256 or a sha256sum-style file naming
// the tarball name.
func (s *Step) expectedSHA256(name string) (string, error) {
	if s.SHA256 != "" {
		if !artifacts.IsSHA256(s.SHA256) {
			return "", fmt.Errorf("--kata-sha256 %q: want 64 hex digits", s.SHA256)
		}
		return strings.ToLower(s.SHA256), nil
	}
	if s.ChecksumFile == "" {
		return "", fmt.Errorf("--install-kata %s: refusing to install without a checksum; pass --kata-sha256 SUM or --kata-checksum-file FILE (the .sha256 file published beside the release), or name a release version eksd-kata knows (%s)", s.Install, strings.Join(artifacts.Versions(artifacts.Kata), ", "))
	}
	data, err := host.ReadInput(absolute(s.ChecksumFile), host.MaxText)
	if err != nil {
		return "", fmt.Errorf("--kata-checksum-file: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && strings.TrimPrefix(f[1], "*") == name && artifacts.IsSHA256(f[0]) {
			return strings.ToLower(f[0]), nil
		}
	}
	return "", fmt.Errorf("--kata-checksum-file %s has no sha256 line for %s", s.ChecksumFile, name)
}

// elfMachines are the ELF machines of the architectures eksd-kata installs.
var elfMachines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// checkArch refuses a tarball built for another architecture than arch:
// its checksum only says which file it is, and Kata of another
// architecture installs without a complaint, to fail when the first Kata
// pod starts. The first ELF binary under opt/kata/bin (the shim, in a
// release) tells.
func checkArch(data []byte, arch string) error {
	want, ok := elfMachines[arch]
	if !ok {
		return fmt.Errorf("eksd-kata installs Kata for amd64 and arm64, not %s", arch)
	}
	tr, done, err := tarReader(data)
	if err != nil {
		return err
	}
	defer done()
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return fmt.Errorf("no ELF binary under opt/kata/bin: not a kata-static tarball")
		}
		if err != nil {
			return err
		}
		rel, ok := underOptKata(hdr.Name)
		if !ok || hdr.Typeflag != tar.TypeReg || path.Dir(rel) != "bin" {
			continue
		}
		got, ok := elfMachine(tr)
		if !ok {
			continue // a script
		}
		if got != want {
			return fmt.Errorf("%s is built for %s (ELF %s), and this host is %s: install the %s tarball (kata-static-VERSION-%s)", hdr.Name, archOf(got), got, arch, arch, arch)
		}
		return nil
	}
}

// elfMachine reads e_machine from the start of an ELF file; ok is false
// for anything else.
func elfMachine(r io.Reader) (elf.Machine, bool) {
	var h [20]byte // e_ident, e_type, e_machine
	if _, err := io.ReadFull(r, h[:]); err != nil || string(h[:4]) != elf.ELFMAG {
		return 0, false
	}
	var order binary.ByteOrder = binary.LittleEndian
	if elf.Data(h[elf.EI_DATA]) == elf.ELFDATA2MSB {
		order = binary.BigEndian
	}
	return elf.Machine(order.Uint16(h[18:])), true
}

func archOf(m elf.Machine) string {
	for arch, em := range elfMachines {
		if em == m {
			return arch
		}
	}
	return "another architecture"
}

// tarReader opens a tarball compressed with xz (kata-static ≤ 3.20), zstd
// (≥ 3.21) or gzip, told apart by their magic bytes; done releases the
// decompressor.
func tarReader(data []byte) (tr *tar.Reader, done func(), err error) {
	var r io.Reader
	done = func() {}
	switch {
	case bytes.HasPrefix(data, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		if r, err = xz.NewReader(bytes.NewReader(data)); err != nil {
			return nil, nil, err
		}
	case bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, nil, err
		}
		r, done = zr, zr.Close
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		if r, err = gzip.NewReader(bytes.NewReader(data)); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, fmt.Errorf("not a kata-static tarball (.tar.xz, .tar.zst or .tar.gz)")
	}
	return tar.NewReader(r), done, nil
}

// absolute makes an operator's relative path absolute: files given on the
// command line are on the machine eksd-kata runs on, not under --root.
func absolute(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
