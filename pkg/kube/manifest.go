package kube

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/release/fetch"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// maxManifest bounds a CNI manifest: Calico's, the largest common one, is ~1 MB.
const maxManifest = 16 << 20

// manifestPolicy bounds fetching a manifest URL.
var manifestPolicy = fetch.Policy{Attempts: 4, Backoff: time.Second, MaxBackoff: 8 * time.Second, Timeout: 2 * time.Minute, Stall: 30 * time.Second}

// ReadManifest reads a manifest from a file of the operator (not under
// --root: it is input, like --config) or an https URL (plain http only on
// loopback). Unreadable or missing input is bad input.
func ReadManifest(ctx context.Context, source string, client *http.Client) ([]byte, error) {
	return fetch.ReadSource(ctx, client, source, "manifest", manifestPolicy, maxManifest)
}

// DecodeManifest splits multi-document YAML (or JSON) into objects,
// expanding kind List, skipping empty documents. Every object needs
// apiVersion, kind and metadata.name.
func DecodeManifest(data []byte) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		raw, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		js, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		if t := bytes.TrimSpace(js); len(t) == 0 || string(t) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		items := []*unstructured.Unstructured{u}
		if u.IsList() {
			l, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("document %d: %w", doc, err)
			}
			items = items[:0]
			for i := range l.Items {
				items = append(items, &l.Items[i])
			}
		}
		for _, o := range items {
			if o.GetName() == "" {
				return nil, fmt.Errorf("document %d: %s has no metadata.name", doc, o.GetKind())
			}
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no objects")
	}
	return out, nil
}

// objName is "Kind ns/name" for messages.
func objName(o *unstructured.Unstructured) string {
	if ns := o.GetNamespace(); ns != "" {
		return o.GetKind() + " " + ns + "/" + o.GetName()
	}
	return o.GetKind() + " " + o.GetName()
}
