package status

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/binaries"
)

// WriteJSON writes the report as one JSON document.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// page is the text being written: a heading a line, more lines under it.
type page struct{ strings.Builder }

// line starts a heading.
func (p *page) line(heading, format string, a ...any) {
	fmt.Fprintf(p, "%-11s %s\n", heading, fmt.Sprintf(format, a...))
}

// more is a line under the last heading.
func (p *page) more(format string, a ...any) {
	fmt.Fprintf(p, "%12s%s\n", "", fmt.Sprintf(format, a...))
}

// WriteText writes the report for a person: a heading a line, what is
// wrong last.
func WriteText(w io.Writer, r *Report) error {
	var b page
	line, more := b.line, b.more

	if n := r.Node; n.Bootstrapped {
		line("node", "%s: %s by eksd-kata %s, since %s", n.Name, n.Role, n.Verb, n.Since.UTC().Format("2006-01-02 15:04:05 MST"))
	} else {
		line("node", "not bootstrapped (no %s)", n.Record)
	}
	if rel := r.Release; rel != nil {
		line("release", "%s (Kubernetes %s), %s", rel.Name, rel.KubernetesVersion, rel.Source)
		if r.Node.Release != "" && r.Node.Release != rel.Name {
			more("the node was made from %s", r.Node.Release)
		}
		if r.Node.UpgradedFrom != "" {
			more("upgraded from %s", r.Node.UpgradedFrom)
		}
	}
	if bs := r.Binaries; bs != nil {
		writeBinaries(&b, r.Release.Name, bs)
	}
	if c := r.Containerd; c != nil {
		switch {
		case c.Version == "":
			line("containerd", "%s", c.Error)
		case c.Error != "":
			line("containerd", "%s; %s", c.Version, c.Error)
		default:
			line("containerd", "%s, runtimes %s", c.Version, strings.Join(c.RuntimeNames(), ", "))
		}
	}
	if k := r.Kata; k != nil {
		writeKata(&b, k)
	}
	if c := r.Cluster; c != nil {
		writeCluster(&b, c)
	}
	if d := r.Drift; d != nil {
		writeDrift(&b, d)
	}
	if len(r.Skipped) > 0 {
		line("skipped", "%s", r.Skipped[0])
		for _, s := range r.Skipped[1:] {
			more("%s", s)
		}
	}
	if len(r.Problems) == 0 {
		line("status", "as configured and Ready")
	} else {
		line("status", "%d problem(s):", len(r.Problems))
		for _, p := range r.Problems {
			more("✗ %s", p)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeBinaries(p *page, release string, bs *Binaries) {
	var match, unverified []string
	var other []binaries.Installed
	for _, in := range bs.Items {
		switch in.State {
		case binaries.Match:
			match = append(match, in.Name)
		case binaries.Unverifiable:
			unverified = append(unverified, fmt.Sprintf("%s %s:%s", in.Name, in.Algo, in.Got))
		default:
			other = append(other, in)
		}
	}
	var head []string
	if len(match) > 0 {
		head = append(head, fmt.Sprintf("%s match %s", strings.Join(match, ", "), release))
	}
	if len(unverified) > 0 {
		head = append(head, fmt.Sprintf("%s carries no checksums to compare them with (give --release-manifest FILE|URL)", release))
	}
	if bs.Error != "" {
		head = append(head, bs.Error)
	}
	if len(head) == 0 {
		head = append(head, "not "+release+"'s")
	}
	p.line("binaries", "%s", strings.Join(head, "; "))
	for _, u := range unverified {
		p.more("%s", u)
	}
	for _, in := range other {
		if in.State == binaries.Missing {
			p.more("✗ %s is missing", in.Path)
			continue
		}
		p.more("✗ %s differs: %s %s, %s says %s", in.Path, in.Algo, in.Got, release, in.Want)
	}
}

func writeKata(p *page, k *Kata) {
	if !k.Enabled {
		p.line("kata", "disabled in the configuration")
		return
	}
	var parts []string
	if k.Version != "" {
		parts = append(parts, k.Version)
	}
	if len(k.Ready) > 0 {
		parts = append(parts, "ready: "+strings.Join(k.Ready, ", "))
	}
	if k.Error != "" {
		parts = append(parts, k.Error)
	}
	if len(k.NotReady) > 0 {
		parts = append(parts, "not ready:")
	}
	p.line("kata", "%s", strings.Join(parts, ", "))
	for _, n := range k.NotReady {
		p.more("%s: %s", n.Hypervisor, n.Why)
	}
}

func writeCluster(p *page, c *Cluster) {
	switch {
	case c.Error != "":
		p.line("cluster", "%s (read with %s)", c.Error, c.Kubeconfig)
		return
	case !c.Registered:
		p.line("cluster", "node %s is not registered", c.Node)
		return
	}
	ready := "Ready"
	if !c.Ready {
		ready = "not Ready (" + c.readyText() + ")"
	}
	var detail []string
	if c.KubeletVersion != "" {
		detail = append(detail, "kubelet "+c.KubeletVersion)
	}
	if len(c.Roles) > 0 {
		detail = append(detail, strings.Join(c.Roles, ", "))
	}
	if c.KataLabel {
		detail = append(detail, "Kata label")
	}
	if len(detail) > 0 {
		ready += " (" + strings.Join(detail, "; ") + ")"
	}
	p.line("cluster", "node %s %s", c.Node, ready)
	var rcs []string
	for _, rc := range c.RuntimeClasses {
		s := rc.Name
		if rc.Handler != rc.Name {
			s += " (handler " + rc.Handler + ")"
		}
		rcs = append(rcs, s)
	}
	if len(rcs) == 0 {
		rcs = []string{"none"}
	}
	p.more("RuntimeClasses: %s", strings.Join(rcs, ", "))
}

func writeDrift(p *page, d *Drift) {
	if d.Error != "" {
		p.line("drift", "%s could not be planned: %s", d.Verb, d.Error)
		return
	}
	names := make([]string, len(d.Phases))
	for i, ph := range d.Phases {
		names[i] = ph.Name
	}
	clean := d.Changes == 0 && d.count(func(ph Phase) []Problem { return ph.Blockers }) == 0 &&
		d.count(func(ph Phase) []Problem { return ph.LeftToYou }) == 0
	if clean {
		p.line("drift", "nothing would change (%s planned: %s)", d.Verb, strings.Join(names, ", "))
	} else {
		p.line("drift", "%s would make %d change(s) (planned: %s)", d.Verb, d.Changes, strings.Join(names, ", "))
	}
	for _, ph := range d.Phases {
		for _, c := range ph.Changes {
			p.more("+ %s: %s", ph.Name, c)
		}
		for _, pr := range ph.Blockers {
			p.more("✗ %s: %s", ph.Name, problemText(pr))
		}
		for _, pr := range ph.LeftToYou {
			p.more("! %s: %s", ph.Name, problemText(pr))
		}
	}
	if len(d.NotPlanned) > 0 {
		p.more("not planned: %s", strings.Join(d.NotPlanned, "; "))
	}
}

func problemText(p Problem) string {
	if p.Remedy == "" {
		return p.What
	}
	return p.What + " → " + p.Remedy
}
