// Package redact hides the secrets a node's join needs (bootstrap tokens and
// certificate keys) in text shown to a person or kept in a log.
package redact

import (
	"bytes"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Hidden is what stands in for a secret.
const Hidden = "<redacted>"

// A bootstrap token has this shape wherever it appears; a certificate key is
// 64 hex digits, which a checksum or a digest is too: String hides those
// only in kubeadm's own output, where a bare one is the key, and a Set hides
// the keys it was told about anywhere.
var (
	tokenRE = regexp.MustCompile(`\b[a-z0-9]{6}\.[a-z0-9]{16}\b`)
	hexRE   = regexp.MustCompile(`(sha256:)?\b[a-fA-F0-9]{64}\b`)
)

// Tokens hides every bootstrap token in s.
func Tokens(s string) string { return tokenRE.ReplaceAllString(s, Hidden) }

// String hides bootstrap tokens and bare 64-hex-digit certificate keys in s,
// as kubeadm prints them. A discovery hash (sha256:<hex>) is public and stays.
func String(s string) string {
	return hexRE.ReplaceAllStringFunc(Tokens(s), func(m string) string {
		if len(m) > 64 {
			return m
		}
		return Hidden
	})
}

// minSecret keeps a short, malformed value from hiding common words: such a
// value fails validation and is never used as a secret.
const minSecret = 6

// Set is the secrets one run knows by value (from its flags or its
// configuration); its writers hide them and every token-shaped string.
type Set struct {
	mu     sync.RWMutex
	values []string
}

// Add remembers values as secrets; a nil Set knows only the token shape.
func (s *Set) Add(values ...string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		if len(v) >= minSecret && !slices.Contains(s.values, v) {
			s.values = append(s.values, v)
		}
	}
}

// Hide returns s with every known secret and bootstrap token hidden.
func (s *Set) Hide(text string) string {
	if s == nil {
		return Tokens(text)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range s.values {
		text = strings.ReplaceAll(text, v, Hidden)
	}
	return Tokens(text)
}

// FlagValues remembers the values of the named flags in args, as
// "--name value" or "--name=value", before the command line is parsed, so
// that even a parse error cannot show them.
func (s *Set) FlagValues(args []string, names ...string) {
	for i, a := range args {
		for _, n := range names {
			switch {
			case a == "--"+n && i+1 < len(args):
				s.Add(args[i+1])
			case strings.HasPrefix(a, "--"+n+"="):
				s.Add(strings.TrimPrefix(a, "--"+n+"="))
			}
		}
	}
}

// Writer returns a writer that passes whole lines (ended by \n or \r) to w
// with the secrets hidden; Flush writes what is left of a last line. A
// secret is never split across two writes to w.
func (s *Set) Writer(w io.Writer) *Writer { return &Writer{set: s, w: w} }

// Writer is a line-buffered, redacting writer; it is safe for concurrent use.
type Writer struct {
	set *Set
	w   io.Writer

	mu      sync.Mutex
	partial []byte
}

func (rw *Writer) Write(p []byte) (int, error) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.partial = append(rw.partial, p...)
	i := bytes.LastIndexAny(rw.partial, "\n\r")
	if i < 0 {
		return len(p), nil
	}
	out := rw.set.Hide(string(rw.partial[:i+1]))
	rw.partial = append(rw.partial[:0], rw.partial[i+1:]...)
	if _, err := io.WriteString(rw.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes a last line that had no end.
func (rw *Writer) Flush() error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if len(rw.partial) == 0 {
		return nil
	}
	out := rw.set.Hide(string(rw.partial))
	rw.partial = rw.partial[:0]
	_, err := io.WriteString(rw.w, out)
	return err
}
