// Package release finds the EKS-D release a node is built from: the
// embedded one, a manifest file or URL the operator gives, or the manifest
// EKS-D publishes (the only source of binary checksums).
package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	"github.com/eksd-kata/eksd-kata/pkg/release/fetch"
)

// maxManifest bounds what we read: real manifests are ~60 KB.
const maxManifest = 8 << 20

// Policy is how manifests are fetched; tests shorten it.
var Policy = fetch.Policy{Attempts: 4, Backoff: time.Second, MaxBackoff: 8 * time.Second, Timeout: time.Minute, Stall: 30 * time.Second}

// Load reads the release manifest at source, a file path or an https URL
// (plain http only for loopback), and validates it. A manifest that is not
// a usable Release, or a URL that answers 4xx, is bad input (exit 2);
// network trouble after retries is a plain error.
func Load(ctx context.Context, source string, client *http.Client) (*eksd.Release, error) {
	data, err := read(ctx, source, client)
	if err != nil {
		return nil, err
	}
	r, err := eksd.Parse(data)
	if err != nil {
		return nil, plan.BadInput(fmt.Errorf("%s: %w", source, err))
	}
	return r, nil
}

func read(ctx context.Context, source string, client *http.Client) ([]byte, error) {
	if !strings.Contains(source, "://") {
		return readFile(source)
	}
	u, err := url.Parse(source)
	if err != nil || u.Host == "" {
		return nil, plan.BadInput(fmt.Errorf("release manifest %q: not a URL", source))
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && config.IsLoopback(u.Hostname()):
	case u.Scheme == "http":
		return nil, plan.BadInput(fmt.Errorf("release manifest %s: plain http is allowed only for loopback; use https", source))
	default:
		return nil, plan.BadInput(fmt.Errorf("release manifest %s: scheme %q not supported (https:// or a file path)", source, u.Scheme))
	}
	var data []byte
	err = fetch.Get(ctx, client, source, Policy, func(r fetch.Response) error {
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, io.LimitReader(r.Body, maxManifest+1)); err != nil {
			return err
		}
		if buf.Len() > maxManifest {
			return &fetch.Permanent{Err: fmt.Errorf("GET %s: larger than %d MiB: not a release manifest", source, maxManifest>>20)}
		}
		data = buf.Bytes()
		return nil
	})
	var se *fetch.StatusError
	if errors.As(err, &se) && se.Code >= 400 && se.Code < 500 {
		return nil, plan.BadInput(fmt.Errorf("release manifest: %w", err))
	}
	if err != nil {
		return nil, fmt.Errorf("release manifest: %w", err)
	}
	return data, nil
}

// readFile reads a manifest from the operator's file system, which is not
// the --root the node is built in.
func readFile(path string) ([]byte, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, plan.BadInput(fmt.Errorf("release manifest %s: %w", path, err))
	}
	data, err := host.NewFS("/").ReadFile(abs)
	if err != nil {
		return nil, plan.BadInput(fmt.Errorf("release manifest: %w", err))
	}
	if len(data) > maxManifest {
		return nil, plan.BadInput(fmt.Errorf("release manifest %s: larger than %d MiB: not a release manifest", path, maxManifest>>20))
	}
	return data, nil
}
