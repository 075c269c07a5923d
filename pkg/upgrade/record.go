package upgrade

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"

	"github.com/eksd-kata/eksd-kata/pkg/binaries"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/noderecord"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// Dir keeps, per release an upgrade left, what a rollback puts back: the
// binaries it replaced and the node's record of then.
const Dir = "/var/lib/eksd-kata/upgrade"

// KeepDir is where an upgrade from the release called name (the record's
// "kubernetes-1-35-eks-13") keeps what it replaces.
func KeepDir(name string) string { return path.Join(Dir, name) }

// Kept record files, in a KeepDir.
const (
	keptRecord   = "node.json"
	keptManifest = "release.yaml"
)

// maxRecordFile bounds the record files copied (a manifest is ~60 KB).
const maxRecordFile = 4 << 20

// RecordStep is the upgrade verb's last step "record": the node's record
// says the release it runs now. The record it replaces, and the manifest
// beside it, are kept in the KeepDir of their release first.
type RecordStep struct {
	// New is the record of the upgraded node; Release its release.
	New     *noderecord.Record
	Release *eksd.Release
}

func (s *RecordStep) Name() string { return "record" }

func (s *RecordStep) Plan(_ context.Context, h *host.Host) (*plan.Plan, error) {
	p := &plan.Plan{}
	cur, err := noderecord.Read(h)
	if err != nil {
		return nil, err
	}
	if noderecord.Equal(cur, s.New) {
		return p, nil
	}
	if cur.Release.Name != s.New.Release.Name {
		dir := KeepDir(cur.Release.Name)
		files := [][2]string{{noderecord.Path, keptRecord}}
		// A run cut short between the new manifest and the record leaves
		// the new manifest beside the old record: the copy it kept of the
		// old one before stays.
		if m, err := noderecord.ReadRelease(h); err == nil && m.String() == cur.Release.Name {
			files = append(files, [2]string{noderecord.ManifestPath, keptManifest})
		}
		for _, f := range files {
			c, err := copyPlan(h, f[0], path.Join(dir, f[1]), "kept for a rollback")
			if err != nil {
				return nil, err
			}
			p.Add(c)
		}
	}
	p.Add(&plan.Func{
		Text: fmt.Sprintf("record the node as %s (Kubernetes %s) in %s, with its manifest in %s", s.New.Release.Name, s.New.Release.KubernetesVersion, noderecord.Path, noderecord.ManifestPath),
		Do:   func(_ context.Context, h *host.Host) error { return noderecord.Write(h, s.New, s.Release) },
	})
	return p, nil
}

// copyPlan plans a copy of from to to (a small file), nil when to holds it
// already or from is missing.
func copyPlan(h *host.Host, from, to, why string) (plan.Change, error) {
	data, err := h.FS.ReadInput(from, maxRecordFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := plan.PlanFile(h, to, data, 0o644)
	if c == nil || err != nil {
		return nil, err
	}
	return &copyFile{From: from, To: to, Data: data, Why: why}, nil
}

// copyFile writes a copy of a file: a change whose diff, a whole manifest,
// would say nothing.
type copyFile struct {
	From, To, Why string
	Data          []byte
}

func (c *copyFile) Summary() string { return fmt.Sprintf("copy %s to %s (%s)", c.From, c.To, c.Why) }

func (c *copyFile) Apply(_ context.Context, h *host.Host) error {
	_, err := h.FS.WriteFile(c.To, c.Data, 0o644)
	return err
}

// Kept is what a rollback puts back: the binaries and record an upgrade
// kept in Dir.
type Kept struct {
	Dir string
	// Release is the one they were kept from, with its checksums when the
	// record had them.
	Release *eksd.Release
	// Record: the node's record of then is kept too (the upgrade had
	// recorded the node as upgraded).
	Record bool
}

// FindKept finds what a rollback of the node recorded as rec puts back:
// an upgrade from its release that did not finish, or else the upgrade
// that made it. Nothing kept is bad input.
func FindKept(h *host.Host, rec *noderecord.Record) (*Kept, error) {
	names := []string{rec.Release.Name}
	if rec.UpgradedFrom != nil {
		names = append(names, rec.UpgradedFrom.Name)
	}
	for _, name := range names {
		dir := KeepDir(name)
		ok, err := h.FS.Exists(dir)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		k := &Kept{Dir: dir}
		manifest := path.Join(dir, keptManifest)
		data, err := h.FS.ReadInput(manifest, maxRecordFile)
		switch {
		case err == nil:
			if k.Release, err = eksd.Parse(data); err != nil {
				return nil, fmt.Errorf("%s: %w", manifest, err)
			}
			if k.Record, err = h.FS.Exists(path.Join(dir, keptRecord)); err != nil {
				return nil, err
			}
		case errors.Is(err, fs.ErrNotExist) && name == rec.Release.Name:
			// The upgrade did not get to its record: the node's manifest
			// is still the release's.
			if k.Release, err = noderecord.ReadRelease(h); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("the manifest kept of %s: %w", name, err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("nothing to roll back: no upgrade of %s kept its binaries in %s", rec.Release.Name, Dir)
}

// RestoreRecordStep is the rollback's step "record": the node's record
// and manifest from before the upgrade put back, when it had replaced them.
type RestoreRecordStep struct {
	Kept *Kept
}

func (s *RestoreRecordStep) Name() string { return "record" }

func (s *RestoreRecordStep) Plan(_ context.Context, h *host.Host) (*plan.Plan, error) {
	p := &plan.Plan{}
	if !s.Kept.Record {
		return p, nil
	}
	// The manifest first: a record is never there without its release.
	for _, f := range [][2]string{{keptManifest, noderecord.ManifestPath}, {keptRecord, noderecord.Path}} {
		c, err := copyPlan(h, path.Join(s.Kept.Dir, f[0]), f[1], "as before the upgrade")
		if err != nil {
			return nil, err
		}
		p.Add(c)
	}
	return p, nil
}

// RollbackStep is the rollback's step "binaries": kubeadm, the kubelet
// and kubectl kept by an upgrade put back, each checked against the
// release they were kept from.
type RollbackStep struct {
	Kept *Kept
	// Arch and InstallDir default to this machine's and /usr/local/bin.
	Arch, InstallDir string
}

func (s *RollbackStep) Name() string { return "binaries" }

func (s *RollbackStep) Plan(_ context.Context, h *host.Host) (*plan.Plan, error) {
	changes, err := binaries.PlanRestore(h, s.Kept.Release, s.Arch, s.Kept.Dir, s.InstallDir)
	if err != nil {
		return nil, err
	}
	p := &plan.Plan{}
	p.Add(changes...)
	return p, nil
}

// Restores reports whether the step puts the binary name back.
func (s *RollbackStep) Restores(ctx context.Context, h *host.Host, name string) (bool, error) {
	p, err := s.Plan(ctx, h)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(p.Changes, func(c plan.Change) bool {
		r, ok := c.(*binaries.Restore)
		return ok && path.Base(r.Path) == name
	}), nil
}
