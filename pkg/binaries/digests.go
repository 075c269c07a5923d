package binaries

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"sync"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// DigestsFile remembers which verified binary we installed at each path,
// with the file's identity at the time (inode, size, mtime, ctime), so a
// re-run trusts an unchanged file without hashing ~200 MB again. It only
// ever saves work: any change to the file changes its ctime, and a missing,
// stale or unreadable entry means hashing as before.
const DigestsFile = "/var/lib/eksd-kata/binaries.json"

type digestEntry struct {
	Identity host.Identity `json:"identity"`
	SHA256   string        `json:"sha256,omitempty"`
	SHA512   string        `json:"sha512,omitempty"`
}

func loadDigests(h *host.Host) map[string]digestEntry {
	m := map[string]digestEntry{}
	data, err := h.FS.ReadText(DigestsFile)
	if err == nil {
		_ = json.Unmarshal(data, &m) // a corrupt cache is an empty one
	}
	return m
}

// knownGood reports whether the file at p is, unchanged, the one we
// installed with b's checksums.
func knownGood(h *host.Host, p string, b eksd.Binary) bool {
	e, ok := loadDigests(h)[p]
	if !ok || e.SHA256 != b.SHA256 || e.SHA512 != b.SHA512 {
		return false
	}
	fi, err := h.FS.Stat(p)
	if err != nil {
		return false
	}
	id, ok := host.IdentityOf(fi)
	return ok && id == e.Identity && fi.Mode().Perm() == 0o755
}

var digestsMu sync.Mutex

// remember records the verified binary just installed at p.
func remember(h *host.Host, p string, b eksd.Binary) error {
	// The installs of a group run together: one read-modify-write of the
	// file at a time (the run's lock keeps other processes out).
	digestsMu.Lock()
	defer digestsMu.Unlock()
	fi, err := h.FS.Stat(p)
	if err != nil {
		return err
	}
	id, ok := host.IdentityOf(fi)
	if !ok {
		return nil
	}
	m := loadDigests(h)
	m[p] = digestEntry{Identity: id, SHA256: b.SHA256, SHA512: b.SHA512}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	_, err = h.FS.WriteFile(DigestsFile, append(data, '\n'), 0o644)
	if errors.Is(err, fs.ErrPermission) {
		return nil // only a speed-up
	}
	return err
}

// verifications remembers, for this process, the operator's artifacts
// checked against the manifest, or being checked: a run verifies each at
// plan time, plans again before applying and
// installs from it; hashing 200 MB three times was most of the step. Keyed
// by path and file identity, so a file changed in between is checked again.
var verifications sync.Map // artifactKey -> *verification

type verification struct {
	done chan struct{} // closed once err is set
	err  error
}

// verified reports whether the artifact known by key was checked and found
// right.
func verified(key artifactKey) bool {
	v, ok := verifications.Load(key)
	if !ok {
		return false
	}
	select {
	case <-v.(*verification).done:
		return v.(*verification).err == nil
	default:
		return false
	}
}

type artifactKey struct {
	path      string
	id        host.Identity
	checksums string // the manifest's sha512 and sha256 it was checked against
}

func artifactKeyOf(p string, b eksd.Binary) (artifactKey, bool) {
	fi, err := host.StatInput(p)
	if err != nil {
		return artifactKey{}, false
	}
	return artifactKeyFrom(p, fi, b)
}

// artifactKeyOfFile is artifactKeyOf for p open as f.
func artifactKeyOfFile(p string, f *os.File, b eksd.Binary) (artifactKey, bool) {
	fi, err := f.Stat()
	if err != nil {
		return artifactKey{}, false
	}
	return artifactKeyFrom(p, fi, b)
}

func artifactKeyFrom(p string, fi os.FileInfo, b eksd.Binary) (artifactKey, bool) {
	id, ok := host.IdentityOf(fi)
	return artifactKey{path: p, id: id, checksums: b.SHA512 + b.SHA256}, ok
}
