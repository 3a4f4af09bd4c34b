package inventory

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// usersInventory is a valid inventory whose redis section ends with extra,
// which starts on line 5 ("  users:" and the like, indented by two).
func usersInventory(extra string) string {
	return "redis:\n" +
		"  version: \"7.0.15\"\n" +
		"  source: https://example.com/r.tar.gz\n" +
		"  sha256: \"" + strings.Repeat("a", 64) + "\"\n" +
		extra +
		"hosts:\n" +
		"  - {name: a, address: 10.0.0.1, role: master}\n" +
		"  - {name: b, address: 10.0.0.2, role: replica}\n" +
		"  - {name: c, address: 10.0.0.3, role: replica}\n"
}

// parseUsers parses usersInventory(extra) as inv.yaml with testEnv(env).
func parseUsers(extra string, env map[string]string) (*Inventory, error) {
	inv, _, err := Parse("inv.yaml", []byte(usersInventory(extra)), testEnv(env))
	return inv, err
}

func TestUsers(t *testing.T) {
	inv, err := parseUsers(""+
		"  users:\n"+ // line 5
		"    - name: app\n"+
		"      password: ${APP_PASSWORD}\n"+
		"      rules: \"~app:* &app:* +@read +@write -@dangerous\"\n"+
		"    - name: reports\n"+ // line 9
		"      rules: \"%R~report:* +@read\"\n"+
		"    - {name: Ops.1, password: \"plain text\", rules: +info}\n"+ // line 11
		"  default_user: false\n",
		map[string]string{"APP_PASSWORD": envPassword})
	if err != nil {
		t.Fatal(err)
	}
	want := []User{
		{Name: "app", Password: envPassword, PasswordSource: "environment variable APP_PASSWORD",
			Rules: "~app:* &app:* +@read +@write -@dangerous", Line: 6},
		{Name: "reports", Rules: "%R~report:* +@read", Line: 9},
		{Name: "Ops.1", Password: "plain text", PasswordSource: "inventory", Rules: "+info", Line: 11},
	}
	r := inv.Redis
	if !reflect.DeepEqual(r.Users, want) {
		t.Errorf("users:\n got %+v\nwant %+v", r.Users, want)
	}
	if !r.UsersSet || r.DefaultUser || !r.DefaultUserSet || !r.ACL() {
		t.Errorf("UsersSet %v, DefaultUser %v, DefaultUserSet %v, ACL %v; want true, false, true, true",
			r.UsersSet, r.DefaultUser, r.DefaultUserSet, r.ACL())
	}
	// The cluster password is its own.
	if r.Password != "" || r.PasswordSource != "" {
		t.Errorf("redis.password %q from %q, want none", r.Password, r.PasswordSource)
	}
}

func TestACLMode(t *testing.T) {
	for _, c := range []struct {
		name, yaml                     string
		acl, usersSet, defUser, defSet bool
	}{
		{"no users", "", false, false, false, false},
		{"users left empty", "  users:\n  default_user:\n", false, false, false, false},
		{"empty list", "  users: []\n", true, true, false, false},
		{"only default_user true", "  default_user: true\n", true, false, true, true},
		{"only default_user false", "  default_user: false\n", true, false, false, true},
		{"users and default_user", "  users: [{name: app, rules: +@read}]\n  default_user: true\n", true, true, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			inv, err := parseUsers(c.yaml, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := inv.Redis
			if r.ACL() != c.acl || r.UsersSet != c.usersSet || r.DefaultUser != c.defUser || r.DefaultUserSet != c.defSet {
				t.Errorf("ACL %v, UsersSet %v, DefaultUser %v, DefaultUserSet %v; want %v, %v, %v, %v",
					r.ACL(), r.UsersSet, r.DefaultUser, r.DefaultUserSet, c.acl, c.usersSet, c.defUser, c.defSet)
			}
			if !c.usersSet && r.Users != nil {
				t.Errorf("users %+v, want none", r.Users)
			}
		})
	}
}

