package render

import (
	"strings"
	"testing"

	"github.com/redisctl/redisctl/provision/acl"
	"github.com/redisctl/redisctl/provision/inventory"
)

func aclInventory() (*inventory.Inventory, *Credentials) {
	inv := testInventory("cluster-Pw1", "10.0.0.1", "10.0.0.2", "10.0.0.3")
	inv.Redis.UsersSet = true
	inv.Redis.Users = []inventory.User{{Name: "app", Rules: "~app:* &app:* +@read +@write -@dangerous", Line: 9}}
	return inv, &Credentials{Admin: "admin-Pw1", Replication: "repl-Pw1", Sentinel: "sent-Pw1",
		Users: map[string]string{"app": "app-Pw1"}}
}

func fileOf(t *testing.T, files []File, p string) string {
	t.Helper()
	for _, f := range files {
		if f.Path == p {
			return string(f.Data)
		}
	}
	t.Fatalf("no %s among the files", p)
	return ""
}

func TestACLClusterFiles(t *testing.T) {
	inv, cr := aclInventory()
	files, err := HostFilesWith(inv, &inv.Hosts[1], "10.0.0.1", InitSystemd, HostOptions{Credentials: cr})
	if err != nil {
		t.Fatal(err)
	}
	redisConf := fileOf(t, files, "/etc/redis/redis_7000.conf")
	for _, want := range []string{"\naclfile /etc/redis/users_7000.acl\n", "\nmasteruser replication\n", "\nmasterauth repl-Pw1\n"} {
		if !strings.Contains(redisConf, want) {
			t.Errorf("redis.conf lacks %q:\n%s", want, redisConf)
		}
	}
	if strings.Contains(redisConf, "requirepass") || strings.Contains(redisConf, "cluster-Pw1") {
		t.Errorf("redis.conf of an ACL cluster has requirepass or the cluster password:\n%s", redisConf)
	}
	sent := fileOf(t, files, "/etc/redis/sentinel_8000.conf")
	for _, want := range []string{"\nrequirepass cluster-Pw1\n", "\nsentinel sentinel-pass cluster-Pw1\n",
		"\nsentinel auth-user mymaster sentinel\n", "\nsentinel auth-pass mymaster sent-Pw1\n"} {
		if !strings.Contains(sent, want) {
			t.Errorf("sentinel.conf lacks %q:\n%s", want, sent)
		}
	}
	if i, j := strings.Index(sent, "sentinel monitor"), strings.Index(sent, "sentinel auth-user"); i < 0 || j < i {
		t.Errorf("auth-user must follow the monitor line:\n%s", sent)
	}
	aclFile := fileOf(t, files, "/etc/redis/users_7000.acl")
	users, err := acl.Parse([]byte(aclFile))
	if err != nil {
		t.Fatalf("ACL file does not parse: %v\n%s", err, aclFile)
	}
	want := map[string]string{
		"default":     "user default off resetchannels -@all",
		"admin":       "user admin on #" + acl.HashPassword("admin-Pw1") + " ~* &* +@all",
		"replication": "user replication on #" + acl.HashPassword("repl-Pw1") + " resetchannels -@all +psync +replconf +ping",
		"app":         "user app on #" + acl.HashPassword("app-Pw1") + " ~app:* resetchannels &app:* -@all +@read +@write -@dangerous",
	}
	if len(users) != 5 {
		t.Errorf("want 5 users, got %d:\n%s", len(users), aclFile)
	}
	for _, u := range users {
		if w, ok := want[u.Name]; ok && u.Line() != w {
			t.Errorf("user %s:\n got %s\nwant %s", u.Name, u.Line(), w)
		}
	}
	for _, pw := range []string{"admin-Pw1", "repl-Pw1", "sent-Pw1", "app-Pw1", "cluster-Pw1"} {
		if strings.Contains(aclFile, pw) {
			t.Errorf("the ACL file holds a password in clear")
		}
	}
	for _, f := range files {
		if f.Path == "/etc/redis/users_7000.acl" && !(f.Mode == 0o640 && f.Owner == "redis:redis" && f.Secret) {
			t.Errorf("ACL file: mode %v owner %q secret %v, want 0640 redis:redis secret", f.Mode, f.Owner, f.Secret)
		}
	}

	// Kept, the default user has the cluster password and every right.
	inv.Redis.DefaultUser, inv.Redis.DefaultUserSet = true, true
	files, err = HostFilesWith(inv, &inv.Hosts[0], "10.0.0.1", InitSysV, HostOptions{Credentials: cr})
	if err != nil {
		t.Fatal(err)
	}
	if got := fileOf(t, files, "/etc/redis/users_7000.acl"); !strings.Contains(got, "user default on #"+acl.HashPassword("cluster-Pw1")+" ~* &* +@all\n") {
		t.Errorf("default user kept: got\n%s", got)
	}
}

func TestACLClusterRefuses(t *testing.T) {
	inv, cr := aclInventory()
	for _, tc := range []struct {
		name string
		cr   *Credentials
		want string
	}{
		{"no credentials", nil, "node1: no passwords for the replication and sentinel users"},
		{"a blank in a password", &Credentials{Admin: "a", Replication: "r x", Sentinel: "s", Users: cr.Users},
			"node1: the password of user replication holds a blank"},
		{"no app password", &Credentials{Admin: "a", Replication: "r", Sentinel: "s"}, "node1: no password for user app"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := HostFilesWith(inv, &inv.Hosts[0], "10.0.0.1", InitSysV, HostOptions{Credentials: tc.cr})
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q...", err, tc.want)
			}
			if strings.Contains(err.Error(), "r x") {
				t.Fatal("the error shows the password")
			}
		})
	}
}
