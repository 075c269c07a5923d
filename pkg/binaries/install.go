package binaries

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/release/fetch"
)

// maxBinary bounds a node binary held in memory (a download or the
// operator's copy): kubelet is ~80 MB.
const maxBinary = 1 << 30

// Install puts one node binary at Path, mode 0755. The bytes are fetched
// (or read from the artifacts directory) and verified in memory before the
// atomic write, so a bad or cut-short download never leaves a file behind.
type Install struct {
	Binary eksd.Binary
	Path   string
	// Artifact is the operator's local copy to use instead of Binary.URL.
	Artifact string
	// Unverified installs without a checksum (--insecure-skip-verify).
	Unverified bool
	// Keep, when set, is where the file at Path is copied before it is
	// replaced.
	Keep string

	// have is the current content, already verified: only the mode is wrong.
	have     []byte
	release  *eksd.Release
	client   *http.Client
	policy   fetch.Policy
	progress io.Writer
}

func (c *Install) Summary() string {
	var s string
	switch {
	case c.have != nil:
		return fmt.Sprintf("set mode 0755 on %s (content matches the manifest's %s)", c.Path, algo(c.Binary))
	case c.Artifact != "":
		s = fmt.Sprintf("install %s from %s", c.Path, c.Artifact)
	default:
		s = fmt.Sprintf("install %s from %s", c.Path, c.Binary.URL)
	}
	switch {
	case c.Unverified:
		return s + " (NOT verified: the release has no checksum for it, --insecure-skip-verify)"
	case !c.Binary.Verifiable():
		return s + " (no checksum yet: a real run takes it from the published manifest)"
	}
	s += " (" + algo(c.Binary) + " verified before install)"
	if c.Keep != "" {
		s += ", the one there kept as " + c.Keep
	}
	return s
}

func (c *Install) Apply(ctx context.Context, h *host.Host) error {
	if !c.Binary.Verifiable() && !c.Unverified {
		return fmt.Errorf("refusing to install %s without a checksum: %s", c.Path, checksumSource(c.release))
	}
	if c.Keep != "" {
		if err := keep(h, c.Path, c.Keep); err != nil {
			return err
		}
	}
	data := c.have
	if data == nil && c.Artifact != "" {
		if copied, err := c.copyArtifact(ctx, h); copied || err != nil {
			return err
		}
	}
	if data == nil {
		var err error
		if c.Artifact != "" {
			data, err = c.readArtifact()
		} else {
			data, err = c.download(ctx)
		}
		if err != nil {
			return err
		}
	}
	if _, err := h.FS.WriteFile(c.Path, data, 0o755); err != nil {
		return err
	}
	if c.Unverified {
		return nil
	}
	return remember(h, c.Path, c.Binary)
}

// copyArtifact installs the operator's copy with the kernel copying it
// (FS.CopyFile), when the plan verified this very file or no checksum is
// asked for: reading 150 MB in only to write it out again cost twice the
// CPU, beside the image pulls. It reports false, having changed nothing,
// when the file is not known verified: the caller then reads and checks it.
func (c *Install) copyArtifact(ctx context.Context, h *host.Host) (bool, error) {
	f, err := host.OpenInput(c.Artifact)
	if err != nil {
		return true, fmt.Errorf("%s: %w", c.Binary.Name, err)
	}
	defer f.Close()
	key, ok := artifactKeyOfFile(c.Artifact, f, c.Binary)
	if !c.Unverified {
		if !ok || !verified(key) {
			return false, nil
		}
	}
	// The bytes copied are the ones verified only if the file did not
	// change meanwhile (its identity holds its size, mtime and ctime).
	unchanged := func() error {
		if now, ok := artifactKeyOfFile(c.Artifact, f, c.Binary); !ok || now != key {
			return fmt.Errorf("%s changed while it was installed from it: nothing was installed; run again", c.Artifact)
		}
		return nil
	}
	if err := h.FS.CopyFile(c.Path, f, 0o755, unchanged); err != nil {
		return true, err
	}
	if c.progress != nil {
		fmt.Fprintf(c.progress, "%s: %s copied from %s%s\n", c.Binary.Name, mib(key.id.Size), c.Artifact, c.verifiedText())
	}
	if c.Unverified {
		return true, nil
	}
	return true, remember(h, c.Path, c.Binary)
}

// readArtifact reads the operator's copy and verifies it.
func (c *Install) readArtifact() ([]byte, error) {
	data, err := host.ReadInput(c.Artifact, maxBinary)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Binary.Name, err)
	}
	if !c.Unverified {
		key, ok := artifactKeyOf(c.Artifact, c.Binary)
		if !ok || !verified(key) {
			if err := verifyBytes(c.Binary, data, c.Artifact); err != nil {
				return nil, err
			}
		}
	}
	// A local read needs no progress or rate, just what was read and checked.
	if c.progress != nil {
		fmt.Fprintf(c.progress, "%s: %s read from %s%s\n", c.Binary.Name, mib(int64(len(data))), c.Artifact, c.verifiedText())
	}
	return data, nil
}

// download fetches Binary.URL with retries and verifies it as it streams.
func (c *Install) download(ctx context.Context) ([]byte, error) {
	var data []byte
	var m *meter
	attempt := 0
	err := fetch.Get(ctx, c.client, c.Binary.URL, c.policy, func(r fetch.Response) error {
		attempt++
		name := c.Binary.Name
		if attempt > 1 {
			name = fmt.Sprintf("%s (try %d)", name, attempt)
		}
		if r.Size > maxBinary {
			return &fetch.Permanent{Err: fmt.Errorf("GET %s: %d bytes is more than a node binary can be", r.URL, r.Size)}
		}
		m = newMeter(c.progress, name, r.Size)
		buf := bytes.NewBuffer(make([]byte, 0, max(r.Size, 0)))
		sum := newHasher(c.Binary)
		n, err := io.Copy(io.MultiWriter(buf, sum, m), io.LimitReader(r.Body, maxBinary+1))
		if err != nil {
			return fmt.Errorf("GET %s: after %d bytes: %w", r.URL, n, err)
		}
		if n > maxBinary {
			return &fetch.Permanent{Err: fmt.Errorf("GET %s: more than %d bytes: not a node binary", r.URL, int64(maxBinary))}
		}
		if r.Size >= 0 && n != r.Size {
			return fmt.Errorf("GET %s: got %d of %d bytes: %w", r.URL, n, r.Size, io.ErrUnexpectedEOF)
		}
		if !c.Unverified {
			if err := sum.verify(r.URL); err != nil {
				return &fetch.Permanent{Err: err}
			}
		}
		data = buf.Bytes()
		return nil
	})
	if err != nil {
		if m != nil {
			m.abort()
		}
		return nil, fmt.Errorf("download %s: %w", c.Binary.Name, err)
	}
	m.done("downloaded" + c.verifiedText())
	return data, nil
}

func (c *Install) verifiedText() string {
	if c.Unverified {
		return ", NOT verified"
	}
	return ", " + algo(c.Binary) + " verified"
}
