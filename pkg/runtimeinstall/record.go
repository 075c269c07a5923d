package runtimeinstall

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"sync"

	"github.com/eksd-kata/eksd-kata/pkg/artifacts"
	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// RecordFile says which release files eksd-kata installed, and the sha256
// of each program it writes from them: recorded before the programs are
// written, and again with their identities once they are. A recorded
// program that is not on disk as recorded (a run cut short in the middle
// of an install, or a change by hand) makes the install incomplete, and
// the next run installs it again; a program unchanged since is trusted by
// its identity, else hashed. reset removes it with the files it records.
const RecordFile = "/var/lib/eksd-kata/runtime.json"

// installed is what one release file put on the host.
type installed struct {
	Version string `json:"version"`
	SHA256  string `json:"sha256"` // of the release file
	// Files are the programs written from it, by host path.
	Files map[string]writtenFile `json:"files"`
}

type writtenFile struct {
	SHA256   string        `json:"sha256"`
	Identity host.Identity `json:"identity"`
}

// record is the whole RecordFile: by project.
type record map[artifacts.Project]installed

func readRecord(h *host.Host) record {
	r := record{}
	if data, err := h.FS.ReadText(RecordFile); err == nil {
		_ = json.Unmarshal(data, &r) // a corrupt record is no record: all is installed again
	}
	return r
}

// ours returns what eksd-kata installed of p (ok false: nothing), and
// whether every program of it is on disk, mode 0755, as recorded.
func ours(h *host.Host, p artifacts.Project) (in installed, intact, ok bool) {
	in, ok = readRecord(h)[p]
	if !ok || len(in.Files) == 0 {
		return installed{}, false, false
	}
	for file, w := range in.Files {
		if !unchanged(h, file, w) {
			return in, false, true
		}
	}
	return in, true, true
}

func unchanged(h *host.Host, file string, w writtenFile) bool {
	fi, err := h.FS.Lstat(file)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o755 {
		return false
	}
	if id, ok := host.IdentityOf(fi); ok && id == w.Identity {
		return true
	}
	f, err := h.FS.OpenInput(file)
	if err != nil {
		return false
	}
	defer f.Close()
	sum := sha256.New()
	if _, err := io.Copy(sum, f); err != nil {
		return false
	}
	return hex.EncodeToString(sum.Sum(nil)) == w.SHA256
}

var recordMu sync.Mutex

// remember records the programs of a release file: before they are
// written (written false), then with the identities they were written with.
func remember(h *host.Host, p artifacts.Project, src Source, files map[string][]byte, written bool) error {
	recordMu.Lock()
	defer recordMu.Unlock()
	in := installed{Version: src.Version, SHA256: src.SHA256, Files: map[string]writtenFile{}}
	for file, data := range files {
		sum := sha256.Sum256(data)
		w := writtenFile{SHA256: hex.EncodeToString(sum[:])}
		if written {
			fi, err := h.FS.Lstat(file)
			if err != nil {
				return err
			}
			w.Identity, _ = host.IdentityOf(fi)
		}
		in.Files[file] = w
	}
	r := readRecord(h)
	r[p] = in
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = h.FS.WriteFile(RecordFile, append(data, '\n'), 0o644)
	return err
}
