package kata

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"path/filepath"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/release/fetch"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// maxTarball bounds a local kata-static tarball, read whole to be verified:
// releases are a few hundred MB.
const maxTarball = 2 << 30

// Install puts a verified kata-static tarball into /opt/kata.
type Install struct {
	Source string
	SHA256 string
	step   *Step
	data   []byte // a local tarball, read and verified while planning
}

func (c *Install) Summary() string {
	return fmt.Sprintf("install Kata from %s (sha256 %s…) into %s", c.Source, c.SHA256[:12], Dir)
}

func (c *Install) Apply(ctx context.Context, h *host.Host) error {
	data := c.data
	if data == nil {
		var err error
		if data, err = c.step.download(ctx, c.Source, c.SHA256); err != nil {
			return err
		}
	}
	tr, err := tarReader(data)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Source, err)
	}
	// The marker travels inside the new tree: installed and recorded at once.
	marker := map[string][]byte{path.Base(Marker): []byte(c.SHA256 + "\n")}
	if err := h.FS.InstallTree(Dir, tr, underOptKata, marker); err != nil {
		err = fmt.Errorf("%s: %w", c.Source, err)
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

// planInstall returns the install change, or nil when the tarball with this
// checksum is what /opt/kata holds. A local tarball is verified and its
// entries checked now, so a wrong or unsafe one stops the run before
// anything changed; a download is checked as it is unpacked.
func (s *Step) planInstall(h *host.Host) (*Install, error) {
	sum, err := s.expectedSHA256()
	if err != nil {
		return nil, badinput.Wrap(err)
	}
	if cur, err := h.FS.ReadText(Marker); err == nil && strings.TrimSpace(string(cur)) == sum {
		return nil, nil
	}
	c := &Install{Source: s.Install, SHA256: sum, step: s}
	if isURL(s.Install) {
		u, err := url.Parse(s.Install)
		if err != nil || !(u.Scheme == "https" || u.Scheme == "http" && config.IsLoopback(u.Hostname())) {
			return nil, badinput.Wrap(fmt.Errorf("--install-kata %s: want a file or an https URL (plain http only to loopback)", s.Install))
		}
		return c, nil
	}
	data, err := host.ReadInput(absolute(s.Install), maxTarball)
	if err != nil {
		return nil, badinput.Wrap(fmt.Errorf("--install-kata: %w", err))
	}
	if err := verify(data, sum, s.Install); err != nil {
		return nil, badinput.Wrap(err)
	}
	if s.checked != sum {
		tr, err := tarReader(data)
		if err == nil {
			err = host.CheckArchive(tr, underOptKata)
		}
		if err != nil {
			return nil, badinput.Wrap(fmt.Errorf("--install-kata %s: %w", s.Install, err))
		}
		s.checked = sum // a run plans twice: read it once
	}
	c.data = data
	return c, nil
}

// expectedSHA256 comes from --kata-sha256 or a sha256sum-style file.
func (s *Step) expectedSHA256() (string, error) {
	if s.SHA256 != "" {
		if !isHex64(s.SHA256) {
			return "", fmt.Errorf("--kata-sha256 %q: want 64 hex digits", s.SHA256)
		}
		return strings.ToLower(s.SHA256), nil
	}
	if s.ChecksumFile == "" {
		return "", fmt.Errorf("--install-kata %s: refusing to install without a checksum; pass --kata-sha256 SUM or --kata-checksum-file FILE (the .sha256 file published beside the release)", s.Install)
	}
	data, err := host.ReadInput(absolute(s.ChecksumFile), host.MaxText)
	if err != nil {
		return "", fmt.Errorf("--kata-checksum-file: %w", err)
	}
	base := path.Base(s.Install)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && strings.TrimPrefix(f[1], "*") == base && isHex64(f[0]) {
			return strings.ToLower(f[0]), nil
		}
	}
	return "", fmt.Errorf("--kata-checksum-file %s has no sha256 line for %s", s.ChecksumFile, base)
}

func (s *Step) download(ctx context.Context, src, sum string) ([]byte, error) {
	var data []byte
	err := fetch.Get(ctx, s.Client, src, fetch.Policy{}, func(r fetch.Response) error {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		if err := verify(b, sum, src); err != nil {
			return &fetch.Permanent{Err: err}
		}
		data = b
		return nil
	})
	return data, err
}

func verify(data []byte, want, source string) error {
	got := sha256.Sum256(data)
	if hex.EncodeToString(got[:]) != want {
		return fmt.Errorf("%s: sha256 is %x, want %s: not installing it", source, got, want)
	}
	return nil
}

// tarReader opens a tarball compressed with xz (kata-static ≤ 3.20), zstd
// (≥ 3.21) or gzip, told apart by their magic bytes.
func tarReader(data []byte) (*tar.Reader, error) {
	var r io.Reader
	switch {
	case bytes.HasPrefix(data, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		xr, err := xz.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		r = xr
	case bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		r = zr.IOReadCloser()
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		gr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		r = gr
	default:
		return nil, fmt.Errorf("not a kata-static tarball (.tar.xz, .tar.zst or .tar.gz)")
	}
	return tar.NewReader(r), nil
}

// absolute makes an operator's relative path absolute: files given on the
// command line are on the machine eksd-kata runs on, not under --root.
func absolute(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func isURL(s string) bool { return strings.Contains(s, "://") }

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
