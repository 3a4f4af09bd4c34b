package acl

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Names of the users redisctl creates itself. Application users may not
// take them, whatever their case: a user's generated password is a file
// named after it on the control machine, and on a case-insensitive file
// system "Admin" and "admin" would be one file.
const (
	Default     = "default"
	Admin       = "admin"
	Replication = "replication"
	Sentinel    = "sentinel"
)

var reserved = []string{Default, Admin, Replication, Sentinel}

// User is one ACL user as redisctl wants it or found it in an ACL file.
type User struct {
	Name    string
	Enabled bool
	// NoPass lets any password in. redisctl never sets it; it is here so
	// that a file written by someone else (the default user of a fresh
	// Redis is "on nopass") reads back as what it is.
	NoPass bool
	// Passwords are SHA-256 hex hashes (lowercase, 64 digits), never clear
	// text. More than one is normal during a rotation.
	Passwords []string
	Rules
}

// Rules are a user's rights, split by what they govern. Keys, channels,
// commands and selectors are independent of each other in Redis, so the
// split keeps the meaning of the rules it came from; the order inside
// Commands is kept because there it matters ("+@all -flushall" is not
// "-flushall +@all").
type Rules struct {
	// Keys are key patterns as rule tokens: "~pattern" for read and
	// write, "%R~pattern" or "%W~pattern" for one of them (Redis 7).
	Keys []string
	// Channels are Pub/Sub channel patterns: "&pattern".
	Channels []string
	// Commands are command rules in order: "+get", "-config|set",
	// "+@read", "-@dangerous". A user starts with none.
	Commands []string
	// Selectors are Redis 7 selectors, each "(" rules ")" as one string.
	Selectors []string
	// SkipSanitizePayload lets the user RESTORE a payload without the
	// deep check. "sanitize-payload" is not kept: it means the same as
	// saying nothing, and Redis 7.2 writes it where 7.0 does not.
	SkipSanitizePayload bool
}

// HashPassword returns the SHA-256 hex digest Redis keeps for a password;
// it is what goes into an ACL file as "#<hash>".
func HashPassword(password string) string {
	sum := sha256.Sum256([]byte(password))
	return hex.EncodeToString(sum[:])
}

// checkHash accepts what Redis accepts after "#": 64 lowercase hex digits.
func checkHash(h string) error {
	if len(h) != 64 {
		return fmt.Errorf("a password hash is 64 hex digits (SHA-256), not %d characters", len(h))
	}
	for _, c := range h {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("a password hash is lowercase hex digits only")
		}
	}
	return nil
}

// CheckName accepts letters, digits, '-', '_' and '.', not first a '-' or
// '.', at most 64 characters. Redis takes almost any name; these limits are
// redisctl's, because a name is also a file name on the control machine
// ("..", "-x") and a word in config files, logs and shell commands.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("a user name cannot be empty")
	case len(name) > 64:
		return fmt.Errorf("user name %.20q…: at most 64 characters", name)
	case name[0] == '-' || name[0] == '.':
		return fmt.Errorf("user name %q: must not start with %q", name, name[0])
	}
	for _, c := range name {
		if !isNameChar(c) {
			return fmt.Errorf("user name %q: only letters, digits, '-', '_' and '.' are allowed, not %q", name, c)
		}
	}
	return nil
}

func isNameChar(c rune) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.'
}

// CheckAppName is CheckName plus the names redisctl keeps for itself.
func CheckAppName(name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	for _, r := range reserved {
		if strings.EqualFold(name, r) {
			return fmt.Errorf("user name %q is redisctl's own %q user; choose another name", name, r)
		}
	}
	return nil
}

// NewAppUser is an application user from the inventory: its name, its
// rules as written there (e.g. "~app:* &app:* +@read +@write -@dangerous")
// and the hashes of its passwords. It is always enabled.
func NewAppUser(name, rules string, passwords ...string) (User, error) {
	if err := CheckAppName(name); err != nil {
		return User{}, err
	}
	r, err := ParseRules(rules)
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", name, err)
	}
	for _, h := range passwords {
		if err := checkHash(h); err != nil {
			return User{}, fmt.Errorf("user %s: %w", name, err)
		}
	}
	return User{Name: name, Enabled: true, Passwords: slices.Clone(passwords), Rules: r}, nil
}

