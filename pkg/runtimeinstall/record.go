package runtimeinstall

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
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

// mine is what the record says eksd-kata installed of a project, and how
// it stands on disk.
type mine struct {
	installed
	Recorded bool // the record has it
	Intact   bool // every program on disk, mode 0755, as recorded
	// Hashed: a program had to be hashed, its identity not the recorded
	// one (a run cut short before it recorded them, or a copy in place).
	Hashed bool
}

// ours reads the record of p and checks it against the disk.
func ours(h *host.Host, p artifacts.Project) mine {
	in, ok := readRecord(h)[p]
	if !ok || len(in.Files) == 0 {
		return mine{}
	}
	m := mine{installed: in, Recorded: true, Intact: true}
	for file, w := range in.Files {
		same, hashed := unchanged(h, file, w)
		m.Intact = m.Intact && same
		m.Hashed = m.Hashed || hashed
	}
	return m
}

// unchanged reports whether file is as w records it, and whether that
// took hashing it.
func unchanged(h *host.Host, file string, w writtenFile) (same, hashed bool) {
	fi, err := h.FS.Lstat(file)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o755 {
		return false, false
	}
	if id, ok := host.IdentityOf(fi); ok && id == w.Identity {
		return true, false
	}
	f, err := h.FS.OpenInput(file)
	if err != nil {
		return false, false
	}
	defer f.Close()
	sum := sha256.New()
	if _, err := io.Copy(sum, f); err != nil {
		return false, true
	}
	return hex.EncodeToString(sum.Sum(nil)) == w.SHA256, true
}

var recordMu sync.Mutex

// remember records the programs of a release file: before they are
// written (written false), then with the identities they were written with.
func remember(h *host.Host, p artifacts.Project, src Source, files map[string][]byte, written bool) error {
	in := installed{Version: src.Version, SHA256: src.SHA256, Files: map[string]writtenFile{}}
	for file, data := range files {
		sum := sha256.Sum256(data)
		in.Files[file] = writtenFile{SHA256: hex.EncodeToString(sum[:])}
	}
	return record1(h, p, in, written)
}

// record1 writes in as what eksd-kata installed of p, with the programs'
// identities as they are now when withIdentities.
func record1(h *host.Host, p artifacts.Project, in installed, withIdentities bool) error {
	recordMu.Lock()
	defer recordMu.Unlock()
	for file, w := range in.Files {
		w.Identity = host.Identity{}
		if withIdentities {
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

// restamp records anew the identities of eksd-kata's programs of a
// project, found intact by their sha256: later runs then trust them
// without hashing, and a run cut short before it recorded them is done.
type restamp struct {
	project artifacts.Project
	in      installed
}

func (c *restamp) Summary() string {
	return fmt.Sprintf("record eksd-kata's %s %s in %s (its programs are as installed, by their sha256)", c.project, c.in.Version, RecordFile)
}

func (c *restamp) Apply(_ context.Context, h *host.Host) error {
	return record1(h, c.project, c.in, true)
}
