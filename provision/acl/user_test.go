package acl

import (
	"reflect"
	"strings"
	"testing"
)

func TestHashPassword(t *testing.T) {
	// printf foobared | sha256sum; server_test.go checks Redis agrees.
	if got, want := HashPassword("foobared"), "1b58ee375b42e41f0e48ef2ff27d10a5b1f6924a9acdcdba7cae868e7adce6bf"; got != want {
		t.Fatalf("HashPassword(foobared) = %s, want %s", got, want)
	}
}

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name    string
		app     bool   // CheckAppName rather than CheckName
		wantErr string // "" for accepted
	}{
		{name: "app", app: true},
		{name: "App_2.reports-v1", app: true},
		{name: "admin"},
		{name: "admin", app: true, wantErr: "redisctl's own"},
		{name: "Admin", app: true, wantErr: "redisctl's own"},
		{name: "DEFAULT", app: true, wantErr: "redisctl's own"},
		{name: "replication", app: true, wantErr: "redisctl's own"},
		{name: "sentinel", app: true, wantErr: "redisctl's own"},
		{name: "", wantErr: "empty"},
		{name: "..", wantErr: "must not start"},
		{name: ".hidden", wantErr: "must not start"},
		{name: "-rf", wantErr: "must not start"},
		{name: "a b", wantErr: "only letters"},
		{name: "a/b", wantErr: "only letters"},
		{name: "a:b", wantErr: "only letters"},
		{name: "é", wantErr: "only letters"},
		{name: strings.Repeat("a", 64)},
		{name: strings.Repeat("a", 65), wantErr: "at most 64"},
	} {
		check := CheckName
		if tc.app {
			check = CheckAppName
		}
		err := check(tc.name)
		if tc.wantErr == "" && err != nil {
			t.Errorf("%q (app %v): %v", tc.name, tc.app, err)
		}
		if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%q (app %v): got %v, want an error containing %q", tc.name, tc.app, err, tc.wantErr)
		}
	}
}

func TestParseRules(t *testing.T) {
	for _, tc := range []struct {
		rules string
		want  Rules
	}{
		{"", Rules{}},
		{"~app:* &app:* +@read +@write -@dangerous", Rules{
			Keys: []string{"~app:*"}, Channels: []string{"&app:*"},
			Commands: []string{"+@read", "+@write", "-@dangerous"}}},
		// Aliases and spellings Redis takes, written one way.
		{"allkeys allchannels allcommands", Rules{Keys: []string{"~*"}, Channels: []string{"&*"}, Commands: []string{"+@all"}}},
		{"nocommands +GET +Config|Get", Rules{Commands: []string{"-@all", "+get", "+config|get"}}},
		{"%RW~a %wr~b %R~c %W~d %r~e", Rules{Keys: []string{"~a", "~b", "%R~c", "%W~d", "%R~e"}}},
		{"~a resetkeys ~b &x resetchannels &y", Rules{Keys: []string{"~b"}, Channels: []string{"&y"}}},
		{"+@all -flushall -config|set +select|0", Rules{Commands: []string{"+@all", "-flushall", "-config|set", "+select|0"}}},
		{"+FT.SEARCH +json.get", Rules{Commands: []string{"+ft.search", "+json.get"}}},
		{"skip-sanitize-payload", Rules{SkipSanitizePayload: true}},
		{"skip-sanitize-payload sanitize-payload", Rules{}},
		// Selectors are one rule, however they are spaced.
		{"+get ~a (+set ~b) ( ~c  +get )", Rules{Keys: []string{"~a"}, Commands: []string{"+get"},
			Selectors: []string{"(~b resetchannels -@all +set)", "(~c resetchannels -@all +get)"}}},
		{"(~b +set) clearselectors (&c +publish)", Rules{Selectors: []string{"(resetchannels &c -@all +publish)"}}},
		{`~a\*b ~ü`, Rules{Keys: []string{`~a\*b`, "~ü"}}},
	} {
		got, err := ParseRules(tc.rules)
		if err != nil {
			t.Errorf("%q: %v", tc.rules, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q:\n got %#v\nwant %#v", tc.rules, got, tc.want)
		}
	}
}

func TestParseRulesRefuses(t *testing.T) {
	const secret = "hunter2"
	hash := HashPassword(secret)
	for _, tc := range []struct {
		rules, wantErr string
	}{
		{">" + secret, "passwords are set with the user's password"},
		{"<" + secret, "passwords are set with the user's password"},
		{"#" + hash, "passwords are set with the user's password"},
		{"!" + hash, "passwords are set with the user's password"},
		{"~a nopass", "would let any password in"},
		{"resetpass", "would remove the user's passwords"},
		{"reset", "would remove the user's passwords"},
		{"on", "switches its users on and off"},
		{"OFF", "switches its users on and off"},
		{"get", "is not an ACL rule"},
		{"app:*", "is not an ACL rule"},
		{"~", "key pattern: empty"},
		{"&", "channel pattern: empty"},
		{`~"a b"`, "quotes"},
		{"~it's", "quotes"},
		{"~a\x01", "control characters"},
		{"%X~a", "R and W only"},
		{"%~a", "%R~pattern"},
		{"%Ra", "%R~pattern"},
		{"+@nosuch", `unknown command category "nosuch"`},
		{"+", "a command name is"},
		{"-fl*sh", "a command name is"},
		{"+config|", "one subcommand"},
		{"+a|b|c", "one subcommand"},
		{"(+get ~a", "no closing parenthesis"},
		{"(+get (~a))", "cannot hold another selector"},
		{"(on +get)", "not an ACL rule allowed in a selector"},
		{"(clearselectors)", "not an ACL rule allowed in a selector"},
		{"(nopass)", "not an ACL rule allowed in a selector"},
		{"(>" + secret + ")", "passwords are set"},
		{"()", "is empty"},
	} {
		_, err := ParseRules(tc.rules)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%q: got %v, want an error containing %q", tc.rules, err, tc.wantErr)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), hash) {
			t.Errorf("%q: the error shows the password: %v", tc.rules, err)
		}
	}
}

func TestNewAppUser(t *testing.T) {
	h := HashPassword("app-secret")
	u, err := NewAppUser("app", "~app:* &app:* +@read +@write -@dangerous", h)
	if err != nil {
		t.Fatal(err)
	}
	want := User{Name: "app", Enabled: true, Passwords: []string{h}, Rules: Rules{
		Keys: []string{"~app:*"}, Channels: []string{"&app:*"}, Commands: []string{"+@read", "+@write", "-@dangerous"}}}
	if !reflect.DeepEqual(u, want) {
		t.Errorf("got %#v\nwant %#v", u, want)
	}
	for _, tc := range []struct {
		name, rules, hash, wantErr string
	}{
		{"sentinel", "+get", h, "redisctl's own"},
		{"app", "+get >pw", h, "passwords are set"},
		{"app", "+get", "app-secret", "64 hex digits"},
		{"app", "+get", strings.ToUpper(h), "lowercase hex"},
	} {
		if _, err := NewAppUser(tc.name, tc.rules, tc.hash); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("NewAppUser(%q, %q): got %v, want an error containing %q", tc.name, tc.rules, err, tc.wantErr)
		}
	}
}
