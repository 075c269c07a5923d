package images

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
)

// listed is one image as `images list -o json` prints it.
type listed struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	Target string `json:"target"`
	Digest string `json:"digest,omitempty"`
	Retag  bool   `json:"retag"`
	// TargetFrom says where an unknown target will come from.
	TargetFrom string `json:"targetFrom,omitempty"`
}

// List writes the source and target of every pair, as a table or JSON.
func List(w io.Writer, pairs []eksd.ImagePair, asJSON bool) error {
	if asJSON {
		out := make([]listed, len(pairs))
		for i, p := range pairs {
			out[i] = listed{Name: p.Name, Source: p.Source, Target: p.Target, Digest: p.Digest, Retag: p.NeedsRetag(), TargetFrom: p.TargetFrom}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSOURCE\tTARGET")
	for _, p := range pairs {
		target := p.Target
		switch {
		case p.TargetUnknown():
			target = "(" + p.TargetFrom + ")"
		case !p.NeedsRetag():
			target = "(same)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, p.Source, target)
	}
	return tw.Flush()
}
