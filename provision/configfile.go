package provision

import (
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/redisctl/redisctl/provision/acl"
	"github.com/redisctl/redisctl/provision/render"
)

// configKey names what a config line sets: "port", "replicaof",
// "sentinel monitor", "sentinel auth-pass" ... ("slaveof" is "replicaof").
func configKey(l render.Line) string {
	name := strings.ToLower(l.Args[0])
	switch {
	case name == "sentinel" && len(l.Args) > 1:
		name = "sentinel " + strings.ToLower(l.Args[1])
	}
	if a, ok := configAliases[name]; ok {
		return a
	}
	return name
}

// configAliases are other spellings of a directive, by the name redisctl
// writes: Redis's old slave names, and Valkey's primary names, which
// Valkey writes when it rewrites a file (CONFIG REWRITE, Sentinel's
// rewrite) and reads in either spelling.
var configAliases = map[string]string{
	"slaveof":     "replicaof",
	"primaryauth": "masterauth",
	"primaryuser": "masteruser",
	"sentinel primary-reboot-down-after-period": "sentinel master-reboot-down-after-period",
}

// sameName compares directive (or sentinel sub-command) names without case
// and across aliases.
func sameName(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	na, nb := strings.ToLower(a), strings.ToLower(b)
	if x, ok := configAliases[na]; ok {
		na = x
	}
	if x, ok := configAliases[nb]; ok {
		nb = x
	}
	if na == nb {
		return true
	}
	// Sentinel sub-commands are aliased under their full key.
	x, okx := configAliases["sentinel "+strings.ToLower(a)]
	y, oky := configAliases["sentinel "+strings.ToLower(b)]
	return (okx && x == "sentinel "+strings.ToLower(b)) || (oky && y == "sentinel "+strings.ToLower(a)) || (okx && oky && x == y)
}

// configDefaults are values a server leaves out when it rewrites its config
// because they are the defaults: Sentinel drops these lines, so a missing
// line means this value.
var configDefaults = map[string][]string{
	"sentinel parallel-syncs":          {"1"},
	"sentinel failover-timeout":        {"180000"},
	"sentinel down-after-milliseconds": {"30000"},
}

// mergeConfig brings an existing config file (which Redis or Sentinel may
// have rewritten with state of its own: sentinel myid, epochs, known
// replicas and sentinels) in line with the desired rendering, touching only
// the directives redisctl manages: the keys the desired file sets, plus
// those in alsoManaged that must be absent when the desired file omits them
// (replicaof on a master). Everything else is kept as it is, in place.
// It returns the existing bytes unchanged when nothing managed differs.
func mergeConfig(existing, desired []byte, alsoManaged ...string) ([]byte, []string, error) {
	if existing == nil {
		return desired, []string{"new file"}, nil
	}
	old, err := render.ParseConfig(existing)
	if err != nil {
		return nil, nil, err
	}
	want, err := render.ParseConfig(desired)
	if err != nil {
		return nil, nil, err
	}
	managed := map[string]bool{}
	for _, k := range alsoManaged {
		managed[k] = true
	}
	wantBy := map[string][][]string{}
	for _, l := range want {
		k := configKey(l)
		managed[k] = true
		wantBy[k] = append(wantBy[k], l.Args)
	}
	oldBy := map[string][][]string{}
	for _, l := range old {
		if k := configKey(l); managed[k] {
			oldBy[k] = append(oldBy[k], l.Args)
		}
	}
	var differ []string
	for k := range managed {
		if !sameArgs(oldBy[k], wantBy[k]) && !(len(oldBy[k]) == 0 && isDefault(k, wantBy[k])) {
			differ = append(differ, k)
		}
	}
	if len(differ) == 0 {
		return existing, nil, nil
	}
	slices.Sort(differ)
	isDiffer := map[string]bool{}
	for _, k := range differ {
		isDiffer[k] = true
	}

	oldText := strings.Split(string(existing), "\n")
	wantText := strings.Split(string(desired), "\n")
	wantLines := func(k string) []string {
		var out []string
		for _, l := range want {
			if configKey(l) == k {
				out = append(out, wantText[l.Num-1])
			}
		}
		return out
	}
	keyAt := map[int]string{}
	for _, l := range old {
		keyAt[l.Num] = configKey(l)
	}
	var out []string
	placed := map[string]bool{}
	for i, text := range oldText {
		k, ok := keyAt[i+1]
		if !ok || !isDiffer[k] {
			out = append(out, text)
			continue
		}
		if !placed[k] {
			out = append(out, wantLines(k)...)
			placed[k] = true
		}
	}
	// Directives the old file lacks go at the end, in the desired order.
	var tail []string
	for _, l := range want {
		if k := configKey(l); isDiffer[k] && !placed[k] {
			tail = append(tail, wantText[l.Num-1])
		}
	}
	if len(tail) > 0 {
		for len(out) > 0 && out[len(out)-1] == "" {
			out = out[:len(out)-1]
		}
		out = append(out, tail...)
		out = append(out, "")
	}
	return []byte(strings.Join(out, "\n")), differ, nil
}

