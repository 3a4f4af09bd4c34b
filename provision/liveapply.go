package provision

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
)

// LiveOp is one change applied to a running server: what it does, for the
// plan and the progress output, and how.
type LiveOp struct {
	Desc string
	Do   func(ctx context.Context, cl *redis.Client) error
}

func Command(args ...any) func(context.Context, *redis.Client) error {
	return func(ctx context.Context, cl *redis.Client) error {
		if err := cl.Do(ctx, args...).Err(); err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
		return nil
	}
}

// immutableRedis are redis.conf directives a running server cannot change.
var immutableRedis = map[string]bool{
	"daemonize": true, "supervised": true, "pidfile": true, "logfile": true,
	"databases": true, "io-threads": true, "unixsocket": true, "unixsocketperm": true,
	"always-show-logo": true, "syslog-enabled": true, "syslog-ident": true,
	"syslog-facility": true,
}

// RedisLiveOps turns changed redis.conf directives into commands for a
// running data node: CONFIG SET (REPLICAOF for replicaof), then CONFIG
// REWRITE, so the file and the process agree without a restart. Directives
// a running server cannot take are returned in restart.
func (c *Cluster) RedisLiveOps(ch FileChange) (ops []LiveOp, restart []string) {
	for _, k := range ch.Keys {
		args, present := ConfigValue(ch.New, k)
		switch {
		case k == "replicaof" && present && len(args) == 3:
			ops = append(ops, LiveOp{"REPLICAOF " + args[1] + " " + args[2], Command("REPLICAOF", args[1], args[2])})
		case k == "replicaof":
			// The node is the live master already (Sentinel promoted it and
			// rewrote its file); redisctl never promotes on its own.
		case k == "port" && present && len(args) == 2 && tlsPortKept(ch):
			// On a TLS data node, port is the plaintext port kept beside
			// the TLS one (tls.plaintext): opened, moved or closed live.
			ops = append(ops, LiveOp{"CONFIG SET port " + args[1], Command("CONFIG", "SET", "port", args[1])})
		case !present || immutableRedis[k] || k == "port":
			restart = append(restart, k)
		default:
			val := strings.Join(args[1:], " ")
			op := LiveOp{"CONFIG SET " + k + " " + val, Command("CONFIG", "SET", k, val)}
			if isSecretKey(k) {
				op = LiveOp{"CONFIG SET " + k + " (value hidden)", hideValue(val, op.Do)}
			}
			ops = append(ops, op)
		}
	}
	if len(ops) > 0 {
		ops = append(ops, LiveOp{"CONFIG REWRITE", Command("CONFIG", "REWRITE")})
	}
	return ops, restart
}

// tlsPortKept reports whether a changed config serves TLS on the same
// port before and after: then its port directive is a plaintext port
// beside the TLS one, and changing it leaves every TLS link alone.
func tlsPortKept(ch FileChange) bool {
	old, ok := ConfigValue(ch.Old, "tls-port")
	if !ok || len(old) != 2 || old[1] == "0" {
		return false
	}
	now, ok := ConfigValue(ch.New, "tls-port")
	return ok && len(now) == 2 && now[1] == old[1]
}

// SentinelLiveOps turns changed sentinel settings into SENTINEL SET
// commands, which Sentinel persists itself, keeping its id, epochs and
// known peers. Settings SENTINEL SET cannot change are returned in restart.
func (c *Cluster) SentinelLiveOps(ch FileChange) (ops []LiveOp, restart []string, err error) {
	name := c.Inv.Name
	for _, k := range ch.Keys {
		args, present := ConfigValue(ch.New, k)
		var opt, val string
		switch k {
		case "sentinel down-after-milliseconds", "sentinel parallel-syncs", "sentinel failover-timeout", "sentinel auth-pass":
			if !present || len(args) != 4 {
				restart = append(restart, k)
				continue
			}
			opt, val = strings.TrimPrefix(k, "sentinel "), args[3]
		case "sentinel monitor":
			old, _ := ConfigValue(ch.Old, k)
			if !present || len(args) != 6 || len(old) != 6 || old[3] != args[3] || old[4] != args[4] {
				return nil, nil, fmt.Errorf("the sentinel monitors %s but redisctl would monitor %s; refusing to re-point a live sentinel (check `redisctl status`)", strings.Join(old[min(3, len(old)):min(5, len(old))], ":"), strings.Join(args[min(3, len(args)):min(5, len(args))], ":"))
			}
			opt, val = "quorum", args[5]
		default:
			restart = append(restart, k)
			continue
		}
		op := LiveOp{fmt.Sprintf("SENTINEL SET %s %s %s", name, opt, val), Command("SENTINEL", "SET", name, opt, val)}
		if isSecretKey(k) {
			op = LiveOp{fmt.Sprintf("SENTINEL SET %s %s (value hidden)", name, opt), hideValue(val, op.Do)}
		}
		ops = append(ops, op)
	}
	return ops, restart, nil
}

