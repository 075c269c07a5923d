package config

import (
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestCloudInitExamplesValidate: the NodeConfig that each user data in
// templates/ writes is valid (the join values too, for the join example),
// the user data is cloud-config YAML, and its script verifies the binary
// before it runs the verb.
func TestCloudInitExamplesValidate(t *testing.T) {
	for file, verb := range map[string]string{"cloud-init.yaml": "bootstrap", "cloud-init-join.yaml": "join"} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile("../../templates/" + file)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(data), "#cloud-config\n") {
				t.Fatal("user data must start with #cloud-config")
			}
			var ud struct {
				WriteFiles []struct {
					Path, Permissions, Content string
				} `json:"write_files"`
				RunCmd        [][]string `json:"runcmd"`
				PackageUpdate bool       `json:"package_update"`
				Packages      []string   `json:"packages"`
			}
			if err := yaml.UnmarshalStrict(data, &ud); err != nil {
				t.Fatal(err)
			}
			if len(ud.WriteFiles) != 1 || ud.WriteFiles[0].Path != "/etc/eksd-kata/config.yaml" || ud.WriteFiles[0].Permissions != "0600" {
				t.Fatalf("write_files: %+v", ud.WriteFiles)
			}
			cfg, err := Parse([]byte(ud.WriteFiles[0].Content), "cloud-init config")
			if err != nil {
				t.Fatal(err)
			}
			if errs := Validate(cfg); len(errs) > 0 {
				t.Fatal(errs)
			}
			if (verb == "join") != (cfg.Spec.Join != Join{}) {
				t.Fatalf("spec.join %+v for %s", cfg.Spec.Join, verb)
			}
			// A stock image: the distribution gives kubeadm's small tools,
			// eksd-kata the container runtime and everything else.
			for _, p := range ud.Packages {
				if strings.Contains(p, "containerd") || strings.Contains(p, "runc") || strings.Contains(p, "cni") || strings.Contains(p, "kata") {
					t.Errorf("packages: %s is eksd-kata's to install, verified", p)
				}
			}
			script := strings.Join(ud.RunCmd[0], " ")
			if !strings.Contains(script, "sha256sum -c") || !strings.Contains(script, "eksd-kata "+verb+" --config /etc/eksd-kata/config.yaml") {
				t.Fatalf("runcmd does not verify and %s:\n%s", verb, script)
			}
		})
	}
}
