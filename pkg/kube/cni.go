package kube

import (
	"context"
	"fmt"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// resourceFor maps o to its resource. A kind the server does not know may
// be defined by a CustomResourceDefinition applied just before: the
// discovery cache is reset once and asked again.
func resourceFor(c *Clients, o *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := o.GroupVersionKind()
	m, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		c.Mapper.Reset()
		m, err = c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		return c.Dynamic.Resource(m.Resource), nil
	}
	ns := o.GetNamespace()
	if ns == "" {
		ns = metav1.NamespaceDefault // as kubectl apply does
		o.SetNamespace(ns)
	}
	return c.Dynamic.Resource(m.Resource).Namespace(ns), nil
}

// applyObject server-side applies o.
func applyObject(ctx context.Context, c *Clients, o *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, error) {
	ri, err := resourceFor(c, o)
	if err != nil {
		return nil, err
	}
	body, err := o.MarshalJSON()
	if err != nil {
		return nil, err
	}
	opts := applyOpts
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return ri.Patch(ctx, o.GetName(), types.ApplyPatchType, body, opts)
}

// cniDiff returns the objects of the manifest that an apply would change:
// missing ones, and those whose server-side apply dry run differs from
// what is stored. It changes nothing.
func cniDiff(ctx context.Context, c *Clients, objs []*unstructured.Unstructured) (create, update []string, err error) {
	for _, o := range objs {
		ri, err := resourceFor(c, o)
		if meta.IsNoMatchError(err) {
			// Its CustomResourceDefinition comes with the manifest.
			create = append(create, objName(o))
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", objName(o), err)
		}
		live, err := ri.Get(ctx, o.GetName(), getOpts)
		if apierrors.IsNotFound(err) {
			create = append(create, objName(o))
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", objName(o), err)
		}
		dry, err := applyObject(ctx, c, o, true)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: server-side apply (dry run): %w", objName(o), err)
		}
		if !sameStored(live, dry) {
			update = append(update, objName(o))
		}
	}
	return create, update, nil
}

// sameStored compares two versions of an object as stored, without
// managedFields: a dry run may add bookkeeping entries there
// ("before-first-apply") that no real apply would change anything for.
func sameStored(a, b *unstructured.Unstructured) bool {
	strip := func(u *unstructured.Unstructured) map[string]any {
		u = u.DeepCopy()
		u.SetManagedFields(nil)
		return u.Object
	}
	return apiequality.Semantic.DeepEqual(strip(a), strip(b))
}

// applyManifest applies every object in order. A custom resource whose
// definition was just applied is retried until the definition is served.
func applyManifest(ctx context.Context, c *Clients, objs []*unstructured.Unstructured, timeout time.Duration, b Backoff) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, o := range objs {
		delay := b.Initial
		for {
			_, err := applyObject(ctx, c, o, false)
			if err == nil {
				break
			}
			if !meta.IsNoMatchError(err) && !Down(err) {
				return fmt.Errorf("applying %s: %w", objName(o), err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("applying %s: %w", objName(o), err)
			case <-time.After(delay):
			}
			delay = min(2*delay, b.Max)
		}
	}
	return nil
}
