package containerd

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// decode parses a config file into a generic tree; errors name path, line
// and column so the user can fix the file by hand.
func decode(data []byte, path string) (table, error) {
	doc := table{}
	if err := toml.Unmarshal(data, &doc); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			line, col := de.Position()
			return nil, fmt.Errorf("%s:%d:%d: invalid TOML: %s", path, line, col, de.Error())
		}
		return nil, fmt.Errorf("%s: invalid TOML: %w", path, err)
	}
	return doc, nil
}

// countComments counts the comments go-toml will drop on re-encoding.
func countComments(data []byte) int {
	if !bytes.Contains(data, []byte("#")) {
		return 0
	}
	p := unstable.Parser{KeepComments: true}
	p.Reset(data)
	n := 0
	for p.NextExpression() {
		// A comment after an expression on the same line is its sibling.
		for e := p.Expression(); e != nil && e.Valid(); e = e.Next() {
			n += commentsIn(e)
		}
	}
	return n
}

func commentsIn(n *unstable.Node) int {
	c := 0
	if n.Kind == unstable.Comment {
		c++
	}
	it := n.Children()
	for it.Next() {
		c += commentsIn(it.Node())
	}
	return c
}

// fileVersion reads the version key; a file without one is version 1.
func fileVersion(doc table, path string) (int, error) {
	v, ok := doc["version"]
	if !ok {
		return 1, nil
	}
	n, ok := v.(int64)
	if !ok || n < 1 {
		return 0, fmt.Errorf("%s: version = %v: want an integer 1 to 4", path, v)
	}
	return int(n), nil
}
