package inventory

import (
	"reflect"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string // nil: Redis rejects the line
	}{
		{"", []string{}},
		{"   \t ", []string{}},
		{"a b  c", []string{"a", "b", "c"}},
		{"\v\fa", []string{"a"}},                   // leading blanks are isspace()
		{"a\vb", []string{"a\vb"}},                 // but only space, \t, \r, \n end a bare word
		{`"a b" 'c d'`, []string{"a b", "c d"}},    // quotes group
		{`ab"c d"`, []string{"abc d"}},             // a quote may start mid-word
		{`""`, []string{""}},                       // empty argument
		{`"\x41\x4a\x4A\xZZ"`, []string{"AJJxZZ"}}, // \xHH, else backslash-anything
		{`"\n\r\t\b\a\\\"\q"`, []string{"\n\r\t\b\a\\\"q"}},
		{`'it\'s' 'a\b'`, []string{"it's", `a\b`}}, // single quotes: only \'
		{`bare\x "#x"`, []string{`bare\x`, "#x"}},  // backslash is literal outside quotes
		{`"a"b`, nil},                              // closing quote must be followed by a blank
		{`'a'b`, nil},
		{`"abc`, nil},
		{`'abc`, nil},
		{`"abc\"`, nil},
		{`"abc\`, nil},
		{`'a\\'`, nil}, // \\ is not an escape in single quotes, so \' escapes the quote
		{"\"a\"\v", []string{"a"}},
		{`p@ss w"o'rd#$\x`, nil}, // the tricky password written back unquoted
	} {
		got, ok := SplitArgs(c.in)
		if c.want == nil {
			if ok {
				t.Errorf("SplitArgs(%q) = %q, want unbalanced quotes", c.in, got)
			}
			continue
		}
		if !ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("SplitArgs(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
}
