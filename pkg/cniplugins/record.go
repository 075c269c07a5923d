package cniplugins

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// RecordFile says which tarball's plugins the last install put where, and
// the sha256 of each: a re-run checks the files against it instead of
// fetching the tarball again to compare. It only saves work: the files on
// disk are checked each time, and a missing or stale record means an
// install that writes only the plugins that differ.
const RecordFile = "/var/lib/eksd-kata/cni-plugins.json"

type record struct {
	Archive string            `json:"archive"` // the tarball's file name
	SHA256  string            `json:"sha256"`  // the tarball's
	Dir     string            `json:"dir"`
	Plugins map[string]string `json:"plugins"` // name → sha256
}

// record is what RecordFile holds once t is installed into dir.
func (t *tarball) record(a eksd.Archive, dir string) []byte {
	r := record{Archive: a.FileName, SHA256: t.sha256, Dir: dir, Plugins: map[string]string{}}
	for name, data := range t.plugins {
		sum := sha256.Sum256(data)
		r.Plugins[name] = hex.EncodeToString(sum[:])
	}
	b, _ := json.MarshalIndent(r, "", "  ") // maps of strings always marshal
	return append(b, '\n')
}

// loadRecord reads RecordFile; a missing or corrupt one is empty.
func loadRecord(h *host.Host) record {
	var r record
	if data, err := h.FS.ReadText(RecordFile); err == nil {
		_ = json.Unmarshal(data, &r)
	}
	return r
}

// matches reports whether a's tarball was installed into dir and every
// plugin it holds is there still, unchanged.
func (r record) matches(h *host.Host, a eksd.Archive, dir string) bool {
	if r.SHA256 == "" || !strings.EqualFold(r.SHA256, a.SHA256) || r.Dir != dir || len(r.Plugins) == 0 {
		return false
	}
	for name, sum := range r.Plugins {
		if name != path.Base(name) || strings.HasPrefix(name, ".") || !installed(h, path.Join(dir, name), sum) {
			return false
		}
	}
	return true
}
