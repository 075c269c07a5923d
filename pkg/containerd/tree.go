package containerd

import "fmt"

// table is a decoded TOML table as go-toml/v2 produces it.
type table = map[string]any

// lookup returns the table at keys, if every step is a table.
func lookup(t table, keys ...string) (table, bool) {
	for _, k := range keys {
		next, ok := t[k].(table)
		if !ok {
			return nil, false
		}
		t = next
	}
	return t, true
}

// ensure returns the table at keys, creating missing steps. A step that
// holds a non-table value is an error: overwriting it would lose a setting.
func ensure(t table, keys ...string) (table, error) { return walk(t, true, keys) }

// tableAt returns the table at keys, nil when a step is missing. A step
// that holds another type is an error naming its key: carrying it over,
// or going around it, would lose a setting.
func tableAt(t table, keys ...string) (table, error) { return walk(t, false, keys) }

// walk follows keys through tables, creating the missing ones if create.
func walk(t table, create bool, keys []string) (table, error) {
	for i, k := range keys {
		switch v := t[k].(type) {
		case table:
			t = v
		case nil:
			if !create {
				return nil, nil
			}
			n := table{}
			t[k] = n
			t = n
		default:
			return nil, notTable(keys[:i+1], v)
		}
	}
	return t, nil
}

func notTable(keys []string, v any) error {
	kind := fmt.Sprintf("a %T", v)
	switch v.(type) {
	case int64:
		kind = "an integer"
	case float64:
		kind = "a float"
	case string:
		kind = "a string"
	case bool:
		kind = "a boolean"
	case []any:
		kind = "an array"
	}
	return fmt.Errorf("key %s holds %s, want a table", dotted(keys), kind)
}

// dotted renders a key path the way containerd's docs spell it.
func dotted(keys []string) string {
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += "."
		}
		if isBareKey(k) {
			s += k
		} else {
			s += fmt.Sprintf("%q", k)
		}
	}
	return s
}

func isBareKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// stringList reads a TOML array of strings; other element types are kept
// out, and ok is false when the value is not an array at all.
func stringList(v any) (out []string, ok bool) {
	arr, ok := v.([]any)
	if !ok {
		return nil, false
	}
	for _, e := range arr {
		if s, isStr := e.(string); isStr {
			out = append(out, s)
		}
	}
	return out, true
}

// anyList turns strings back into the []any shape go-toml decodes.
func anyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
