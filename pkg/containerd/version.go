package containerd

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// versionRE is a whole version: "x2.4.2junk" is not read as 2.4.2. A
// suffix starts with -, + or ~ (2.2.0-rc.1, 1.6.20~ds1, 2.2.1+unknown).
var versionRE = regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+~][0-9A-Za-z.+~-]*)?$`)

// ParseVersion returns major and minor of a containerd version such as
// "1.6.20", "v2.4.2" or Debian's "1.6.20~ds1"; spaces around it are
// ignored, anything else is refused.
func ParseVersion(s string) (major, minor int, err error) {
	m := versionRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, 0, fmt.Errorf("containerd version %q: want MAJOR.MINOR[.PATCH]", s)
	}
	major, _ = strconv.Atoi(m[1])
	minor, _ = strconv.Atoi(m[2])
	return major, minor, nil
}

// ConfigVersionFor returns the config.toml version we write for an installed
// containerd: 2 for 1.6/1.7, 3 for 2.x. containerd 2.4 introduced version 4
// (server settings moved into plugins) but reads version 3 and keeps the CRI
// sections where version 3 has them, so 3 works on every 2.x; an existing
// version 4 file is kept at 4 by Render.
func ConfigVersionFor(containerdVersion string) (int, error) {
	major, minor, err := ParseVersion(containerdVersion)
	if err != nil {
		return 0, err
	}
	switch {
	case major == 1 && minor >= 6:
		return 2, nil
	case major == 2:
		return 3, nil
	case major < 1 || (major == 1 && minor < 6):
		return 0, fmt.Errorf("containerd %s is too old: the Kubernetes releases of EKS-D need the CRI v1 API of containerd 1.6 or newer (1.5 and older are end of life)", containerdVersion)
	default:
		return 0, fmt.Errorf("containerd %s is not supported yet: its config layout is unknown to eksd-kata (supported: 1.6, 1.7, 2.x)", containerdVersion)
	}
}

// minimumFor lists, per Kubernetes minor, the oldest containerd of each
// release line that Kubernetes supports (FACTS.md); a line not listed is
// too old, except lines newer than every listed one.
var minimumFor = map[int][]string{
	35: {"1.7.28", "2.1.5", "2.2.0"},
	36: {"2.2.0"},
}

// SupportsKubernetes returns an error naming the reason when containerd
// (e.g. "1.6.20") is too old for Kubernetes 1.<kubeMinor>.
func SupportsKubernetes(containerdVersion string, kubeMinor int) error {
	have, err := fullVersion(containerdVersion)
	if err != nil {
		return err
	}
	if _, err := ConfigVersionFor(containerdVersion); err != nil {
		return err
	}
	mins := MinimumVersions(kubeMinor)
	supported := false
	for _, m := range mins {
		want, _ := fullVersion(m)
		if have[0] == want[0] && have[1] == want[1] {
			supported = !less(have, want)
			break
		}
		// Lines newer than every listed one are fine.
		supported = !less(have, want)
	}
	if supported {
		return nil
	}
	return plan.Block(fmt.Sprintf("containerd %s is too old for Kubernetes 1.%d (it needs containerd %s or newer)", containerdVersion, kubeMinor, strings.Join(mins, ", ")),
		"upgrade containerd (--install-containerd VERSION installs one from its release), or choose an older EKS-D release with --release")
}

// MinimumVersions lists, oldest line first, the containerd versions the
// kubelet of Kubernetes 1.<kubeMinor> supports.
func MinimumVersions(kubeMinor int) []string {
	if mins, ok := minimumFor[kubeMinor]; ok {
		return mins
	}
	if kubeMinor > 36 {
		return minimumFor[36]
	}
	return []string{"1.6.0"}
}

// MinimumVersionsText says MinimumVersions for people: "1.7.28+ or 2.2.0+".
func MinimumVersionsText(kubeMinor int) string {
	return strings.Join(MinimumVersions(kubeMinor), "+ or ") + "+"
}

func fullVersion(s string) ([3]int, error) {
	m := versionRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return [3]int{}, fmt.Errorf("containerd version %q: want MAJOR.MINOR[.PATCH]", s)
	}
	var v [3]int
	for i := range 3 {
		v[i], _ = strconv.Atoi(m[i+1])
	}
	return v, nil
}

func less(a, b [3]int) bool {
	for i := range 3 {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}
