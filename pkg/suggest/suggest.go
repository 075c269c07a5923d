// Package suggest finds the name a user most likely meant when they
// misspelt one: a flag, a configuration field.
package suggest

import "strings"

// Closest returns the candidate that name is most likely a misspelling of,
// or "" when none is close. A candidate that differs only in case wins;
// otherwise the one fewest edits away, within a third of name's length (at
// least one edit), so that short names do not suggest unrelated ones.
// Ties go to the earlier candidate.
func Closest(name string, candidates []string) string {
	lower := strings.ToLower(name)
	for _, c := range candidates {
		if strings.ToLower(c) == lower {
			return c
		}
	}
	best, bestDist := "", max(1, len(name)/3)+1
	for _, c := range candidates {
		if d := distance(lower, strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance of a and b in bytes: the names
// compared are ASCII.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
