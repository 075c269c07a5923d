// Package clip shortens values quoted in error messages: a value of
// hundreds of KB (a file pasted into a field) would bury the message.
package clip

import (
	"fmt"
	"unicode/utf8"
)

// Max is how much of a long value a message quotes.
const Max = 64

// String is s when it is short, else its first Max bytes (whole
// characters) followed by "… (N bytes)".
func String(s string) string { return Prefix(s, Max) }

// Prefix is String with max in place of Max.
func Prefix(s string, max int) string {
	if len(s) <= max {
		return s
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:n], len(s))
}
