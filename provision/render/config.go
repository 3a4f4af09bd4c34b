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
