package inventory

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file reads typed values out of yaml.Node trees. Each reader reports
// a wrong type as a problem at the node and returns ok=false; an absent or
// null value returns ok=false silently, leaving the default in place.

// keySet is the keys a mapping may hold, with hints for known mistakes.
type keySet struct {
	names []string
	hints map[string]string // unknown key -> what to write instead
}

func (ks keySet) has(k string) bool {
	for _, n := range ks.names {
		if n == k {
			return true
		}
	}
	return false
}

// unknown explains an unknown key: a hint, a close match, or the valid keys.
func (ks keySet) unknown(k string) string {
	if h, ok := ks.hints[k]; ok {
		return fmt.Sprintf("unknown key %q (%s)", k, h)
	}
	if s := suggest(k, ks.names); s != "" {
		return fmt.Sprintf("unknown key %q (did you mean %q?)", k, s)
	}
	return fmt.Sprintf("unknown key %q (want one of %s)", k, strings.Join(ks.names, ", "))
}

// mapping checks that n is a mapping whose keys are all in keys and returns
// its values by key. An absent n gives an empty map; a node of another kind
// is reported (want says what was expected) and gives nil.
func (d *decoder) mapping(n *yaml.Node, f fieldPath, keys keySet, want string) map[string]*yaml.Node {
	m := map[string]*yaml.Node{}
	if absent(n) {
		return m
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, f, "want %s, not %s", want, describe(n))
		return nil
	}
	for _, kv := range d.pairs(n, f) {
		k := kv.key.Value
		if !keys.has(k) {
			d.errorf(kv.key, f, "%s", keys.unknown(k))
			continue
		}
		at := posOf(kv.value)
		if absent(kv.value) || kv.value.Kind != yaml.ScalarNode {
			at = posOf(kv.key) // a block's own position is its first line
		}
		d.seen[f.key(k)] = at
		m[k] = kv.value
	}
	return m
}

type keyValue struct{ key, value *yaml.Node }

// pairs returns the entries of mapping n in order, with aliases resolved,
// reporting (and dropping) repeated keys and keys that are not plain names.
func (d *decoder) pairs(n *yaml.Node, f fieldPath) []keyValue {
	var kvs []keyValue
	first := map[string]int{} // key -> line
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		switch {
		case k.ShortTag() == "!!merge":
			d.errorf(k, f, "merge keys (<<) are not supported (write the keys out)")
			continue
		case k.Kind != yaml.ScalarNode:
			d.errorf(k, f, "a key must be a plain name, not %s", describe(k))
			continue
		}
		if line, dup := first[k.Value]; dup {
			d.errorf(k, f.key(k.Value), "repeated key (first set on line %d)", line)
			continue
		}
		first[k.Value] = k.Line
		kvs = append(kvs, keyValue{k, v})
	}
	return kvs
}

// absent reports whether a value was left out or written as null.
func absent(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// deref follows an alias (*name) to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func posOf(n *yaml.Node) position {
	if n == nil {
		return position{}
	}
	return position{n.Line, n.Column}
}

// describe names a node's kind for "want X, not Y" messages. It never
// shows a string's content, which might be a password.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "true/false"
	case "!!null":
		return "nothing"
	}
	return "a string"
}

// shown renders a scalar for a message: numbers and booleans as written,
// strings quoted. Only for values that cannot be secret.
func shown(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		return describe(n)
	}
	if n.ShortTag() == "!!str" {
		return strconv.Quote(n.Value)
	}
	return n.Value
}

// str reads any scalar as the text written (7000 reads as "7000").
func (d *decoder) str(n *yaml.Node, f fieldPath) (string, bool) {
	if absent(n) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, f, "want a string, not %s", describe(n))
		return "", false
	}
	return n.Value, true
}

// integer reads a whole number; want describes the expected value.
func (d *decoder) integer(n *yaml.Node, f fieldPath, want string) (int, bool) {
	if absent(n) {
		return 0, false
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && isDigits(n.Value) {
		d.errorf(n, f, "%s is a string, not a number (remove the quotes)", shown(n))
		return 0, false
	}
	var v int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		d.errorf(n, f, "%s is not a whole number (want %s)", shown(n), want)
		return 0, false
	}
	return v, true
}

func isDigits(s string) bool {
	_, err := strconv.Atoi(strings.TrimSpace(s))
	return err == nil
}

// boolean reads true or false.
func (d *decoder) boolean(n *yaml.Node, f fieldPath) (bool, bool) {
	if absent(n) {
		return false, false
	}
	var v bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
		d.errorf(n, f, "%s is not true or false", shown(n))
		return false, false
	}
	return v, true
}

// port reads a TCP port into dst when one is written and valid.
func (d *decoder) port(n *yaml.Node, f fieldPath, dst *int) {
	const want = "a port, 1 to 65535"
	v, ok := d.integer(n, f, want)
	if !ok {
		return
	}
	if v < 1 || v > 65535 {
		d.errorf(n, f, "%d is out of range (want %s)", v, want)
		return
	}
	*dst = v
}

// atLeastOne reads a count of unit (at least 1) into dst when one is written
// and valid.
func (d *decoder) atLeastOne(n *yaml.Node, f fieldPath, unit string, dst *int) {
	want := "a number of " + unit + ", at least 1"
	v, ok := d.integer(n, f, want)
	if !ok {
		return
	}
	if v < 1 {
		d.errorf(n, f, "%d is too small (want %s)", v, want)
		return
	}
	*dst = v
}
