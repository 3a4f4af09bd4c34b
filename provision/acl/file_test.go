package acl

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// Hashes of made-up test passwords: HashPassword("<name>-secret").
var (
	hAdmin = HashPassword("admin-secret")
	hRepl  = HashPassword("replication-secret")
	hSent  = HashPassword("sentinel-secret")
	hApp   = HashPassword("app-secret")
	hApp2  = HashPassword("app-secret-2")
)

// testUsers is what issue 14's example inventory asks for, default off.
func testUsers(t *testing.T) []User {
	t.Helper()
	app, err := NewAppUser("app", "~app:* &app:* +@read +@write -@dangerous", hApp)
	if err != nil {
		t.Fatal(err)
	}
	reports, err := NewAppUser("reports", "%R~app:* +@read -@dangerous (~tmp:* +set +expire)", hApp2)
	if err != nil {
		t.Fatal(err)
	}
	return []User{
		SentinelUser(hSent), ReplicationUser(hRepl), AdminUser(hAdmin),
		DefaultUser(false), reports, app,
	}
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range []struct {
		file  string
		users func(t *testing.T) []User
	}{
		{"users.acl", testUsers},
		{"users-default-kept.acl", func(t *testing.T) []User {
			return []User{DefaultUser(true, hAdmin), AdminUser(hAdmin), ReplicationUser(hRepl), SentinelUser(hSent)}
		}},
		{"users-rotating.acl", func(t *testing.T) []User {
			return []User{DefaultUser(false), AdminUser(hAdmin), ReplicationUser(hRepl, HashPassword("replication-secret-2"))}
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := Render(tc.users(t))
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Render differs from %s (go test -update rewrites it):\n got:\n%s\nwant:\n%s", golden, got, want)
			}
			// What is rendered reads back as the same users.
			back, err := Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			if d := Compare(back, tc.users(t)); len(d) > 0 {
				t.Errorf("rendered users read back differently: %v", d)
			}
		})
	}
}

func TestRenderNeverHoldsClearPasswords(t *testing.T) {
	out, err := Render(testUsers(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"admin-secret", "replication-secret", "sentinel-secret", "app-secret"} {
		if bytes.Contains(out, []byte(secret)) {
			t.Errorf("the ACL file holds %q in clear", secret)
		}
	}
}

func TestRenderRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		users   []User
		wantErr string
	}{
		{"no default user", []User{AdminUser(hAdmin)}, "no default user"},
		{"twice", []User{DefaultUser(false), AdminUser(hAdmin), AdminUser(hRepl)}, "given twice"},
		{"bad name", []User{DefaultUser(false), {Name: "a b", Enabled: true}}, "only letters"},
		{"clear password", []User{DefaultUser(false), {Name: "x", Enabled: true, Passwords: []string{"secret"}}}, "64 hex digits"},
		{"rule without its sigil", []User{DefaultUser(false), {Name: "x", Rules: Rules{Keys: []string{"app:*"}}}}, "not an ACL rule"},
		{"rule in a spelling Parse changes", []User{DefaultUser(false), {Name: "x", Rules: Rules{Keys: []string{"allkeys"}}}}, "do not read back"},
		{"password smuggled in as a rule", []User{DefaultUser(false), {Name: "x", Rules: Rules{Commands: []string{">pw"}}}}, "a password in clear"},
	} {
		out, err := Render(tc.users)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: got %v (%q), want an error containing %q", tc.name, err, out, tc.wantErr)
		}
	}
}

// saved70 is what Redis 7.0.15 wrote with ACL SAVE after loading a file
// with these users (the app user's rules were "~app:* &app:* +@read
// +@write -@dangerous"; all passwords "replpw").
const saved70 = `user admin on #dafb4eba4b27ced508e0556c50ccd669e5d0cdfa64f01da524484881ec3819e8 ~* &* +@all
user app on #dafb4eba4b27ced508e0556c50ccd669e5d0cdfa64f01da524484881ec3819e8 ~app:* resetchannels &app:* -@all +@string +@hash +@geo +@blocking +@bitmap +@set +@hyperloglog +@stream +@sortedset +@list +@keyspace -sort_ro -xinfo|help -flushall -keys -object|help -sort -restore-asking -restore -pfdebug +lolwut -flushdb -swapdb -migrate -xgroup|help +function|delete +function|restore +function|flush +function|load -pfselftest +memory|usage
user default off resetchannels -@all
user replication on #dafb4eba4b27ced508e0556c50ccd669e5d0cdfa64f01da524484881ec3819e8 resetchannels -@all +replconf +ping +psync
user sentinel on #dafb4eba4b27ced508e0556c50ccd669e5d0cdfa64f01da524484881ec3819e8 &* -@all +subscribe +script|kill +client|setname +client|kill +config|rewrite +publish +slaveof +exec +role +info +multi +ping
user x on ~a %R~b resetchannels -@all (~c resetchannels -@all +get)
`