// isSecretKey reports whether config key k (as configKey names it) carries
// a secret.
func isSecretKey(k string) bool {
	switch strings.ToLower(k) {
	case "requirepass", "masterauth", "tls-key-file-pass", "tls-client-key-file-pass", "user",
		"sentinel auth-pass", "sentinel sentinel-pass":
		return true
	}
	return false
}

// hideValue runs a command whose argument val is a secret: an error that
// quotes the value (Redis 6 says "Invalid argument '<value>' for CONFIG SET")
// has it replaced.
func hideValue(val string, do func(context.Context, *redis.Client) error) func(context.Context, *redis.Client) error {
	return func(ctx context.Context, cl *redis.Client) error {
		err := do(ctx, cl)
		if err == nil || val == "" || !strings.Contains(err.Error(), val) {
			return err
		}
		return errors.New(strings.ReplaceAll(err.Error(), val, hidden))
	}
}

// hidden replaces a secret in everything a person or a log sees.
const hidden = "<hidden>"

// maskSecrets hides the values of secret directives in a config file, for
// diffs that a person reads; see maskLine.
func maskSecrets(data []byte) string {
	return MaskText(string(data))
}

// MaskText hides the value of every secret directive in s (see maskLine):
// for anything a person or a log sees, error messages included.
func MaskText(s string) string {
	if !mayHoldSecret(s) {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = maskLine(l)
	}
	return strings.Join(lines, "\n")
}

// secretWords are the words after which a line carries a secret, in any
// case: redis.conf and sentinel.conf directives and the option names of
// CONFIG SET and SENTINEL SET. The value is everything after the word
// (after the master name, for "sentinel auth-pass <master>").
var secretWords = []string{"requirepass", "masterauth", "tls-key-file-pass", "tls-client-key-file-pass", "auth-pass", "sentinel-pass"}

// aclWords start ACL rules ("user alice on >password #sha256 ~* +@all",
// "ACL SETUSER alice >password"): their password rules are hidden, the
// others kept.
var aclWords = []string{"user", "setuser"}

// mayHoldSecret is a cheap test that s contains none of the words.
func mayHoldSecret(s string) bool {
	l := strings.ToLower(s)
	for _, w := range secretWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	for _, w := range aclWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// maskLine hides secrets in one line of text: a config line ("requirepass
// \"x y\"", "sentinel auth-pass mymaster x", "user u on >x"), or a line
// that carries one anywhere, such as a log line of a command's output or
// "CONFIG SET requirepass x". It errs on the side of hiding: everything
// after a secret word goes, quoted or not.
func maskLine(line string) string {
	if !mayHoldSecret(line) {
		return line
	}
	words := splitSpans(line)
	var b strings.Builder
	at := 0 // line[:at] is in b
	acl := false
	for i, word := range words {
		w := strings.ToLower(strings.TrimLeft(word.text, "\"'-"))
		switch {
		case slices.Contains(secretWords, w):
			from := i + 1
			if w == "auth-pass" && i > 0 && strings.EqualFold(words[i-1].text, "sentinel") &&
				(i < 2 || !strings.EqualFold(words[i-2].text, "set")) {
				from++ // sentinel auth-pass <master> <password>
			}
			if from < len(words) {
				b.WriteString(line[at:words[from].start])
				b.WriteString(hidden)
				return b.String()
			}
		case slices.Contains(aclWords, w):
			acl = true
		case acl && word.text != hidden && strings.ContainsAny(w[:min(1, len(w))], "><#!"):
			b.WriteString(line[at:word.start])
			b.WriteString(hidden)
			at = word.end
		case strings.ContainsAny(word.text[:1], `"'`) && strings.ContainsAny(word.text, " \t") && mayHoldSecret(word.text):
			// A quoted line inside a line ("%q" of a config line, say):
			// look inside the quotes.
			inner := line[word.start+1:]
			if m := maskLine(inner); m != inner {
				b.WriteString(line[at : word.start+1])
				b.WriteString(m)
				return b.String()
			}
		}
	}
	b.WriteString(line[at:])
	return b.String()
}

// span is one word of a line and where it is: line[start:end] == text.
type span struct {
	text       string
	start, end int
}

// splitSpans splits a line into words as Redis reads a config line: blanks
// separate words, and a word in double quotes (with backslash escapes) or
// single quotes may hold blanks. An unterminated quote runs to the end of
// the line. The text of a word is as written, quotes included.
func splitSpans(line string) []span {
	var out []span
	i := 0
	for i < len(line) {
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		start := i
		var quote byte
	word:
		for ; i < len(line); i++ {
			c := line[i]
			switch {
			case quote == 0 && isBlank(c):
				break word
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
			case c == '\\' && i+1 < len(line) && (quote == '"' || quote == '\'' && line[i+1] == '\''):
				i++ // an escaped character, a quote included
			case quote != 0 && c == quote:
				quote = 0
			}
		}
		out = append(out, span{text: line[start:i], start: start, end: i})
	}
	return out
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' }
