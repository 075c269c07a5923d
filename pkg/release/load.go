// Package release finds the EKS-D release a node is built from: the
// embedded one, a manifest file or URL the operator gives, or the manifest
// EKS-D publishes (the only source of binary checksums).
package release

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
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
		return nil, badinput.Wrap(fmt.Errorf("%s: %w", source, err))
	}
	return r, nil
}

func read(ctx context.Context, source string, client *http.Client) ([]byte, error) {
	return fetch.ReadSource(ctx, client, source, "release manifest", Policy, maxManifest)
}
