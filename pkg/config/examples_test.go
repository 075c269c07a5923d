package config

import (
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestCloudInitExampleValidates: the NodeConfig that templates/cloud-init.yaml
// writes is valid, and the user data is cloud-config YAML.
func TestCloudInitExampleValidates(t *testing.T) {
	data, err := os.ReadFile("../../templates/cloud-init.yaml")
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
		RunCmd [][]string `json:"runcmd"`
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
	script := strings.Join(ud.RunCmd[0], " ")
	if !strings.Contains(script, "sha256sum -c") || !strings.Contains(script, "eksd-kata bootstrap --config /etc/eksd-kata/config.yaml") {
		t.Fatalf("runcmd does not verify and bootstrap:\n%s", script)
	}
}
