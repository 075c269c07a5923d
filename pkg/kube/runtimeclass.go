package kube

import (
	"context"
	"fmt"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/templates"
	nodev1 "k8s.io/api/node/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

// KataNodeLabel is what the Kata RuntimeClasses select nodes by, as kata-deploy does.
const KataNodeLabel = "katacontainers.io/kata-runtime"

// ManagedByLabel = ManagedBy marks what eksd-kata made in the cluster (the
// RuntimeClasses: templates/runtimeclass.yaml), so that it deletes only
// its own.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedBy      = "eksd-kata"
)

// overheads is the VM cost per hypervisor, from the current kata-deploy
// Helm chart (qemu 320Mi; older charts said 160Mi).
var overheads = map[string]struct{ Memory, CPU string }{
	"qemu": {"320Mi", "250m"},
	"clh":  {"130Mi", "250m"},
	"fc":   {"130Mi", "250m"},
}

// RuntimeClassData fills templates/runtimeclass.yaml.
type RuntimeClassData struct {
	Name, Handler, Memory, CPU string
}

// RuntimeClassesFor lists the RuntimeClasses a Kata configuration wants: the
// generic one (runtimeHandler, backed by the first hypervisor, so it costs
// what that one costs) and kata-<hypervisor> for each hypervisor.
func RuntimeClassesFor(k config.Kata) []RuntimeClassData {
	return runtimeClassesIf(k, func(string) bool { return true })
}

// runtimeClassesIf is RuntimeClassesFor without the RuntimeClasses whose
// hypervisor is not ready: the generic one goes with the first hypervisor.
func runtimeClassesIf(k config.Kata, ready func(hv string) bool) []RuntimeClassData {
	if !k.Enabled || len(k.Hypervisors) == 0 {
		return nil
	}
	var out []RuntimeClassData
	seen := map[string]bool{}
	add := func(name, hv string) {
		if name == "" || seen[name] {
			return
		}
		seen[name] = true
		if !ready(hv) {
			return
		}
		o, ok := overheads[hv]
		if !ok {
			o = overheads["qemu"]
		}
		out = append(out, RuntimeClassData{Name: name, Handler: name, Memory: o.Memory, CPU: o.CPU})
	}
	add(k.RuntimeHandler, k.Hypervisors[0])
	for _, hv := range k.Hypervisors {
		add("kata-"+hv, hv)
	}
	return out
}

// RenderRuntimeClass renders the manifest of d and decodes it strictly.
func RenderRuntimeClass(d RuntimeClassData) ([]byte, *nodev1.RuntimeClass, error) {
	manifest, err := templates.Render(templates.RuntimeClass, d)
	if err != nil {
		return nil, nil, err
	}
	rc := &nodev1.RuntimeClass{}
	if err := yaml.UnmarshalStrict(manifest, rc); err != nil {
		return nil, nil, fmt.Errorf("RuntimeClass %s: %w", d.Name, err)
	}
	return manifest, rc, nil
}

// runtimeClassDiff says how live differs from want, "" when it does not.
func runtimeClassDiff(live, want *nodev1.RuntimeClass) string {
	switch {
	case live.Handler != want.Handler:
		return fmt.Sprintf("handler %s, want %s", live.Handler, want.Handler)
	case !apiequality.Semantic.DeepEqual(live.Overhead, want.Overhead):
		return "overhead differs"
	case !apiequality.Semantic.DeepEqual(live.Scheduling, want.Scheduling):
		return "scheduling differs"
	}
	for k, v := range want.Labels {
		if live.Labels[k] != v {
			return "label " + k + " differs"
		}
	}
	return ""
}

// applyRuntimeClass server-side applies the rendered manifest as is, so
// what an operator reads in templates/ is exactly what is sent. The
// handler is immutable: a RuntimeClass with another one is replaced.
func applyRuntimeClass(ctx context.Context, c *Clients, manifest []byte, want *nodev1.RuntimeClass) error {
	rcs := c.Kube.NodeV1().RuntimeClasses()
	if live, err := rcs.Get(ctx, want.Name, getOpts); err == nil && live.Handler != want.Handler {
		if err := rcs.Delete(ctx, want.Name, deleteOpts); err != nil {
			return fmt.Errorf("replacing RuntimeClass %s (its handler is immutable): %w", want.Name, err)
		}
	}
	body, err := yaml.YAMLToJSON(manifest)
	if err != nil {
		return err
	}
	_, err = rcs.Patch(ctx, want.Name, types.ApplyPatchType, body, applyOpts)
	if err != nil {
		return fmt.Errorf("applying RuntimeClass %s: %w", want.Name, err)
	}
	return nil
}