// ReplicationUser is what a replica logs in as on its master (masteruser):
// the commands of the replication handshake and stream, no keys, no
// channels. These are the rules Redis's ACL documentation gives for
// replicas ("ACL rules for Sentinel and Replicas").
func ReplicationUser(passwords ...string) User {
	return User{Name: Replication, Enabled: true, Passwords: slices.Clone(passwords),
		Rules: Rules{Commands: []string{"+psync", "+replconf", "+ping"}}}
}

// SentinelUser is what a sentinel logs in as on the data nodes (sentinel
// auth-user): Redis's documented rule set for Sentinel. No keys; every
// channel because the documentation says allchannels, although Sentinel
// itself only uses __sentinel__:hello.
func SentinelUser(passwords ...string) User {
	return User{Name: Sentinel, Enabled: true, Passwords: slices.Clone(passwords),
		Rules: Rules{
			Channels: []string{"&*"},
			Commands: []string{
				"+multi", "+slaveof", "+ping", "+exec", "+subscribe",
				"+config|rewrite", "+role", "+publish", "+info",
				"+client|setname", "+client|kill", "+script|kill",
			},
		}}
}

// AdminUser is what redisctl itself logs in as: every command, key and
// channel. Narrowing it would gain nothing: redisctl runs ACL SETUSER to
// manage the other users, and whoever may run ACL SETUSER can give itself
// any right. Its other work spans most categories anyway: CONFIG SET and
// REWRITE, REPLICAOF, CLIENT PAUSE, WAIT, BGSAVE, DBSIZE, INFO, and the
// failover test's writes and reads of its own keys.
func AdminUser(passwords ...string) User {
	return User{Name: Admin, Enabled: true, Passwords: slices.Clone(passwords),
		Rules: Rules{Keys: []string{"~*"}, Channels: []string{"&*"}, Commands: []string{"+@all"}}}
}

// DefaultUser is the user of clients that send no user name. Kept (the
// inventory's redis.default_user), it is what the cluster password always
// opened: everything. Not kept, it is off, with no password and no rights,
// so that neither a new login nor a connection that logged in before it was
// switched off (Redis lets those go on) can do anything through it.
func DefaultUser(keep bool, passwords ...string) User {
	if !keep {
		return User{Name: Default}
	}
	u := AdminUser(passwords...)
	u.Name = Default
	return u
}

// Policies for parseRules: what a token may do depends on who wrote it.
type policy int

const (
	// appPolicy is an inventory's rules string: rights only.
	appPolicy policy = iota
	// filePolicy is an ACL file: also on/off and password hashes, never
	// a clear password.
	filePolicy
	// selectorPolicy is the inside of a selector: keys, channels and
	// commands only, as Redis allows there.
	selectorPolicy
)

// ParseRules reads an application user's rules. Anything that is not an
// ACL rule is refused, and so is anything touching passwords or whether
// the user is on: those are redisctl's to manage, and a password written
// into the rules would end up in clear in the inventory's rules field.
func ParseRules(s string) (Rules, error) {
	tokens, err := splitRules(s)
	if err != nil {
		return Rules{}, err
	}
	var u User
	if err := applyRules(&u, tokens, appPolicy); err != nil {
		return Rules{}, err
	}
	return u.Rules, nil
}

// splitRules splits rules on spaces and joins a selector's words back into
// one token, as Redis does for ACL files and ACL SETUSER.
func splitRules(s string) ([]string, error) {
	var out []string
	words := strings.Fields(s)
	for i := 0; i < len(words); i++ {
		w := words[i]
		if !strings.HasPrefix(w, "(") || strings.HasSuffix(w, ")") {
			out = append(out, w)
			continue
		}
		j := i + 1
		for j < len(words) && !strings.HasSuffix(words[j], ")") {
			j++
		}
		if j == len(words) {
			return nil, fmt.Errorf("selector %q has no closing parenthesis", strings.Join(words[i:], " "))
		}
		out = append(out, strings.Join(words[i:j+1], " "))
		i = j
	}
	return out, nil
}

// applyRules applies tokens to u in order, the way Redis applies them to a
// new user, refusing what p does not allow.
func applyRules(u *User, tokens []string, p policy) error {
	for _, tok := range tokens {
		if err := applyRule(u, tok, p); err != nil {
			return err
		}
	}
	return nil
}

