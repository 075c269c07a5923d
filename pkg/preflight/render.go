package preflight

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the report as one JSON document.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

var marks = map[Status]string{Pass: "✓", Warn: "!", Fail: "✗", Skip: "–"}

// ANSI colours per status, used only on a terminal.
var colours = map[Status]string{Pass: "\x1b[32m", Warn: "\x1b[33m", Fail: "\x1b[31m", Skip: "\x1b[2m"}

const colourReset = "\x1b[0m"

// WriteText writes the report grouped by category, one line per check and
// the remedy under warnings and fails, then a summary.
func WriteText(w io.Writer, r *Report, colour bool) error {
	width := 0
	for _, c := range r.Checks {
		width = max(width, len(c.ID))
	}
	var b strings.Builder
	for _, cat := range Categories {
		first := true
		for _, c := range r.Checks {
			if c.Category != cat {
				continue
			}
			if first {
				fmt.Fprintf(&b, "%s\n", cat)
				first = false
			}
			mark := marks[c.Status]
			if colour {
				mark = colours[c.Status] + mark + colourReset
			}
			fmt.Fprintf(&b, "  %s %-*s  %s\n", mark, width, c.ID, c.Message)
			if c.Remedy != "" && (c.Status == Warn || c.Status == Fail) {
				prefix := "→ "
				if c.BootstrapFixes {
					prefix = "→ (bootstrap fixes) "
				}
				fmt.Fprintf(&b, "    %*s  %s%s\n", width, "", prefix, c.Remedy)
			}
		}
	}
	s := r.Summary
	fmt.Fprintf(&b, "\n%d passed, %d warnings, %d failed, %d skipped", s.Pass, s.Warn, s.Fail, s.Skip)
	if s.Ignored > 0 {
		fmt.Fprintf(&b, " (%d failures ignored)", s.Ignored)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}
