package preflight

import (
	"fmt"
	"slices"
	"strings"
)

// Status is the outcome of one check.
type Status string

const (
	Pass Status = "pass"
	Warn Status = "warn" // works, or bootstrap fixes it; worth knowing
	Fail Status = "fail" // bootstrap would stop here
	Skip Status = "skip" // could not be checked (not root, --root, not applicable)
)

// Category groups checks in the output.
type Category string

const (
	Virtualisation Category = "virtualisation"
	HostCategory   Category = "host"
	Containerd     Category = "containerd"
	Kata           Category = "kata"
	Kubernetes     Category = "kubernetes"
)

// Categories is the order the output groups checks in.
var Categories = []Category{Virtualisation, HostCategory, Containerd, Kata, Kubernetes}

// Result is what one check found.
type Result struct {
	ID       string   `json:"id"`
	Category Category `json:"category"`
	Status   Status   `json:"status"`
	Message  string   `json:"message"`
	Remedy   string   `json:"remedy"`
	// BootstrapFixes says that `eksd-kata bootstrap` changes this by itself.
	BootstrapFixes bool `json:"bootstrapFixes"`
	// Ignored marks a fail turned into a warning by --ignore.
	Ignored bool `json:"ignored,omitempty"`
}

// Summary counts results by status.
type Summary struct {
	Pass    int  `json:"pass"`
	Warn    int  `json:"warn"`
	Fail    int  `json:"fail"`
	Skip    int  `json:"skip"`
	Ignored int  `json:"ignored"`
	OK      bool `json:"ok"` // no fails: bootstrap may proceed
}

// Report is the whole preflight, in check order.
type Report struct {
	Checks  []Result `json:"checks"`
	Summary Summary  `json:"summary"`
}

// Failed returns the results that fail.
func (r *Report) Failed() []Result {
	var out []Result
	for _, c := range r.Checks {
		if c.Status == Fail {
			out = append(out, c)
		}
	}
	return out
}

// Get returns the result of check id.
func (r *Report) Get(id string) (Result, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Result{}, false
}

func summarise(results []Result) Summary {
	var s Summary
	for _, r := range results {
		switch r.Status {
		case Pass:
			s.Pass++
		case Warn:
			s.Warn++
		case Fail:
			s.Fail++
		case Skip:
			s.Skip++
		}
		if r.Ignored {
			s.Ignored++
		}
	}
	s.OK = s.Fail == 0
	return s
}

// IgnoreAll ignores every check, as kubeadm's --ignore-preflight-errors=all.
const IgnoreAll = "all"

// ParseIgnore validates --ignore ids against the known checks; an unknown id
// is an error (the CLI exits 2), so a typo never silently ignores nothing.
func ParseIgnore(ids []string) (map[string]bool, error) {
	known := IDs()
	out := map[string]bool{}
	var unknown []string
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if id != IgnoreAll && !slices.Contains(known, id) {
			unknown = append(unknown, id)
			continue
		}
		out[id] = true
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown check id %s; known ids: %s, or %s",
			strings.Join(unknown, ", "), strings.Join(known, ", "), IgnoreAll)
	}
	return out, nil
}

// result helpers keep the checks short.
func pass(msg string, a ...any) Result { return Result{Status: Pass, Message: fmt.Sprintf(msg, a...)} }
func skip(msg string, a ...any) Result { return Result{Status: Skip, Message: fmt.Sprintf(msg, a...)} }

func warn(remedy, msg string, a ...any) Result {
	return Result{Status: Warn, Message: fmt.Sprintf(msg, a...), Remedy: remedy}
}

func fail(remedy, msg string, a ...any) Result {
	return Result{Status: Fail, Message: fmt.Sprintf(msg, a...), Remedy: remedy}
}

// fixable is a warning that bootstrap resolves by itself.
func fixable(remedy, msg string, a ...any) Result {
	r := warn(remedy, msg, a...)
	r.BootstrapFixes = true
	return r
}