func applyRule(u *User, tok string, p policy) error {
	r := &u.Rules
	lower := strings.ToLower(tok)
	switch lower {
	case "allkeys":
		r.Keys = []string{"~*"}
		return nil
	case "resetkeys":
		r.Keys = nil
		return nil
	case "allchannels":
		r.Channels = []string{"&*"}
		return nil
	case "resetchannels":
		r.Channels = nil
		return nil
	case "allcommands":
		r.Commands = append(r.Commands, "+@all")
		return nil
	case "nocommands":
		r.Commands = append(r.Commands, "-@all")
		return nil
	}
	if p != selectorPolicy {
		switch lower {
		case "sanitize-payload":
			r.SkipSanitizePayload = false
			return nil
		case "skip-sanitize-payload":
			r.SkipSanitizePayload = true
			return nil
		case "clearselectors":
			r.Selectors = nil
			return nil
		}
	}
	if p == filePolicy {
		switch lower {
		case "on":
			u.Enabled = true
			return nil
		case "off":
			u.Enabled = false
			return nil
		case "nopass":
			u.NoPass, u.Passwords = true, nil
			return nil
		case "resetpass":
			u.NoPass, u.Passwords = false, nil
			return nil
		case "reset":
			*u = User{Name: u.Name}
			return nil
		}
		switch tok[0] {
		case '#':
			if err := checkHash(tok[1:]); err != nil {
				return fmt.Errorf("rule #…: %w", err)
			}
			u.NoPass = false
			if !slices.Contains(u.Passwords, tok[1:]) {
				u.Passwords = append(u.Passwords, tok[1:])
			}
			return nil
		case '!':
			if err := checkHash(tok[1:]); err != nil {
				return fmt.Errorf("rule !…: %w", err)
			}
			u.Passwords = slices.DeleteFunc(u.Passwords, func(h string) bool { return h == tok[1:] })
			return nil
		case '>', '<':
			return fmt.Errorf("rule %c…: a password in clear; an ACL file written by redisctl or by ACL SAVE holds only #<sha256> hashes", tok[0])
		}
	} else {
		switch tok[0] {
		case '>', '<', '#', '!':
			// Never echo the token: it holds a password or its hash.
			return fmt.Errorf("rule %c…: passwords are set with the user's password, never in its rules", tok[0])
		}
	}
	if p == appPolicy {
		switch lower {
		case "on", "off":
			return fmt.Errorf("rule %q: redisctl switches its users on and off itself; leave it out of the rules", tok)
		case "nopass":
			return fmt.Errorf("rule %q would let any password in; passwords are set with the user's password, not in its rules", tok)
		case "resetpass", "reset":
			return fmt.Errorf("rule %q would remove the user's passwords, which redisctl manages; leave it out of the rules", tok)
		}
	}
	switch tok[0] {
	case '~', '%':
		k, err := keyRule(tok)
		if err != nil {
			return err
		}
		r.Keys = append(r.Keys, k)
		return nil
	case '&':
		if err := checkPattern(tok[1:]); err != nil {
			return fmt.Errorf("rule %q: channel pattern: %w", tok, err)
		}
		r.Channels = append(r.Channels, tok)
		return nil
	case '+', '-':
		c, err := commandRule(tok)
		if err != nil {
			return err
		}
		r.Commands = append(r.Commands, c)
		return nil
	case '(':
		if p == selectorPolicy {
			return fmt.Errorf("rule %q: a selector cannot hold another selector", tok)
		}
		s, err := selectorRule(tok)
		if err != nil {
			return err
		}
		r.Selectors = append(r.Selectors, s)
		return nil
	}
	if p == selectorPolicy {
		return fmt.Errorf("rule %q is not an ACL rule allowed in a selector (~pattern, %%R~pattern, %%W~pattern, &pattern, +command, -command, +@category, -@category, allkeys, resetkeys, allchannels, resetchannels, allcommands, nocommands)", tok)
	}
	return fmt.Errorf("rule %q is not an ACL rule (~pattern, %%R~pattern, %%W~pattern, &pattern, +command, -command, +@category, -@category, (selector), allkeys, resetkeys, allchannels, resetchannels, allcommands, nocommands, sanitize-payload, skip-sanitize-payload, clearselectors)", tok)
}

