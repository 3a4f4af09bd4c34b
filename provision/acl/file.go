package acl

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Line is the user's line in an ACL file, laid out as ACL SAVE lays it
// out, so that a file redisctl renders and the same users saved by Redis
// differ as little as Redis allows: name, on/off, flags, password hashes,
// keys, channels, commands, selectors.
func (u User) Line() string {
	w := []string{"user", u.Name}
	if u.Enabled {
		w = append(w, "on")
	} else {
		w = append(w, "off")
	}
	if u.NoPass {
		w = append(w, "nopass")
	}
	if u.SkipSanitizePayload {
		w = append(w, "skip-sanitize-payload")
	}
	for _, h := range u.Passwords {
		w = append(w, "#"+h)
	}
	w = append(w, u.Rules.words()...)
	w = append(w, u.Selectors...)
	return strings.Join(w, " ")
}

// Render writes an ACL file: one line per user, sorted by name as ACL SAVE
// sorts them. It refuses a set of users without the default user, because
// Redis then keeps the default user "on nopass" with every right; a
// duplicate name; a name CheckName refuses; and a user whose line would
// not read back as the same user (a hand-built User with a malformed
// rule), since Redis would refuse to start on it.
func Render(users []User) ([]byte, error) {
	users = slices.Clone(users)
	slices.SortFunc(users, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	var b bytes.Buffer
	hasDefault := false
	for i, u := range users {
		if err := CheckName(u.Name); err != nil {
			return nil, err
		}
		if i > 0 && users[i-1].Name == u.Name {
			return nil, fmt.Errorf("user %s is given twice", u.Name)
		}
		for _, h := range u.Passwords {
			if err := checkHash(h); err != nil {
				return nil, fmt.Errorf("user %s: %w", u.Name, err)
			}
		}
		line := u.Line()
		back, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("user %s: %w", u.Name, err)
		}
		if d := diff(back, u); len(d.Fields) > 0 {
			return nil, fmt.Errorf("user %s: its rules do not read back as written (%s differ); build users with NewAppUser or ParseRules", u.Name, strings.Join(d.Fields, ", "))
		}
		hasDefault = hasDefault || u.Name == Default
		b.WriteString(line)
		b.WriteByte('\n')
	}
	if !hasDefault {
		return nil, fmt.Errorf("no default user: Redis would keep it on, without a password, with every right")
	}
	return b.Bytes(), nil
}

// Parse reads an ACL file as Redis reads it: blank lines are skipped, a
// comment line is an error (Redis 7.0 refuses it), a user given twice is
// an error. A clear-text password (">pw") is refused: neither redisctl nor
// ACL SAVE writes one, and it should not be on disk. Parse does not add
// the default user a file lacks; Render would refuse that file.
func Parse(data []byte) ([]User, error) {
	var users []User
	seen := map[string]bool{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.Trim(line, " \t\r")
		if line == "" {
			continue
		}
		u, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if seen[u.Name] {
			return nil, fmt.Errorf("line %d: user %s is given twice", i+1, u.Name)
		}
		seen[u.Name] = true
		users = append(users, u)
	}
	return users, nil
}

func parseLine(line string) (User, error) {
	tokens, err := splitRules(line)
	if err != nil {
		return User{}, err
	}
	if len(tokens) < 2 || tokens[0] != "user" {
		return User{}, fmt.Errorf("a line is \"user <name> <rules>...\"")
	}
	u := User{Name: tokens[1]}
	if strings.ContainsAny(u.Name, `"'`) || strings.IndexFunc(u.Name, unicode.IsControl) >= 0 {
		return User{}, fmt.Errorf("user name %q: quotes and control characters cannot be in an ACL file", u.Name)
	}
	if err := applyRules(&u, tokens[2:], filePolicy); err != nil {
		return User{}, fmt.Errorf("user %s: %w", u.Name, err)
	}
	return u, nil
}

// Difference is how one user found (in a file, say) differs from the
// user wanted. It names fields, never passwords or their hashes.
type Difference struct {
	User string
	// Missing: wanted, not found. Unwanted: found, not wanted.
	Missing, Unwanted bool
	// Fields that differ for a user found and wanted: "enabled", "nopass",
	// "passwords", "keys", "channels", "commands", "selectors",
	// "skip-sanitize-payload".
	Fields []string
	// MaybeReworded is set when commands differ and category rules
	// (+@read) are involved: Redis rewrites those into its own expansion
	// on ACL SAVE, so the difference may be wording only. The caller can
	// settle it by asking the server how it writes the wanted rules.
	MaybeReworded bool
}

func (d Difference) String() string {
	switch {
	case d.Missing:
		return "user " + d.User + " is missing"
	case d.Unwanted:
		return "user " + d.User + " is not wanted"
	}
	s := "user " + d.User + ": " + strings.Join(d.Fields, ", ") + " differ"
	if d.MaybeReworded {
		s += " (commands maybe only as Redis rewords category rules)"
	}
	return s
}

