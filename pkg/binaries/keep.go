package binaries

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// keep copies the binary at p to dst before it is replaced (the kernel
// copies; nothing is held in memory). A copy cut short leaves no file, and
// the binary at p is only replaced after it.
func keep(h *host.Host, p, dst string) error {
	f, err := h.FS.OpenInput(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("keeping %s: %w", p, err)
	}
	defer f.Close()
	if err := h.FS.CopyFile(dst, f, 0o755, nil); err != nil {
		return fmt.Errorf("keeping %s as %s: %w", p, dst, err)
	}
	return nil
}

// Restore puts a kept binary back in its place: a rollback.
type Restore struct {
	From, Path string
	// Binary has the checksums From is verified against, when its release
	// has them.
	Binary eksd.Binary
}

func (c *Restore) Summary() string {
	s := fmt.Sprintf("restore %s from %s", c.Path, c.From)
	if c.Binary.Verifiable() {
		s += " (" + algo(c.Binary) + " verified)"
	}
	return s
}

func (c *Restore) Apply(_ context.Context, h *host.Host) error {
	data, err := h.FS.ReadInput(c.From, maxBinary)
	if err != nil {
		return err
	}
	if c.Binary.Verifiable() {
		if err := verifyBytes(c.Binary, data, c.From); err != nil {
			return err
		}
	}
	if _, err := h.FS.WriteFile(c.Path, data, 0o755); err != nil {
		return err
	}
	if !c.Binary.Verifiable() {
		return nil
	}
	return remember(h, c.Path, c.Binary)
}

// PlanRestore plans putting back the binaries kept in dir (Step.Keep) into
// installDir (empty: the default), each checked against rel's checksums
// when rel (the release they were kept from) has them: a kept binary that
// is not rel's is refused, as bad input, before anything changes. A binary
// already back, or never kept, is left as it is.
func PlanRestore(h *host.Host, rel *eksd.Release, arch, dir, installDir string) ([]plan.Change, error) {
	s := &Step{Release: rel, Arch: arch, InstallDir: installDir}
	var out []plan.Change
	for _, name := range eksd.RequiredBinaries {
		from, to := path.Join(dir, name), path.Join(s.installDir(), name)
		kept, err := h.FS.ReadInput(from, maxBinary)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var b eksd.Binary
		if rel != nil {
			if b, err = rel.Binary(name, s.arch()); err != nil {
				return nil, badinput.Wrap(err)
			}
			if err := verifyBytes(b, kept, from); err != nil {
				return nil, badinput.Wrap(fmt.Errorf("refusing to restore it: %w", err))
			}
		}
		cur, err := h.FS.ReadInput(to, maxBinary)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if err == nil && bytes.Equal(cur, kept) {
			if fi, err := h.FS.Stat(to); err == nil && fi.Mode().Perm() == 0o755 {
				continue
			}
		}
		out = append(out, &Restore{From: from, Path: to, Binary: b})
	}
	return out, nil
}
