package render

import (
	"fmt"
	"strings"
)

// Test helpers: how the tests read a config the way Redis will, and check
// a sentinel.conf Sentinel has rewritten.

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
