package redact

import (
	"bytes"
	"strings"
	"testing"
)

const (
	token = "abcdef.0123456789abcdef"
	key   = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	hash  = "sha256:" + key
)

func TestString(t *testing.T) {
	in := "kubeadm join x --token " + token + " --discovery-token-ca-cert-hash " + hash + " --certificate-key " + key
	want := "kubeadm join x --token " + Hidden + " --discovery-token-ca-cert-hash " + hash + " --certificate-key " + Hidden
	if got := String(in); got != want {
		t.Fatalf("String:\n got %s\nwant %s", got, want)
	}
}

// TestWriterHidesSecretsSplitAcrossWrites: a secret written a byte at a
// time still never reaches the terminal; a checksum of the key's shape
// that the Set was not told about stays readable.
func TestWriterHidesSecretsSplitAcrossWrites(t *testing.T) {
	var s Set
	s.FlagValues([]string{"join", "--certificate-key=" + key, "--token", "short"}, "certificate-key", "token")
	var out bytes.Buffer
	w := s.Writer(&out)
	const sum = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	text := "key " + key + " token " + token + "\rchecksum " + sum + "\nlast " + key
	for i := range len(text) {
		if _, err := w.Write([]byte{text[i]}); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(out.String(), "last") {
		t.Fatalf("a line with no end was written before Flush: %q", out.String())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "key " + Hidden + " token " + Hidden + "\rchecksum " + sum + "\nlast " + Hidden
	if out.String() != want {
		t.Fatalf("got  %q\nwant %q", out.String(), want)
	}
	// "short" is below the length of any real secret: words stay.
	if got := s.Hide("a short word"); got != "a short word" {
		t.Fatalf("a short value was hidden: %q", got)
	}
}