// Compare lists how the users found differ from the users wanted, sorted
// by user name; none means they mean the same. It ignores what does not
// change meaning, and only that: the order of users, of passwords, of key
// patterns and of channel patterns (each is a set to Redis); "-@all" at
// the start of commands (a user starts with none); the order of command
// rules where it cannot matter (see commandKey); "sanitize-payload" (the
// same as not saying it). Selectors are compared word for word.
func Compare(found, wanted []User) []Difference {
	byName := func(us []User) map[string]User {
		m := make(map[string]User, len(us))
		for _, u := range us {
			m[u.Name] = u
		}
		return m
	}
	f, w := byName(found), byName(wanted)
	var names []string
	for n := range f {
		names = append(names, n)
	}
	for n := range w {
		if _, ok := f[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var out []Difference
	for _, n := range names {
		fu, inF := f[n]
		wu, inW := w[n]
		switch {
		case !inF:
			out = append(out, Difference{User: n, Missing: true})
		case !inW:
			out = append(out, Difference{User: n, Unwanted: true})
		default:
			if d := diff(fu, wu); len(d.Fields) > 0 {
				out = append(out, d)
			}
		}
	}
	return out
}

func diff(a, b User) Difference {
	d := Difference{User: b.Name}
	add := func(field string, same bool) {
		if !same {
			d.Fields = append(d.Fields, field)
		}
	}
	add("enabled", a.Enabled == b.Enabled)
	add("nopass", a.NoPass == b.NoPass)
	add("passwords", sameSet(a.Passwords, b.Passwords))
	add("keys", sameSet(a.Keys, b.Keys))
	add("channels", sameSet(a.Channels, b.Channels))
	ca, catA := commandKey(a.Commands)
	cb, catB := commandKey(b.Commands)
	add("commands", ca == cb)
	d.MaybeReworded = ca != cb && (catA || catB)
	add("selectors", slices.Equal(a.Selectors, b.Selectors))
	add("skip-sanitize-payload", a.SkipSanitizePayload == b.SkipSanitizePayload)
	return d
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// commandKey is a string equal for two rule lists that give the same
// commands, where that can be told without Redis's command table;
// categories tells whether category rules other than a leading +@all or
// -@all are involved, which Redis rewords.
//
// The list is cut into runs. A run of category rules of one sign commutes
// ("+@read +@write" is "+@write +@read"), so it is sorted. In a run of
// command rules each command family is independent of the others:
// "+client" or "-client" resets every subcommand of CLIENT,
// "+client|kill" sets one; so a family reduces to its last whole-command
// rule and the subcommand rules after it, last one winning, and the run is
// sorted. A run before any category also drops what repeats the starting
// point (a user starts with -@all). This keeps ACL SAVE's output of Redis
// 7.0, whose order changes from one server process to the next, equal to
// itself.
func commandKey(cmds []string) (key string, categories bool) {
	base := "-@all"
	for len(cmds) > 0 && (cmds[0] == "-@all" || cmds[0] == "+@all") {
		base, cmds = cmds[0], cmds[1:]
	}
	isCategory := func(c string) bool { return strings.HasPrefix(c[1:], "@") }
	parts := []string{base}
	for len(cmds) > 0 {
		n := 0
		if isCategory(cmds[0]) {
			for n < len(cmds) && isCategory(cmds[n]) && cmds[n][0] == cmds[0][0] {
				n++
			}
			run := slices.Clone(cmds[:n])
			slices.Sort(run)
			parts = append(parts, run...)
			categories = true
		} else {
			for n < len(cmds) && !isCategory(cmds[n]) {
				n++
			}
			start := byte(0)
			if !categories {
				start = base[0]
			}
			parts = append(parts, "["+commandRun(cmds[:n], start)+"]")
		}
		cmds = cmds[n:]
	}
	return strings.Join(parts, " "), categories
}

// commandRun is the key of a run of command rules without categories;
// start is '+' or '-' when every command is known to be in that state
// before the run, 0 when not.
func commandRun(cmds []string, start byte) string {
	type family struct {
		whole byte // '+', '-', or 0 for "left as it was"
		subs  map[string]byte
	}
	fams := map[string]*family{}
	for _, c := range cmds {
		name, sub, hasSub := strings.Cut(c[1:], "|")
		f := fams[name]
		if f == nil {
			f = &family{subs: map[string]byte{}}
			fams[name] = f
		}
		if !hasSub {
			f.whole, f.subs = c[0], map[string]byte{}
		} else {
			f.subs[sub] = c[0]
		}
	}
	var words []string
	for name, f := range fams {
		whole := f.whole
		if whole == 0 {
			whole = start
		}
		if f.whole != 0 && f.whole != start {
			words = append(words, string(f.whole)+name)
		}
		for sub, sign := range f.subs {
			if sign != whole {
				words = append(words, string(sign)+name+"|"+sub)
			}
		}
	}
	slices.Sort(words)
	return strings.Join(words, " ")
}