func isDefault(k string, args [][]string) bool {
	def, ok := configDefaults[k]
	if !ok || len(args) != 1 {
		return false
	}
	a := args[0]
	return len(a) >= len(def) && slices.Equal(a[len(a)-len(def):], def)
}

func sameArgs(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			// Directive and sub-command names compare without case,
			// and across aliases.
			if j < 2 && sameName(a[i][j], b[i][j]) {
				continue
			}
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

// ConfigValue returns the arguments of the first line with key k.
func ConfigValue(data []byte, k string) ([]string, bool) {
	lines, err := render.ParseConfig(data)
	if err != nil {
		return nil, false
	}
	for _, l := range lines {
		if configKey(l) == k {
			return l.Args, true
		}
	}
	return nil, false
}

// staleRequirepass tells whether a config file's requirepass line may stay
// as it is although it is not pw: a "user default" line after it makes pw
// the default user's only password, as a rotation leaves a sentinel's file
// (which the sentinel rewrites from memory with the requirepass it started
// with).
func staleRequirepass(conf []byte, pw string) bool {
	hs := SavedDefault(conf, nil)
	return len(hs) == 1 && hs[0] == acl.HashPassword(pw)
}

// withLineOf returns desired with its line setting key replaced by the
// line of old that sets it (both as written), so that a comparison takes
// old's value for it.
func withLineOf(desired, old []byte, key string) []byte {
	text := func(data []byte) (string, int) {
		lines, err := render.ParseConfig(data)
		if err != nil {
			return "", -1
		}
		for _, l := range lines {
			if configKey(l) == key {
				return strings.Split(string(data), "\n")[l.Num-1], l.Num - 1
			}
		}
		return "", -1
	}
	oldLine, _ := text(old)
	_, at := text(desired)
	if oldLine == "" || at < 0 {
		return desired
	}
	lines := strings.Split(string(desired), "\n")
	lines[at] = oldLine
	return []byte(strings.Join(lines, "\n"))
}

// SavedDefault is what a server's file says the default user accepts: its
// "user default" line (an ACL file, or a config file rewritten after a
// rotation began), else the requirepass of conf.
func SavedDefault(users, conf []byte) []string {
	for _, line := range strings.Split(string(users), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "user default ") {
			continue
		}
		if us, err := acl.Parse([]byte(line)); err == nil && len(us) == 1 {
			return us[0].Passwords
		}
	}
	if conf == nil {
		return nil
	}
	args, _ := ConfigValue(conf, "requirepass")
	if pw := LastArg(args); pw != "" {
		return []string{acl.HashPassword(pw)}
	}
	return nil
}

func LastArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[len(args)-1]
}

// FileDiff is a unified diff of a planned file change, the values of
// secret directives hidden (maskSecrets). A secret file that is not a
// config file has no diff at all: all of it may be secret.
func FileDiff(ch FileChange) string {
	if ch.Old == nil || ch.File.Secret && !ch.IsConfig {
		return ""
	}
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(maskSecrets(ch.Old)), B: difflib.SplitLines(maskSecrets(ch.New)),
		FromFile: ch.File.Path, ToFile: ch.File.Path + " (new)", Context: 1,
	})
	if err != nil {
		return ""
	}
	return d
}
