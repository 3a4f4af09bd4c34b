package render

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/redisctl/redisctl/provision/inventory"
)

// Quote writes v as one argument of a redis.conf or sentinel.conf line, so
// that Redis reads back exactly v. A non-empty value made only of printable
// characters other than space, quotes and backslash stays bare; anything else
// is double-quoted, with \\, \", \n, \r, \t, \b, \a and \xHH escapes for the
// characters that need them. Valid UTF-8 is kept as is inside the quotes.
//
// A '#' needs no quoting: only a line that starts with '#' is a comment, and
// a value never starts a line.
func Quote(v string) string {
	if isBare(v) {
		return v
	}
	var b strings.Builder
	b.Grow(len(v) + 2)
	b.WriteByte('"')
	for i := 0; i < len(v); {
		c := v[i]
		switch c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\a':
			b.WriteString(`\a`)
		default:
			if c < 0x20 || c == 0x7f {
				fmt.Fprintf(&b, `\x%02x`, c)
				break
			}
			if c < utf8.RuneSelf {
				b.WriteByte(c)
				break
			}
			r, size := utf8.DecodeRuneInString(v[i:])
			if r == utf8.RuneError && size == 1 {
				fmt.Fprintf(&b, `\x%02x`, c)
				break
			}
			b.WriteString(v[i : i+size])
			i += size
			continue
		}
		i++
	}
	b.WriteByte('"')
	return b.String()
}

func isBare(v string) bool {
	if v == "" || !utf8.ValidString(v) {
		return false
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c <= ' ', c == 0x7f, c == '"', c == '\'', c == '\\':
			return false
		}
	}
	return true
}

// SentinelRewriteSafe reports whether password survives being written
// without quotes, as Sentinel 7.0 (7.0.15 included) writes "sentinel
// auth-pass" and "sentinel sentinel-pass" back when it rewrites its config
// file, which it does at its first start. A password with a blank or a
// quote does not: the rewritten file then fails to load ("Unbalanced quotes
// in configuration line") or loads another password, at the next restart.
func SentinelRewriteSafe(password string) bool {
	args, ok := inventory.SplitArgs(password)
	return ok && len(args) == 1 && args[0] == password
}

// Line is one directive of a config file as Redis splits it.
type Line struct {
	Num  int      // 1-based line number in the file
	Args []string // Args[0] is the directive name as written; never empty
}

// Is reports whether the line starts with the given words, compared without
// regard to case as Redis compares directive and sub-command names.
// Is("sentinel", "myid") matches "sentinel myid 0123...".
func (l Line) Is(words ...string) bool {
	if len(l.Args) < len(words) {
		return false
	}
	for i, w := range words {
		if !strings.EqualFold(l.Args[i], w) {
			return false
		}
	}
	return true
}

// Find returns the lines that start with the given words (see Line.Is), in
// file order.
func Find(lines []Line, words ...string) []Line {
	var found []Line
	for _, l := range lines {
		if l.Is(words...) {
			found = append(found, l)
		}
	}
	return found
}

// ConfigError is a line Redis would refuse to load.
type ConfigError struct {
	Line int
	Msg  string
}

func (e *ConfigError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// ParseConfig splits a redis.conf or sentinel.conf the way Redis 7 does
// when it loads one (config.c loadServerConfigFromString and sds.c
// sdssplitargs): lines are split on '\n' and trimmed of spaces, tabs, '\r'
// and '\n'; a line that is then empty or starts with '#' is skipped; the
// rest is split into arguments with shell-like quoting. A line Redis would
// reject with "Unbalanced quotes in configuration line" returns a
// *ConfigError with that message. It does not check directive names or
// argument counts. A NUL byte is an error: Redis reads the file as a C string
// and would silently ignore what follows it.
func ParseConfig(data []byte) ([]Line, error) {
	var lines []Line
	for i, raw := range strings.Split(string(data), "\n") {
		num := i + 1
		if strings.IndexByte(raw, 0) >= 0 {
			return nil, &ConfigError{Line: num, Msg: "NUL byte in configuration line"}
		}
		s := strings.Trim(raw, " \t\r\n")
		if s == "" || s[0] == '#' {
			continue
		}
		args, ok := inventory.SplitArgs(s)
		if !ok {
			return nil, &ConfigError{Line: num, Msg: "Unbalanced quotes in configuration line"}
		}
		if len(args) == 0 {
			continue
		}
		lines = append(lines, Line{Num: num, Args: args})
	}
	return lines, nil
}

// CheckSentinelConf checks a sentinel.conf, typically one Sentinel has
// rewritten, the way the next start of Sentinel will read it: it must parse,
// monitor masterName, and carry password in its requirepass, "sentinel
// sentinel-pass" and "sentinel auth-pass <masterName>" lines. Errors name
// the line but never include the password.
func CheckSentinelConf(data []byte, masterName, password string) error {
	lines, err := ParseConfig(data)
	if err != nil {
		return err
	}
	// Directive names are case-insensitive, master names are not.
	forMaster := func(words ...string) []Line {
		var ls []Line
		for _, l := range Find(lines, words...) {
			if len(l.Args) > 2 && l.Args[2] == masterName {
				ls = append(ls, l)
			}
		}
		return ls
	}
	if len(forMaster("sentinel", "monitor")) == 0 {
		return fmt.Errorf("no \"sentinel monitor %s\" line", masterName)
	}
	for _, c := range []struct {
		name  string
		found []Line
		args  int // arguments before the password
	}{
		{"requirepass", Find(lines, "requirepass"), 1},
		{"sentinel sentinel-pass", Find(lines, "sentinel", "sentinel-pass"), 2},
		{"sentinel auth-pass " + masterName, forMaster("sentinel", "auth-pass"), 3},
	} {
		if len(c.found) == 0 {
			return fmt.Errorf("no %q line", c.name)
		}
		// Redis applies the last occurrence.
		l := c.found[len(c.found)-1]
		if len(l.Args) != c.args+1 || l.Args[c.args] != password {
			return fmt.Errorf("line %d: %s: does not hold the cluster password as one argument "+
				"(written back unquoted by Sentinel?)", l.Num, c.name)
		}
	}
	return nil
}