// keyRule normalises a key rule: "%RW~p" and "%WR~p" are "~p", and the
// permission letters are upper case.
func keyRule(tok string) (string, error) {
	perm, pattern, ok := "RW", tok[1:], true
	if tok[0] == '%' {
		perm, pattern, ok = strings.Cut(tok[1:], "~")
		if !ok || perm == "" {
			return "", fmt.Errorf("rule %q: a key permission is %%R~pattern, %%W~pattern or %%RW~pattern", tok)
		}
		perm = strings.ToUpper(perm)
		if strings.Trim(perm, "RW") != "" {
			return "", fmt.Errorf("rule %q: key permissions are R and W only", tok)
		}
	}
	if err := checkPattern(pattern); err != nil {
		return "", fmt.Errorf("rule %q: key pattern: %w", tok, err)
	}
	switch {
	case strings.Contains(perm, "R") && strings.Contains(perm, "W"):
		return "~" + pattern, nil
	case perm == strings.Repeat("R", len(perm)):
		return "%R~" + pattern, nil
	default:
		return "%W~" + pattern, nil
	}
}

// checkPattern refuses what would not survive a round trip through an ACL
// file: Redis splits its lines like a shell (quotes are special) and ACL
// SAVE writes patterns without quoting.
func checkPattern(p string) error {
	if p == "" {
		return fmt.Errorf("empty")
	}
	for _, c := range p {
		switch {
		case c == '"' || c == '\'':
			return fmt.Errorf("%q: quotes cannot be written in an ACL file", p)
		case unicode.IsSpace(c) || unicode.IsControl(c):
			return fmt.Errorf("%q: spaces and control characters cannot be written in an ACL file", p)
		}
	}
	return nil
}

// categories are Redis's command categories (ACL CAT): those of Redis 7.0,
// then those Redis 8 adds for its bundled modules. A server that lacks a
// category refuses the rule when it loads the file.
var categories = []string{
	"all", "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
	"bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow",
	"blocking", "dangerous", "connection", "transaction", "scripting",
	"search", "json", "timeseries", "bloom", "cuckoo", "cms", "topk", "tdigest",
}

// commandRule checks "+name", "-name", "+name|sub", "+@category" and
// returns it in lower case, as Redis matches commands. Whether a command
// exists is the server's to say (modules add commands); the syntax is
// checked here.
func commandRule(tok string) (string, error) {
	sign, body := tok[:1], strings.ToLower(tok[1:])
	if cat, ok := strings.CutPrefix(body, "@"); ok {
		if !slices.Contains(categories, cat) {
			return "", fmt.Errorf("rule %q: unknown command category %q (see ACL CAT)", tok, cat)
		}
		return sign + body, nil
	}
	name, sub, hasSub := strings.Cut(body, "|")
	if name == "" || strings.IndexFunc(name, func(c rune) bool { return !isCommandChar(c) }) >= 0 {
		return "", fmt.Errorf("rule %q: a command name is letters, digits, '-', '_' and '.'", tok)
	}
	if hasSub {
		if sub == "" || strings.Contains(sub, "|") {
			return "", fmt.Errorf("rule %q: one subcommand after '|', as in +config|get", tok)
		}
		if err := checkPattern(sub); err != nil {
			return "", fmt.Errorf("rule %q: subcommand: %w", tok, err)
		}
	}
	return sign + body, nil
}

func isCommandChar(c rune) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
}

// selectorRule checks the rules inside "(...)" and returns them normalised.
func selectorRule(tok string) (string, error) {
	inner, ok := strings.CutSuffix(strings.TrimPrefix(tok, "("), ")")
	if !ok {
		return "", fmt.Errorf("selector %q has no closing parenthesis", tok)
	}
	var s User
	words := strings.Fields(inner)
	if len(words) == 0 {
		return "", fmt.Errorf("selector %q is empty", tok)
	}
	// The selector is not quoted in the error: it may hold a password.
	if err := applyRules(&s, words, selectorPolicy); err != nil {
		return "", fmt.Errorf("in a selector: %w", err)
	}
	return "(" + strings.Join(s.Rules.words(), " ") + ")", nil
}

// words are the keys, channels and commands of r as written in a file.
// "No channels" is said with resetchannels, as ACL SAVE does: Redis 7
// gives a new user no channels (acl-pubsub-default resetchannels) but
// Redis 6.2, or a server configured so, gives it all of them. Commands
// start with -@all unless they start with +@all, for the same reason and
// because ACL SAVE writes it so.
func (r Rules) words() []string {
	w := slices.Clone(r.Keys)
	if !slices.Contains(r.Channels, "&*") {
		w = append(w, "resetchannels")
	}
	w = append(w, r.Channels...)
	cmds := r.Commands
	for len(cmds) > 0 && cmds[0] == "-@all" {
		cmds = cmds[1:]
	}
	if len(cmds) == 0 || cmds[0] != "+@all" {
		w = append(w, "-@all")
	}
	return append(w, cmds...)
}
