package plan

import (
	"errors"
	"io/fs"

	"github.com/pmezard/go-difflib/difflib"
)

// UnifiedDiff shows old → new of a file as `diff -u` would.
func UnifiedDiff(path string, old, new []byte) string {
	from := "a" + path
	if old == nil {
		from = "/dev/null"
	}
	d := difflib.UnifiedDiff{
		A:        difflib.SplitLines(string(old)),
		B:        difflib.SplitLines(string(new)),
		FromFile: from,
		ToFile:   "b" + path,
		Context:  3,
	}
	if old == nil {
		d.A = nil
	}
	s, err := difflib.GetUnifiedDiffString(d)
	if err != nil {
		return err.Error()
	}
	return s
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
