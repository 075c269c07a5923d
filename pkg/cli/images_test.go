package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImagesListJSONOfflineUnderRoot(t *testing.T) {
	code, out, errOut := run(t, "", "--root", t.TempDir(), "images", "list", "-o", "json", "--image-mirror", "mirror.local:5000")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got []struct{ Name, Source, Target string }
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(got) != 7 {
		t.Fatalf("%d images, want 7:\n%s", len(got), out)
	}
	for _, img := range got {
		if !strings.HasPrefix(img.Source, "mirror.local:5000/eks-distro/") || img.Target == "" {
			t.Errorf("image %+v", img)
		}
		if img.Name == "pause" && !strings.HasSuffix(img.Target, "/pause:3.10.2") {
			t.Errorf("pause target %s", img.Target)
		}
	}
}

func TestImagesListWorkerText(t *testing.T) {
	code, out, errOut := run(t, "", "images", "list", "--role", "worker")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if lines := strings.Count(out, "\n"); lines != 3 || !strings.Contains(out, "kube-proxy") || !strings.Contains(out, "pause:3.10.2") {
		t.Errorf("worker list:\n%s", out)
	}
}

func TestImagesImportBadArchiveExits2(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.tar")
	if err := os.WriteFile(file, []byte("not an archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "", "--root", t.TempDir(), "images", "import", file)
	if code != ExitUsage || !strings.Contains(errOut, file) {
		t.Errorf("exit %d, stderr %q; want 2 naming %s", code, errOut, file)
	}
	code, _, _ = run(t, "", "images", "import")
	if code != ExitUsage {
		t.Errorf("import without FILE: exit %d, want 2", code)
	}
}