// userCases are inventories with wrong users (the redis section from line
// 5 on) and their exact problems, without the file name. Passwords written
// here and in the environment are filePassword and envPassword.
var userCases = []struct {
	name string
	yaml string
	env  map[string]string // added to testEnv
	want []string
}{
	{
		name: "reserved name",
		yaml: "  users:\n    - name: Admin\n      rules: +@read\n",
		want: []string{`6:13: redis.users[0].name: user name "Admin" is redisctl's own "admin" user; choose another name`},
	},
	{
		name: "every reserved name",
		yaml: "  users:\n    - {name: default, rules: +@read}\n    - {name: REPLICATION, rules: +@read}\n    - {name: Sentinel, rules: +@read}\n",
		want: []string{
			`6:14: redis.users[0].name: user name "default" is redisctl's own "default" user; choose another name`,
			`7:14: redis.users[1].name: user name "REPLICATION" is redisctl's own "replication" user; choose another name`,
			`8:14: redis.users[2].name: user name "Sentinel" is redisctl's own "sentinel" user; choose another name`,
		},
	},
	{
		name: "bad name",
		yaml: "  users:\n    - name: app user\n      rules: +@read\n    - name: ../x\n      rules: +@read\n",
		want: []string{
			`6:13: redis.users[0].name: user name "app user": only letters, digits, '-', '_' and '.' are allowed, not ' '`,
			`8:13: redis.users[1].name: user name "../x": must not start with '.'`,
		},
	},
	{
		name: "empty name",
		yaml: "  users:\n    - name: \"\"\n      rules: +@read\n",
		want: []string{`6:13: redis.users[0].name: a user name cannot be empty`},
	},
	{
		name: "missing name",
		yaml: "  users:\n    - rules: +@read\n",
		want: []string{`6:7: redis.users[0].name: missing (want a user name such as app)`},
	},
	{
		name: "duplicate name",
		yaml: "  users:\n    - name: app\n      rules: +@read\n    - name: web\n      rules: +@read\n    - name: App\n      rules: +@write\n    - name: app\n      rules: +@write\n",
		want: []string{
			`10:13: redis.users[2].name: "App" is also the name of redis.users[0] on line 6, written "app" (want a name that differs by more than case)`,
			`12:13: redis.users[3].name: "app" is also the name of redis.users[0] on line 6 (want a different name)`,
		},
	},
	{
		name: "missing rules",
		yaml: "  users:\n    - name: app\n      password: " + filePassword + "\n",
		want: []string{`6:7: redis.users[0].rules: missing (want the user's ACL rules, e.g. rules: "~app:* &app:* +@read +@write -@dangerous")`},
	},
	{
		name: "empty rules",
		yaml: "  users:\n    - name: app\n      rules: \" \"\n",
		want: []string{`7:14: redis.users[0].rules: empty (want the user's ACL rules, e.g. rules: "~app:* &app:* +@read +@write -@dangerous")`},
	},
	{
		name: "rules not a string",
		yaml: "  users:\n    - name: app\n      rules: [+@read]\n",
		want: []string{`7:14: redis.users[0].rules: want a string, not a list`},
	},
	{
		name: "bad rules",
		yaml: "  users:\n    - {name: a, rules: \"+@read +@nosuch\"}\n    - {name: b, rules: \"~app:* get\"}\n",
		want: []string{
			`6:24: redis.users[0].rules: rule "+@nosuch": unknown command category "nosuch" (see ACL CAT)`,
			`7:24: redis.users[1].rules: rule "get" is not an ACL rule (~pattern, %R~pattern, %W~pattern, &pattern, +command, -command, +@category, -@category, (selector), allkeys, resetkeys, allchannels, resetchannels, allcommands, nocommands, sanitize-payload, skip-sanitize-payload, clearselectors)`,
		},
	},
	{
		name: "password rules",
		yaml: "  users:\n" +
			"    - {name: a, rules: \"+@read >" + filePassword + "\"}\n" +
			"    - {name: b, rules: \"+@read #" + strings.Repeat("0", 64) + "\"}\n" +
			"    - {name: c, rules: \"+@read nopass\"}\n" +
			"    - {name: d, rules: \"on +@read\"}\n" +
			"    - {name: e, rules: \"off +@read\"}\n" +
			"    - {name: f, rules: \"+@read resetpass\"}\n" +
			"    - {name: g, rules: \"+@read (~x >" + filePassword + ")\"}\n",
		want: []string{
			`6:24: redis.users[0].rules: rule >…: passwords are set with the user's password, never in its rules`,
			`7:24: redis.users[1].rules: rule #…: passwords are set with the user's password, never in its rules`,
			`8:24: redis.users[2].rules: rule "nopass" would let any password in; passwords are set with the user's password, not in its rules`,
			`9:24: redis.users[3].rules: rule "on": redisctl switches its users on and off itself; leave it out of the rules`,
			`10:24: redis.users[4].rules: rule "off": redisctl switches its users on and off itself; leave it out of the rules`,
			`11:24: redis.users[5].rules: rule "resetpass" would remove the user's passwords, which redisctl manages; leave it out of the rules`,
			`12:24: redis.users[6].rules: in a selector: rule >…: passwords are set with the user's password, never in its rules`,
		},
	},
	{
		name: "unset variable",
		yaml: "  users:\n    - name: app\n      password: ${NO_SUCH_VARIABLE}\n      rules: +@read\n",
		want: []string{`7:17: redis.users[0].password: environment variable NO_SUCH_VARIABLE is not set (export it, or leave password out to have up generate one)`},
	},
	{
		name: "empty variable",
		yaml: "  users:\n    - name: app\n      password: ${APP_PASSWORD}\n      rules: +@read\n",
		env:  map[string]string{"APP_PASSWORD": ""},
		want: []string{`7:17: redis.users[0].password: environment variable APP_PASSWORD is empty (set it, or leave password out to have up generate one)`},
	},
	{
		name: "partial variable",
		yaml: "  users:\n    - name: app\n      password: " + filePassword + "${APP_PASSWORD}\n      rules: +@read\n",
		want: []string{`7:17: redis.users[0].password: a ${NAME} reference must be the whole value, with NAME of letters, digits and _ (e.g. password: ${APP_PASSWORD})`},
	},
	{
		name: "password with a newline",
		yaml: "  users:\n    - name: app\n      password: \"" + filePassword + "\\n\"\n      rules: +@read\n",
		want: []string{`7:17: redis.users[0].password: the password (from the inventory) contains a newline; a password cannot hold control characters`},
	},
	{
		name: "password block",
		yaml: "  users:\n    - name: app\n      password: |\n        " + filePassword + "\n      rules: +@read\n",
		want: []string{`7:17: redis.users[0].password: the password (from the inventory) contains a newline; a password cannot hold control characters (a | or > block keeps its last newline: use |- or write it on one line)`},
	},
	{
		name: "variable with a newline",
		yaml: "  users:\n    - name: app\n      password: ${APP_PASSWORD}\n      rules: +@read\n",
		env:  map[string]string{"APP_PASSWORD": envPassword + "\n"},
		want: []string{`7:17: redis.users[0].password: the password (from the environment variable APP_PASSWORD) contains a newline; a password cannot hold control characters`},
	},
	{
		name: "users not a list",
		yaml: "  users:\n    name: app\n    rules: +@read\n",
		want: []string{`6:5: redis.users: want a list of users, each with name, rules and optionally password, not a mapping`},
	},
	{
		name: "users a string",
		yaml: "  users: app\n",
		want: []string{`5:10: redis.users: want a list of users, each with name, rules and optionally password, not a string`},
	},
	{
		name: "user not a mapping",
		yaml: "  users:\n    - app\n    -\n",
		want: []string{
			`6:7: redis.users[0]: want a mapping with name, password and rules, not a string`,
			`7:6: redis.users[1]: empty user entry (want name, rules and optionally password)`,
		},
	},
	{
		name: "unknown key in a user",
		yaml: "  users:\n    - name: app\n      rule: +@read\n      passwd: " + filePassword + "\n",
		want: []string{
			`6:7: redis.users[0].rules: missing (want the user's ACL rules, e.g. rules: "~app:* &app:* +@read +@write -@dangerous")`,
			`7:7: redis.users[0]: unknown key "rule" (did you mean "rules"?)`,
			`8:7: redis.users[0]: unknown key "passwd" (did you mean "password"?)`,
		},
	},
	{
		name: "default_user not a boolean",
		yaml: "  default_user: \"yes\"\n",
		want: []string{`5:17: redis.default_user: "yes" is not true or false`},
	},
	{
		name: "unknown key in redis",
		yaml: "  user: []\n",
		want: []string{`5:3: redis: unknown key "user" (did you mean "users"?)`},
	},
}

func TestUserProblems(t *testing.T) {
	for _, c := range userCases {
		t.Run(c.name, func(t *testing.T) {
			inv, err := parseUsers(c.yaml, c.env)
			if inv != nil {
				t.Errorf("got an inventory along with the error")
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a *ValidationError, got %T: %v", err, err)
			}
			var got []string
			for _, p := range ve.Problems {
				s := p.String()
				if !strings.HasPrefix(s, "inv.yaml:") {
					t.Errorf("problem does not name the file: %s", s)
				}
				got = append(got, strings.TrimPrefix(s, "inv.yaml:"))
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			for _, secret := range []string{filePassword, envPassword} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("a message shows the password:\n%s", err)
				}
			}
		})
	}
}
