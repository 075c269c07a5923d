package config

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// FuzzNodeConfig feeds arbitrary bytes to Parse and Load: neither may
// panic, Load accepts exactly what Parse accepts and Validate passes, an
// error quotes no long value whole, and an accepted config survives
// Marshal and Parse unchanged.
func FuzzNodeConfig(f *testing.F) {
	for _, seed := range nodeConfigSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		parsed, perr := Parse(data, "-")
		loaded, lerr := Load("-", Input{Stdin: bytes.NewReader(data)}, nil)
		if lerr != nil {
			// A long value is quoted by its start only.
			for _, line := range strings.Split(lerr.Error(), "\n") {
				if len(line) > 1000 {
					t.Fatalf("an error line of %d bytes: %.200s", len(line), line)
				}
			}
			if perr == nil && len(Validate(parsed)) == 0 {
				t.Fatalf("Load refused what Parse and Validate accept: %v", lerr)
			}
			return
		}
		if perr != nil {
			t.Fatalf("Load accepted what Parse refuses: %v", perr)
		}
		if errs := Validate(loaded); len(errs) > 0 {
			t.Fatalf("Load accepted an invalid config: %v", errs)
		}
		if !reflect.DeepEqual(parsed, loaded) {
			t.Fatalf("Parse and Load differ:\n%+v\n%+v", parsed, loaded)
		}
		out, err := Marshal(loaded)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		again, err := Load("-", Input{Stdin: bytes.NewReader(out)}, nil)
		if err != nil {
			t.Fatalf("Load of its own Marshal: %v\n%s", err, out)
		}
		// The kubeadm documents are untyped: 1.0 comes back as 1 and an
		// empty document as none, which mean the same to kubeadm.
		a, b := *loaded, *again
		if ja, jb := kubeadmJSON(t, a.Spec.Kubeadm), kubeadmJSON(t, b.Spec.Kubeadm); ja != jb {
			t.Fatalf("round trip changed spec.kubeadm: %s -> %s", ja, jb)
		}
		a.Spec.Kubeadm, b.Spec.Kubeadm = Kubeadm{}, Kubeadm{}
		// An empty list is left out of the YAML and comes back as none.
		emptyToNil(reflect.ValueOf(&a).Elem())
		emptyToNil(reflect.ValueOf(&b).Elem())
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", a, b)
		}
	})
}

// kubeadmJSON is k as JSON with empty documents left out.
func kubeadmJSON(t *testing.T, k Kubeadm) string {
	if len(k.ClusterConfiguration) == 0 {
		k.ClusterConfiguration = nil
	}
	if len(k.KubeletConfiguration) == 0 {
		k.KubeletConfiguration = nil
	}
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// emptyToNil sets every empty slice in the struct v to nil.
func emptyToNil(v reflect.Value) {
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.Struct:
			emptyToNil(f)
		case reflect.Slice:
			if f.Len() == 0 {
				f.SetZero()
			}
		}
	}
}

// nodeConfigSeeds are the configs users start from (README, the
// cloud-init templates) and a few that must be refused.
func nodeConfigSeeds(f *testing.F) [][]byte {
	f.Helper()
	seeds := [][]byte{
		[]byte("apiVersion: eksd-kata.io/v1alpha1\nkind: NodeConfig\n"),
		[]byte("apiVersion: eksd-kata.io/v1alpha1\nkind: NodeConfig\nspec:\n  node:\n    role: worker\n  kata:\n    enabled: false\n    hypervisors: []\n"),
		[]byte("apiVersion: eksd-kata.io/v1alpha1\nkind: NodeConfig\nspec:\n  kata:\n    hypervisors: [clh, fc]\n    runtimeHandler: kata-qemu\n  images:\n    mirror: 127.0.0.1:5000/eks\n    insecureRegistries: [registry.local:5000]\n"),
		[]byte("apiVersion: eksd-kata.io/v1alpha1\nkind: NodeConfig\nspec:\n  kubeadm:\n    clusterConfiguration:\n      apiServer:\n        certSANs: [a.example]\n    kubeletConfiguration:\n      maxPods: 1.0\n"),
		[]byte(`{"apiVersion":"eksd-kata.io/v1alpha1","kind":"NodeConfig","spec":{"release":{"channel":"1-35","number":13}}}`),
		// Refused: unknown and duplicate fields, wrong kind, not a mapping.
		[]byte("apiVersion: eksd-kata.io/v1alpha1\nkind: NodeConfig\nspec:\n  nod:\n    rol: worker\n"),
		[]byte("apiVersion: eksd-kata.io/v1alpha1\nkind: NodeConfig\nkind: NodeConfig\n"),
		[]byte("apiVersion: v1\nkind: ConfigMap\n"),
		[]byte("- a\n- b\n"),
		[]byte("apiVersion: eksd-kata.io/v1alpha1\nkind: NodeConfig\nspec:\n  network:\n    podCIDR: 10.244.0.0/33\n"),
		[]byte("apiVersion: eksd-kata.io/v1alpha1\nkind: NodeConfig\nspec:\n  kubeadm:\n    clusterConfiguration:\n      etcd: {external: {}}\n      dns: null\n"),
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		f.Fatal(err)
	}
	if _, block, ok := strings.Cut(string(readme), "```yaml\napiVersion: eksd-kata.io/"); ok {
		block, _, _ = strings.Cut(block, "```")
		seeds = append(seeds, []byte("apiVersion: eksd-kata.io/"+block))
	} else {
		f.Fatal("README.md has no NodeConfig block")
	}
	for _, file := range []string{"cloud-init.yaml", "cloud-init-join.yaml"} {
		data, err := os.ReadFile("../../templates/" + file)
		if err != nil {
			f.Fatal(err)
		}
		var ud struct {
			WriteFiles []struct{ Content string } `json:"write_files"`
		}
		if err := yaml.Unmarshal(data, &ud); err != nil || len(ud.WriteFiles) == 0 {
			f.Fatalf("%s: no write_files: %v", file, err)
		}
		seeds = append(seeds, []byte(ud.WriteFiles[0].Content))
	}
	return seeds
}
