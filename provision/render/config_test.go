package render

import (
	"errors"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"testing/quick"

	"github.com/redisctl/redisctl/provision/inventory"
)

func TestQuote(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain", "plain"},
		{"10.0.0.1", "10.0.0.1"},
		{"p#$%`!", "p#$%`!"}, // '#' is literal inside a line; $, % and ` mean nothing to Redis
		{"#leading", "#leading"},
		{"héllo", "héllo"},
		{"", `""`},
		{"a b", `"a b"`},
		{`a"b`, `"a\"b"`},
		{"a'b", `"a'b"`},
		{`back\slash`, `"back\\slash"`},
		{"tab\there", `"tab\there"`},
		{"nl\ncr\r", `"nl\ncr\r"`},
		{"bell\a bs\b", `"bell\a bs\b"`},
		{"\x00\x01\x1f\x7f", `"\x00\x01\x1f\x7f"`},
		{"vt\vff\f", `"vt\x0bff\x0c"`},
		{"bad utf8 \xff\xfe", `"bad utf8 \xff\xfe"`},
		{"\xffalone", `"\xffalone"`},
		{"ünï cödé ok", `"ünï cödé ok"`},
		{`p@ss w"o'rd#$\x`, `"p@ss w\"o'rd#$\\x"`},
	} {
		if got := Quote(c.in); got != c.want {
			t.Errorf("Quote(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	conf := "# comment\n" +
		"\n" +
		"   # indented comment\n" +
		"port 7000\r\n" +
		"\tbind 10.0.0.1 127.0.0.1   \n" +
		"requirepass \"p@ss w\\\"o'rd#$\\\\x\"\n" +
		"sentinel monitor mymaster 10.0.0.1 7000 2\n" +
		"save \"\"\n" +
		"\v\n" +
		"dir /var/lib/redis/7000 # not a comment\n" +
		"last-line-without-newline yes"
	got, err := ParseConfig([]byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	want := []Line{
		{4, []string{"port", "7000"}},
		{5, []string{"bind", "10.0.0.1", "127.0.0.1"}},
		{6, []string{"requirepass", `p@ss w"o'rd#$\x`}},
		{7, []string{"sentinel", "monitor", "mymaster", "10.0.0.1", "7000", "2"}},
		{8, []string{"save", ""}},
		{10, []string{"dir", "/var/lib/redis/7000", "#", "not", "a", "comment"}},
		{11, []string{"last-line-without-newline", "yes"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseConfig:\n got %+v\nwant %+v", got, want)
	}

	if l := Find(got, "SENTINEL", "Monitor"); len(l) != 1 || l[0].Num != 7 {
		t.Errorf("Find(sentinel monitor) = %v", l)
	}
	if l := Find(got, "replicaof"); l != nil {
		t.Errorf("Find(replicaof) = %v, want none", l)
	}

	for _, c := range []struct {
		conf string
		line int
		msg  string
	}{
		{"port 1\nrequirepass \"a\"b\n", 2, "Unbalanced quotes in configuration line"},
		{"a\n\n\nsentinel auth-pass m p@ss w\"o'rd#$\\x\n", 4, "Unbalanced quotes in configuration line"},
		{"a 'b\n", 1, "Unbalanced quotes in configuration line"},
		{"a\nb \x00\n", 2, "NUL byte in configuration line"},
	} {
		_, err := ParseConfig([]byte(c.conf))
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Line != c.line || ce.Msg != c.msg {
			t.Errorf("ParseConfig(%q) error = %v, want line %d: %s", c.conf, err, c.line, c.msg)
		}
	}
}

// trickyStrings are seeds for the round-trip checks.
var trickyStrings = []string{
	`p@ss w"o'rd#$\x`, "", " ", "  lead and trail  ", `\`, `\\`, `\x41`, `"\x41"`,
	`"`, `'`, `''`, `""`, `\'`, `\"`, "#", "# comment?", "tab\tand\nnewline\r",
	"\x00nul", "\x01\x7f\xff\xfe", "üñíçødé", "日本語 パスワード", "emoji 🔑",
	"a\vb\fc", "trailing backslash \\", "%s %d $HOME `id` $(id)",
}

// roundTrips checks that a config line "requirepass <Quote(s)>" reads back
// as exactly s.
func roundTrips(s string) bool {
	lines, err := ParseConfig([]byte("requirepass " + Quote(s) + "\n"))
	return err == nil && len(lines) == 1 && len(lines[0].Args) == 2 && lines[0].Args[1] == s
}

func TestQuoteRoundTrip(t *testing.T) {
	for _, s := range trickyStrings {
		if !roundTrips(s) {
			t.Errorf("%q does not survive Quote then ParseConfig (quoted: %s)", s, Quote(s))
		}
	}
	// Random strings biased towards the characters that matter.
	alphabet := []rune(" \t\n\r\v\f\x00\x01\x7f\"'\\#$xX0aF9é日🔑")
	gen := func(r *rand.Rand) string {
		n := r.Intn(24)
		var b strings.Builder
		for range n {
			if r.Intn(8) == 0 {
				b.WriteByte(byte(r.Intn(256))) // any byte, valid UTF-8 or not
			} else {
				b.WriteRune(alphabet[r.Intn(len(alphabet))])
			}
		}
		return b.String()
	}
	cfg := &quick.Config{MaxCount: 20000, Values: func(v []reflect.Value, r *rand.Rand) {
		v[0] = reflect.ValueOf(gen(r))
	}}
	if err := quick.Check(roundTrips, cfg); err != nil {
		t.Error(err)
	}
	// And plain random strings.
	if err := quick.Check(roundTrips, &quick.Config{MaxCount: 20000}); err != nil {
		t.Error(err)
	}
}

func FuzzQuoteRoundTrip(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !roundTrips(s) {
			t.Errorf("%q does not survive Quote then ParseConfig (quoted: %s)", s, Quote(s))
		}
	})
}

// A quoted value is still one argument when more follow on the line, and
// quoting never produces something Redis would reject.
func TestQuoteInLine(t *testing.T) {
	for _, s := range trickyStrings {
		args, ok := inventory.SplitArgs("sentinel auth-pass " + Quote(s) + " " + Quote(s))
		if !ok || len(args) != 4 || args[2] != s || args[3] != s {
			t.Errorf("%q: got %q, %v", s, args, ok)
		}
	}
}

func TestSentinelRewriteSafe(t *testing.T) {
	for _, c := range []struct {
		pw   string
		safe bool
	}{
		{"s3cret", true},
		{`h#$h\x`, true}, // backslash is literal outside quotes
		{"héllo", true},
		{`p@ss w"o'rd#$\x`, false},
		{"a b", false},
		{`a"b`, false},
		{"a'b", false},
		{`"quoted"`, false}, // would read back without the quotes
		{"", false},
	} {
		if got := SentinelRewriteSafe(c.pw); got != c.safe {
			t.Errorf("SentinelRewriteSafe(%q) = %v, want %v", c.pw, got, c.safe)
		}
	}
}

func TestCheckSentinelConf(t *testing.T) {
	const pw = `p@ss w"o'rd#$\x`
	good := "port 8000\n" +
		"requirepass " + Quote(pw) + "\n" +
		"sentinel sentinel-pass " + Quote(pw) + "\n" +
		"sentinel monitor mymaster 10.0.0.1 7000 2\n" +
		"sentinel auth-pass mymaster " + Quote(pw) + "\n" +
		"sentinel myid 0123456789abcdef0123456789abcdef01234567\n"
	if err := CheckSentinelConf([]byte(good), "mymaster", pw); err != nil {
		t.Errorf("good file: %v", err)
	}
	for _, c := range []struct{ conf, want string }{
		{strings.Replace(good, "auth-pass mymaster "+Quote(pw), "auth-pass mymaster "+pw, 1),
			"line 5: Unbalanced quotes in configuration line"},
		{strings.Replace(good, "sentinel-pass "+Quote(pw), "sentinel-pass p w", 1),
			`line 3: sentinel sentinel-pass: does not hold the cluster password as one argument (written back unquoted by Sentinel?)`},
		{strings.Replace(good, "requirepass "+Quote(pw)+"\n", "", 1), `no "requirepass" line`},
		{strings.Replace(good, "monitor mymaster", "monitor MyMaster", 1), `no "sentinel monitor mymaster" line`},
	} {
		err := CheckSentinelConf([]byte(c.conf), "mymaster", pw)
		if err == nil || err.Error() != c.want {
			t.Errorf("got error %v, want %s", err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "p@ss") {
			t.Errorf("error reveals the password: %v", err)
		}
	}
}
