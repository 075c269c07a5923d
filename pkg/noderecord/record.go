// Package noderecord is what bootstrap and join leave on a node once its
// binaries are in or kubeadm has run: which EKS-D release it was built
// from, in which role, with which configuration. status reads it to tell
// what the node is and what a run would change; an upgrade starts from it.
// It is never the source of truth for a plan: steps still plan from what
// is on the host.
package noderecord

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/release"
	"sigs.k8s.io/yaml"
)

// Files of the record, under the node's root. Both are written through
// host.FS, so reset removes them with the rest of what eksd-kata created.
const (
	// Path is the record itself, small and readable.
	Path = "/var/lib/eksd-kata/node.json"
	// ManifestPath keeps the release manifest the run used, checksums
	// included when it had them: status verifies the binaries and plans
	// the run again from it without the network. It is a manifest like
	// EKS-D's, so --release-manifest takes it.
	ManifestPath = "/var/lib/eksd-kata/release.yaml"
)

// APIVersion and Kind mark the record's format, versioned as the
// configuration is so that a later format can read this one.
const (
	APIVersion = "eksd-kata.io/v1alpha1"
	Kind       = "NodeRecord"
)

// maxRecord bounds what Read takes: a record is a few KB, a manifest ~60 KB.
const maxRecord = 4 << 20

// ErrNone is the error of Read on a host that has no record: not a node
// that bootstrap or join made (yet).
var ErrNone = errors.New("no node record")

// Record is what a run made of this node.
type Record struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Verb is the command that made the node: bootstrap or join.
	Verb string      `json:"verb"`
	Role config.Role `json:"role"`
	// NodeName is the node's name in the cluster.
	NodeName string  `json:"nodeName,omitempty"`
	Release  Release `json:"release"`
	// UpgradedFrom is the release eksd-kata upgrade moved the node from;
	// its binaries and record are kept for a rollback.
	UpgradedFrom *Release `json:"upgradedFrom,omitempty"`
	// ContainerdVersion is the version the run was told with
	// --containerd-version (under --root); empty when containerd was asked.
	ContainerdVersion string `json:"containerdVersion,omitempty"`
	// KubeconfigUser is the user a control plane's admin.conf was copied
	// to (~/.kube/config).
	KubeconfigUser string `json:"kubeconfigUser,omitempty"`
	// EksdKata is the version of eksd-kata that wrote the record.
	EksdKata string `json:"eksdKataVersion"`
	// Time is when the record took this content: a run that would write
	// the same keeps the time, and the file.
	Time time.Time `json:"time"`
	// Config is the configuration the run used, host defaults filled in,
	// without the join's secrets.
	Config *config.NodeConfig `json:"config"`
}

// Release names the EKS-D release of the node.
type Release struct {
	Name              string `json:"name"` // kubernetes-1-36-eks-7
	Channel           string `json:"channel"`
	Number            int    `json:"number"`
	KubernetesVersion string `json:"kubernetesVersion"`
	// Manifest is where the release came from: the file or URL given,
	// the manifest EKS-D publishes (read for its checksums), or "" for
	// the copy embedded in eksd-kata. A URL loses any user and query.
	Manifest string `json:"manifest,omitempty"`
	// Checksums tells whether the release had the binaries' checksums
	// (ManifestPath keeps them).
	Checksums bool `json:"checksums"`
}

// New is the record of a run of verb that used cfg (resolved) and rel.
func New(verb string, cfg *config.NodeConfig, rel *eksd.Release, eksdKata string, now time.Time) *Record {
	checksums := release.Verifiable(rel, runtime.GOARCH)
	c := *cfg
	// Never secrets: the token and certificate key are spent by the join.
	c.Spec.Join.Token, c.Spec.Join.CertificateKey = "", ""
	c.Spec.Release.Manifest = publicSource(c.Spec.Release.Manifest)
	c.Spec.Addons.CNIManifest = publicSource(c.Spec.Addons.CNIManifest)
	source := c.Spec.Release.Manifest
	if source == "" && checksums {
		// The embedded release has none: a real run read them from the
		// manifest EKS-D publishes.
		source = rel.ManifestURL()
	}
	return &Record{
		APIVersion: APIVersion,
		Kind:       Kind,
		Verb:       verb,
		Role:       c.Spec.Node.Role,
		NodeName:   c.Spec.Node.Name,
		Release: Release{
			Name:              rel.String(),
			Channel:           rel.Channel(),
			Number:            rel.Number(),
			KubernetesVersion: rel.KubernetesVersion(),
			Manifest:          source,
			Checksums:         checksums,
		},
		EksdKata: eksdKata,
		Time:     now.UTC().Truncate(time.Second),
		Config:   &c,
	}
}

// publicSource is a file path as it is, and a URL without the user
// information and query that may carry credentials.
func publicSource(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return s
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// Read returns the record of the node at h; ErrNone when there is none.
func Read(h *host.Host) (*Record, error) {
	data, err := h.FS.ReadInput(Path, maxRecord)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNone
	}
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", Path, err)
	}
	if r.APIVersion != APIVersion || r.Kind != Kind {
		return nil, fmt.Errorf("%s: not a %s %s record (apiVersion %q, kind %q)", Path, APIVersion, Kind, r.APIVersion, r.Kind)
	}
	if r.Config == nil {
		return nil, fmt.Errorf("%s: no config", Path)
	}
	return &r, nil
}

// ReadRelease returns the release manifest kept beside the record.
func ReadRelease(h *host.Host) (*eksd.Release, error) {
	data, err := h.FS.ReadInput(ManifestPath, maxRecord)
	if err != nil {
		return nil, err
	}
	rel, err := eksd.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestPath, err)
	}
	return rel, nil
}

// Write records r and the manifest of rel on h. A record that says what
// the one there says keeps that one's time, so that a converged run writes
// nothing (host.FS.WriteFile skips identical bytes).
func Write(h *host.Host, r *Record, rel *eksd.Release) error {
	if old, err := Read(h); err == nil {
		r2 := *r
		r2.Time = old.Time
		if same(old, &r2) {
			r = &r2
		}
	}
	manifest, err := yaml.Marshal(rel)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	// The manifest first: a record is never there without its release.
	if _, err := h.FS.WriteFile(ManifestPath, manifest, 0o644); err != nil {
		return err
	}
	_, err = h.FS.WriteFile(Path, append(data, '\n'), 0o644)
	return err
}

// Equal reports whether two records say the same, whenever they were written.
func Equal(a, b *Record) bool {
	x, y := *a, *b
	x.Time, y.Time = time.Time{}, time.Time{}
	return same(&x, &y)
}

// same compares two records as written.
func same(a, b *Record) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
