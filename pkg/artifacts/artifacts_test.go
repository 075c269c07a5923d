package artifacts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLookupExactAndLine(t *testing.T) {
	f, err := Lookup(Containerd, "2.2.7", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "containerd-static-2.2.7-linux-amd64.tar.gz" || !f.Known() ||
		f.URL != "https://github.com/containerd/containerd/releases/download/v2.2.7/containerd-static-2.2.7-linux-amd64.tar.gz" {
		t.Errorf("got %+v", f)
	}
	for _, line := range []string{"2.2", "2.2.x", "v2.2"} {
		g, err := Lookup(Containerd, line, "amd64")
		if err != nil || g.Version != "2.2.7" {
			t.Errorf("Lookup(%q) = %v, %v; want the newest 2.2 patch carried, 2.2.7", line, g.Version, err)
		}
	}
	k, err := Lookup(Kata, "3.32.0", "arm64")
	if err != nil || k.Name != "kata-static-3.32.0-arm64.tar.zst" ||
		k.SHA256 != "8736c054d9223974735394f822000823baef509e1c33405ec798240fa9b6e4b5" {
		t.Errorf("kata 3.32.0 arm64: %+v, %v", k, err)
	}
	r, err := Lookup(Runc, "1.3.4", "amd64")
	if err != nil || r.URL != "https://github.com/opencontainers/runc/releases/download/v1.3.4/runc.amd64" {
		t.Errorf("runc: %+v, %v", r, err)
	}
}

func TestLookupUnknownVersionKeepsTheURL(t *testing.T) {
	f, err := Lookup(Kata, "3.21.0", "amd64")
	var unknown *UnknownVersionError
	if !errors.As(err, &unknown) {
		t.Fatalf("err = %v, want *UnknownVersionError", err)
	}
	if f.SHA256 != "" || f.URL != "https://github.com/kata-containers/kata-containers/releases/download/3.21.0/kata-static-3.21.0-amd64.tar.zst" {
		t.Errorf("file = %+v", f)
	}
	if !strings.Contains(err.Error(), "3.28.0 to 3.32.0") {
		t.Errorf("error does not say which versions are known: %v", err)
	}
	if old, _ := Lookup(Kata, "3.20.0", "amd64"); !strings.HasSuffix(old.Name, ".tar.xz") {
		t.Errorf("kata ≤ 3.20 is .tar.xz, got %s", old.Name)
	}
	if _, err := Lookup(Containerd, "2.9", "amd64"); !errors.As(err, &unknown) {
		t.Errorf("a line with no carried patch: %v", err)
	}
	for _, bad := range []string{"", "two", "2", "2.2.7.1", "2.-1.0"} {
		if _, err := Lookup(Containerd, bad, "amd64"); err == nil || errors.As(err, &unknown) {
			t.Errorf("Lookup(%q): %v, want a malformed-version error", bad, err)
		}
	}
	if _, err := Lookup(Containerd, "2.2.7", "riscv64"); err == nil {
		t.Error("an architecture eksd-kata does not install for was accepted")
	}
}

func TestVersionsNewestFirst(t *testing.T) {
	vs := Versions(Containerd)
	if vs[0] != "2.3.4" || Compare(vs[len(vs)-1], "1.7.20") != 0 {
		t.Errorf("versions = %v…%v", vs[0], vs[len(vs)-1])
	}
	if Compare("2.10.0", "2.9.9") <= 0 {
		t.Error("Compare is not numeric")
	}
	f, ok := Newest(Containerd, "amd64", func(v string) bool { return strings.HasPrefix(v, "1.7.") })
	if !ok || f.Version != "1.7.34" {
		t.Errorf("Newest 1.7 = %v %v", f.Version, ok)
	}
}

func TestGetVerifies(t *testing.T) {
	body := []byte("release file")
	sum := sha256.Sum256(body)
	good := hex.EncodeToString(sum[:])
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	ctx := context.Background()

	f := File{Name: "x.tar.gz", URL: srv.URL + "/x.tar.gz", SHA256: good}
	if data, err := (Getter{}).Get(ctx, f); err != nil || string(data) != string(body) {
		t.Fatalf("Get = %q, %v", data, err)
	}
	f.SHA256 = strings.Repeat("0", 64)
	var mismatch *ChecksumError
	if _, err := (Getter{}).Get(ctx, f); !errors.As(err, &mismatch) {
		t.Errorf("a wrong checksum: %v", err)
	}
	f.SHA256 = ""
	if _, err := (Getter{}).Get(ctx, f); err == nil {
		t.Error("a file without a checksum was fetched")
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.tar.gz"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	f = File{Name: "x.tar.gz", URL: "https://unreachable.invalid/x.tar.gz", SHA256: good}
	if data, err := (Getter{Dir: dir}).Get(ctx, f); err != nil || string(data) != string(body) {
		t.Errorf("from --artifacts-dir: %q, %v", data, err)
	}
	f.Name = "missing.tar.gz"
	if _, err := (Getter{Dir: dir}).Get(ctx, f); err == nil || !strings.Contains(err.Error(), "put missing.tar.gz there") {
		t.Errorf("missing from --artifacts-dir: %v", err)
	}
	for _, u := range []string{"http://example.com/x", "ftp://127.0.0.1/x", "file:///etc/passwd"} {
		if err := CheckURL(u); err == nil {
			t.Errorf("CheckURL(%q) accepted", u)
		}
	}
}