func TestParseWhatRedisSaves(t *testing.T) {
	users, err := Parse([]byte(saved70))
	if err != nil {
		t.Fatal(err)
	}
	h := HashPassword("replpw")
	app, err := NewAppUser("app", "~app:* &app:* +@read +@write -@dangerous", h)
	if err != nil {
		t.Fatal(err)
	}
	x := User{Name: "x", Enabled: true, Rules: Rules{Keys: []string{"~a", "%R~b"}, Selectors: []string{"(~c resetchannels -@all +get)"}}}
	want := []User{AdminUser(h), app, DefaultUser(false), ReplicationUser(h), SentinelUser(h), x}
	got := Compare(users, want)
	// Redis rewords the app user's category rules; everything else means
	// the same as what was loaded, in Redis's own order.
	wantDiff := []Difference{{User: "app", Fields: []string{"commands"}, MaybeReworded: true}}
	if !reflect.DeepEqual(got, wantDiff) {
		t.Errorf("Compare(saved by Redis 7.0.15, loaded) = %v, want %v", got, wantDiff)
	}
	// Another Redis 7.0.15 process saved the same users with its rules in
	// another order.
	other, err := Parse([]byte(`user app on #` + h + ` ~app:* resetchannels &app:* -@all +@string +@hash +@geo +@blocking +@bitmap +@set +@hyperloglog +@stream +@sortedset +@list +@keyspace -pfdebug -restore-asking -sort_ro +memory|usage -keys -pfselftest -object|help -flushall -flushdb -migrate -xgroup|help -restore +lolwut -sort +function|delete +function|load +function|restore +function|flush -swapdb -xinfo|help
user sentinel on #` + h + ` &* -@all +subscribe +multi +script|kill +client|kill +client|setname +slaveof +role +ping +info +config|rewrite +exec +publish
`))
	if err != nil {
		t.Fatal(err)
	}
	if d := Compare(other, []User{users[1], users[4]}); len(d) > 0 {
		t.Errorf("two saves of the same users by Redis differ: %v", d)
	}
	// Redis 7.2 and later write sanitize-payload on every user; it changes
	// nothing.
	u72, err := Parse([]byte("user default on sanitize-payload #" + h + " ~* &* +@all\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := Compare(u72, []User{DefaultUser(true, h)}); len(d) > 0 {
		t.Errorf("sanitize-payload made a difference: %v", d)
	}
}

func TestParse(t *testing.T) {
	h, h2 := hApp, hApp2
	for _, tc := range []struct {
		name, file string
		want       []User
	}{
		{"fresh Redis", "user default on nopass ~* &* +@all\n",
			[]User{{Name: "default", Enabled: true, NoPass: true, Rules: Rules{Keys: []string{"~*"}, Channels: []string{"&*"}, Commands: []string{"+@all"}}}}},
		{"blank lines and CRLF", "\r\n  \nuser a on #" + h + " +get\r\n\n",
			[]User{{Name: "a", Enabled: true, Passwords: []string{h}, Rules: Rules{Commands: []string{"+get"}}}}},
		{"rules applied in order", "user a #" + h + " on #" + h2 + " !" + h + " off ~x resetkeys allkeys skip-sanitize-payload",
			[]User{{Name: "a", Passwords: []string{h2}, Rules: Rules{Keys: []string{"~*"}, SkipSanitizePayload: true}}}},
		{"nopass then a hash", "user a on nopass #" + h,
			[]User{{Name: "a", Enabled: true, Passwords: []string{h}}}},
		{"reset", "user a on #" + h + " ~x +get reset",
			[]User{{Name: "a"}}},
		{"names Redis allows and redisctl would not choose", "user my:user on",
			[]User{{Name: "my:user", Enabled: true}}},
	} {
		got, err := Parse([]byte(tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %#v\nwant %#v", tc.name, got, tc.want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, file, wantErr string
	}{
		{"comment", "# users\nuser default off\n", "line 1: a line is"},
		{"no user keyword", "default off\n", "line 1: a line is"},
		{"no name", "user\n", "line 1: a line is"},
		{"twice", "user a on\n\nuser a off\n", "line 3: user a is given twice"},
		{"clear password", "user default on >hunter2 ~* +@all\n", "a password in clear"},
		{"bad hash", "user default on #abc\n", "64 hex digits"},
		{"unknown rule", "user a on +get frobnicate\n", `rule "frobnicate" is not an ACL rule`},
		{"quoted name", "user \"a b\" on\n", "quotes"},
		{"open selector", "user a on (+get ~x\n", "no closing parenthesis"},
	} {
		_, err := Parse([]byte(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the password: %v", tc.name, err)
		}
	}
}

func TestCompare(t *testing.T) {
	user := func(rules string, passwords ...string) User {
		t.Helper()
		u, err := Parse([]byte("user u on " + strings.Join(passwords, " ") + " " + rules))
		if err != nil {
			t.Fatal(err)
		}
		return u[0]
	}
	h1, h2 := "#"+hApp, "#"+hApp2
	for _, tc := range []struct {
		name          string
		found, wanted User
		fields        []string
		maybeReworded bool
	}{
		{"same", user("~a +get", h1), user("~a +get", h1), nil, false},
		{"password order", user("", h1, h2), user("", h2, h1), nil, false},
		{"a password more", user("", h1, h2), user("", h1), []string{"passwords"}, false},
		{"key and channel order", user("~a ~b &c &d"), user("~b ~a &d &c"), nil, false},
		{"aliases", user("allkeys allchannels allcommands"), user("~* &* +@all"), nil, false},
		{"leading -@all", user("-@all +get"), user("+get"), nil, false},
		{"commands reordered by Redis", user("+replconf +ping +psync"), user("+psync +replconf +ping"), nil, false},
		{"subcommands reordered", user("+client|kill +config|rewrite +client|setname"), user("+client|setname +client|kill +config|rewrite"), nil, false},
		{"a command more", user("+get +set"), user("+get"), []string{"commands"}, false},
		{"a removal that removes nothing", user("+get -set"), user("+get"), nil, false},
		{"whole command after a subcommand", user("+client|kill -client"), user("-client +client|kill"), []string{"commands"}, false},
		{"subcommand after the whole command", user("-client +client|kill"), user("+client|kill"), nil, false},
		{"exceptions to +@all reordered", user("+@all -flushall -config|set"), user("+@all -config|set -flushall"), nil, false},
		{"+@all against none", user("+@all"), user("+get"), []string{"commands"}, false},
		{"order of categories matters", user("+@all -@dangerous"), user("-@dangerous +@all"), []string{"commands"}, true},
		{"categories compared word for word", user("+@read +get"), user("+get +@read"), []string{"commands"}, true},
		{"same categories", user("+@read -@dangerous"), user("+@read -@dangerous"), nil, false},
		{"additions of categories reordered", user("+@write +@read -@dangerous"), user("+@read +@write -@dangerous"), nil, false},
		{"a command moved across a category", user("+@read -get +@write"), user("+@read +@write -get"), []string{"commands"}, true},
		{"commands after categories reordered", user("+@read -keys -sort +lolwut"), user("+@read +lolwut -sort -keys"), nil, false},
		{"a removal after categories is not dropped", user("+@read -set"), user("+@read"), []string{"commands"}, true},
		{"off", user("off"), user(""), []string{"enabled"}, false},
		{"nopass", user("nopass"), user(""), []string{"nopass"}, false},
		{"read-only key", user("%R~a"), user("~a"), []string{"keys"}, false},
		{"selectors", user("(+get ~a)"), user("(+get ~b)"), []string{"selectors"}, false},
		{"skip-sanitize-payload", user("skip-sanitize-payload"), user("sanitize-payload"), []string{"skip-sanitize-payload"}, false},
	} {
		d := Compare([]User{tc.found}, []User{tc.wanted})
		var want []Difference
		if tc.fields != nil {
			want = []Difference{{User: "u", Fields: tc.fields, MaybeReworded: tc.maybeReworded}}
		}
		if !reflect.DeepEqual(d, want) {
			t.Errorf("%s: got %v, want %v", tc.name, d, want)
		}
	}
}

func TestCompareUsers(t *testing.T) {
	found := []User{DefaultUser(false), AdminUser(hAdmin), ReplicationUser(hRepl)}
	wanted := []User{SentinelUser(hSent), ReplicationUser(hRepl), DefaultUser(false)}
	got := Compare(found, wanted)
	want := []Difference{{User: "admin", Unwanted: true}, {User: "sentinel", Missing: true}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, d := range append(got, Difference{User: "u", Fields: []string{"passwords"}}) {
		s := d.String()
		if strings.Contains(s, hAdmin) || strings.Contains(s, hSent) {
			t.Errorf("%q shows a password hash", s)
		}
	}
}
