package binaries

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
)

// ChecksumError is a file whose content is not what the manifest says.
type ChecksumError struct {
	Name, Source, Algo, Want, Got string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s from %s: %s mismatch: the manifest says %s, the file has %s (nothing was installed)",
		e.Name, e.Source, e.Algo, e.Want, e.Got)
}

// hasher computes every checksum the manifest gives for b while the bytes
// stream past, so a download is read only once.
type hasher struct {
	b      eksd.Binary
	sha256 hash.Hash
	sha512 hash.Hash
}

func newHasher(b eksd.Binary) *hasher {
	h := &hasher{b: b}
	if b.SHA256 != "" {
		h.sha256 = sha256.New()
	}
	if b.SHA512 != "" {
		h.sha512 = sha512.New()
	}
	return h
}

func (h *hasher) Write(p []byte) (int, error) {
	if h.sha256 != nil {
		h.sha256.Write(p)
	}
	if h.sha512 != nil {
		h.sha512.Write(p)
	}
	return len(p), nil
}

// verify checks what was written against the manifest; source names where
// the bytes came from, for the error.
func (h *hasher) verify(source string) error {
	check := func(algo, want string, sum hash.Hash) error {
		if sum == nil {
			return nil
		}
		got := hex.EncodeToString(sum.Sum(nil))
		if !strings.EqualFold(got, strings.TrimSpace(want)) {
			return &ChecksumError{Name: h.b.Name, Source: source, Algo: algo, Want: want, Got: got}
		}
		return nil
	}
	if err := check("sha512", h.b.SHA512, h.sha512); err != nil {
		return err
	}
	return check("sha256", h.b.SHA256, h.sha256)
}

// algos names the checksums verified, for messages.
func algos(b eksd.Binary) string {
	var a []string
	if b.SHA512 != "" {
		a = append(a, "sha512")
	}
	if b.SHA256 != "" {
		a = append(a, "sha256")
	}
	return strings.Join(a, "+")
}

// verifyBytes checks data in memory against b.
func verifyBytes(b eksd.Binary, data []byte, source string) error {
	h := newHasher(b)
	_, _ = h.Write(data)
	return h.verify(source)
}
