package inventory

import (
	"reflect"
	"strings"
	"testing"
)

// TestDirectiveArgs covers the rules render and the loader share; the bad
// inventories cover the messages in context.
func TestDirectiveArgs(t *testing.T) {
	for _, c := range []struct {
		name, value string
		want        []string // nil: refused
		msg         string   // start of the refusal
	}{
		{"save", "900 1 300 10", []string{"900", "1", "300", "10"}, ""},
		{"save", `""`, []string{""}, ""},
		{"client-output-buffer-limit", `"replica 256mb 64mb 60"`, []string{"replica 256mb 64mb 60"}, ""},
		{"notify-keyspace-events", `'Ex$'`, []string{"Ex$"}, ""},
		{"maxmemory", "2gb # not a comment", []string{"2gb", "#", "not", "a", "comment"}, ""},
		{"save", `"900 1`, nil, "unbalanced quotes"},
		{"save", `"900"1`, nil, "unbalanced quotes"},
		{"save", `'it''s'`, nil, "unbalanced quotes"},
		{"save", " \t ", nil, "contains a tab"},
		{"save", "   ", nil, "needs a value"},
		{"save", "1\n2", nil, "contains a newline"},
		{"MaxMemory", "2gb", nil, `"MaxMemory" is not a redis.conf directive name (want lower-case letters, digits and '-', e.g. maxmemory)`},
		{"9lives", "yes", nil, `"9lives" is not a redis.conf directive name (want lower-case letters, digits and '-', starting with a letter)`},
		{"", "yes", nil, `"" is not a redis.conf directive name`},
		{"port", "7001", nil, "managed by redisctl"},
		{"sentinel", "monitor m 10.0.0.1 7000 2", nil, "managed by redisctl"},
		{"user", "default on nopass ~* +@all", nil, "not allowed"},
		{"rename-command", `CONFIG ""`, nil, "not allowed"},
		{"rename-command", `FLUSHALL ""`, nil, "not allowed"},
	} {
		got, err := DirectiveArgs(c.name, c.value)
		if c.want != nil {
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Errorf("DirectiveArgs(%q, %q) = %q, %v; want %q", c.name, c.value, got, err, c.want)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), c.msg) {
			t.Errorf("DirectiveArgs(%q, %q) = %q, %v; want an error starting %q", c.name, c.value, got, err, c.msg)
		}
	}
}

// TestDirectiveMessagesHideValues: a value may be a secret (ACL lines).
func TestDirectiveMessagesHideValues(t *testing.T) {
	const secret = "s3cret-value"
	for _, c := range []struct{ name, value string }{
		{"user", "default on >" + secret},
		{"masterauth", secret},
		{"maxmemory", `"` + secret},
		{"maxmemory", secret + "\n"},
	} {
		if _, err := DirectiveArgs(c.name, c.value); err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error %v: want one that does not show the value", c.name, err)
		}
	}
}

// TestEveryListedDirectiveIsRefused keeps the two lists from overlapping
// silently and from holding names CheckDirectiveName could never match.
func TestEveryListedDirectiveIsRefused(t *testing.T) {
	for name := range managed {
		if _, also := refused[name]; also {
			t.Errorf("%s is both managed and refused", name)
		}
	}
	for _, list := range []map[string]string{managed, refused} {
		for name := range list {
			if !directiveName.MatchString(name) || CheckDirectiveName(name) == nil {
				t.Errorf("%s is listed but not refused", name)
			}
		}
	}
}
