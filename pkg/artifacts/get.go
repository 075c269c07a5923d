package artifacts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/release/fetch"
)

// MaxSize bounds a release file read whole to be verified: kata-static,
// the largest, is a few hundred MB.
const MaxSize = 2 << 30

// Getter gets release files, verified, before anything uses them.
type Getter struct {
	Client *http.Client
	Policy fetch.Policy
	// Dir is an operator's directory of release files (--artifacts-dir):
	// when set, files are read from DIR/<File.Name> and never downloaded.
	Dir string
}

// Get returns the bytes of f, from Dir or its URL (https, or plain http to
// loopback only), once their sha256 is f.SHA256. A file without a checksum
// is refused.
func (g Getter) Get(ctx context.Context, f File) ([]byte, error) {
	if !f.Known() {
		return nil, fmt.Errorf("%s: refusing to install without a checksum", f.Name)
	}
	if g.Dir != "" {
		p := filepath.Join(g.Dir, f.Name)
		data, err := host.ReadInput(p, MaxSize)
		if err != nil {
			return nil, fmt.Errorf("--artifacts-dir: %w (put %s there, from %s)", err, f.Name, f.URL)
		}
		return data, Verify(data, f.SHA256, p)
	}
	if err := CheckURL(f.URL); err != nil {
		return nil, err
	}
	var data []byte
	err := fetch.Get(ctx, g.Client, f.URL, g.Policy, func(r fetch.Response) error {
		b, err := io.ReadAll(io.LimitReader(r.Body, MaxSize+1))
		if err != nil {
			return err
		}
		if len(b) > MaxSize {
			return &fetch.Permanent{Err: fmt.Errorf("%s: larger than %d bytes", f.URL, MaxSize)}
		}
		if err := Verify(b, f.SHA256, f.URL); err != nil {
			return &fetch.Permanent{Err: err}
		}
		data = b
		return nil
	})
	return data, err
}

// Local reads an operator's file (a path on the machine eksd-kata runs on,
// never under --root) and verifies it.
func Local(path, sha string) ([]byte, error) {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	data, err := host.ReadInput(path, MaxSize)
	if err != nil {
		return nil, err
	}
	return data, Verify(data, sha, path)
}

// Verify compares data's sha256 with want (hex).
func Verify(data []byte, want, source string) error {
	got := sha256.Sum256(data)
	if hex.EncodeToString(got[:]) != strings.ToLower(want) {
		return &ChecksumError{Source: source, Got: hex.EncodeToString(got[:]), Want: want}
	}
	return nil
}

// ChecksumError is a file whose sha256 is not the expected one.
type ChecksumError struct{ Source, Got, Want string }

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s: sha256 is %s, want %s: not installing it", e.Source, e.Got, e.Want)
}

// CheckURL accepts https, and plain http only to a loopback host (a test
// server or a local mirror).
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || !(u.Scheme == "https" || u.Scheme == "http" && config.IsLoopback(u.Hostname())) {
		return fmt.Errorf("%s: want an https URL (plain http only to loopback)", s)
	}
	return nil
}

// IsURL tells a URL from a file path.
func IsURL(s string) bool { return strings.Contains(s, "://") }

// IsSHA256 reports whether s is 64 hex digits.
func IsSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
