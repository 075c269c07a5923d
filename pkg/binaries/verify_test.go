package binaries

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
)

func TestVerifyUsesOneChecksumSha256First(t *testing.T) {
	data := []byte("kubelet")
	s256 := sha256.Sum256(data)
	s512 := sha512.Sum512(data)
	good256, good512 := hex.EncodeToString(s256[:]), hex.EncodeToString(s512[:])
	bad := "00"
	for _, tc := range []struct {
		name           string
		sha256, sha512 string
		algo           string // of a mismatch; "" when it verifies
	}{
		{"both right", good256, good512, ""},
		{"sha512 only", "", good512, ""},
		{"sha256 only", good256, "", ""},
		{"sha256 wrong", bad, good512, "sha256"},
		{"sha512 wrong, sha256 absent", "", bad, "sha512"},
		{"sha256 wrong, sha512 absent", bad, "", "sha256"},
	} {
		err := verifyBytes(eksd.Binary{Name: "kubelet", SHA256: tc.sha256, SHA512: tc.sha512}, data, "test")
		var ce *ChecksumError
		switch {
		case tc.algo == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.algo != "" && (!errors.As(err, &ce) || ce.Algo != tc.algo):
			t.Errorf("%s: err %v, want a %s mismatch", tc.name, err, tc.algo)
		}
	}
}
