// Package releasetest builds EKS-D release manifests for tests: an
// embedded release whose node binaries point at a test server and carry
// the real checksums of small fake binaries.
package releasetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"sigs.k8s.io/yaml"
)

// Binaries returns small, distinct fake contents for kubeadm, kubelet, kubectl.
func Binaries() map[string][]byte { return fakes(eksd.RequiredBinaries, "", 1000) }

// fakes returns small shell scripts by name, "fake KIND NAME", told
// apart by their sizes: pad*(i+1) bytes of padding for the i-th.
func fakes(names []string, kind string, pad int) map[string][]byte {
	out := map[string][]byte{}
	for i, name := range names {
		out[name] = []byte(fmt.Sprintf("#!/bin/sh\n# fake %s%s\necho %s %s\n", kind, name, name, strings.Repeat("x", pad*(i+1))))
	}
	return out
}

// Path is where a test server serves binary name of arch.
func Path(name, arch string) string { return "/bin/linux/" + arch + "/" + name }

// Release returns a copy of the embedded release channel/number whose
// kubernetes binaries for amd64 and arm64 are served from baseURL (which
// must be https, as Parse requires) with the checksums of bins.
func Release(t testing.TB, channel string, number int, baseURL string, bins map[string][]byte) *eksd.Release {
	t.Helper()
	r, err := eksd.Lookup(channel, number)
	if err != nil {
		t.Fatal(err)
	}
	for i := range r.Status.Components {
		c := &r.Status.Components[i]
		if c.Name != eksd.KubernetesComponent {
			continue
		}
		for j := range c.Assets {
			a := &c.Assets[j]
			name := a.Name[strings.LastIndexByte(a.Name, '/')+1:]
			data, ok := bins[name]
			if a.Archive == nil || !ok {
				continue
			}
			a.Archive.URI = baseURL + "/" + a.Name
			a.Archive.SHA256, a.Archive.SHA512 = sums(data)
		}
	}
	return r
}

// Manifest marshals r as the YAML EKS-D publishes.
func Manifest(t testing.TB, r *eksd.Release) []byte {
	t.Helper()
	b, err := yaml.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
