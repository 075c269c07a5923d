package kata

import (
	"context"
	"fmt"
	"path"
	"regexp"

	"github.com/eksd-kata/eksd-kata/pkg/clip"
	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// versionRE finds the version in `kata-runtime --version`:
// "kata-runtime  : 3.21.0".
var versionRE = regexp.MustCompile(`(?m)^kata-runtime\s*:\s*v?(\S+)`)

// Version asks the installed kata-runtime for its version, on the
// running system only (host.ErrNotLive under --root); "" when Kata is not
// installed.
func Version(ctx context.Context, h *host.Host) (string, error) {
	if !h.IsLive() {
		return "", host.ErrNotLive
	}
	bin := path.Join(Dir, "bin", "kata-runtime")
	if ok, err := h.FS.Exists(bin); err != nil || !ok {
		return "", err
	}
	out, err := host.Output(ctx, h.Exec, bin, "--version")
	if err != nil {
		return "", err
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%s --version printed no version: %q", bin, clip.String(string(out)))
	}
	return string(m[1]), nil
}
