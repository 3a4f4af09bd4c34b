package provision

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redisctl/redisctl/provision/inventory"
)

func aclTestInventory(t *testing.T) *inventory.Inventory {
	inv := testInventory(t)
	inv.Redis.UsersSet = true
	inv.Redis.Users = []inventory.User{
		{Name: "app", Rules: "~app:* +@read", Line: 7},
		{Name: "given", Password: "from-env", PasswordSource: "environment variable X", Rules: "~g:* +get", Line: 9},
	}
	return inv
}

func TestLoadCredentials(t *testing.T) {
	inv := aclTestInventory(t)
	if _, _, _, err := loadCredentials(inv, false, false); err == nil || !strings.Contains(err.Error(), "run redisctl up first") {
		t.Fatalf("nothing stored, read-only: got %v", err)
	}
	cr, _, notes, err := loadCredentials(inv, false, true)
	if err != nil || len(notes) != 4 || cr.Admin == "" {
		t.Fatalf("plan stand-ins: %v, notes %q", err, notes)
	}
	if _, err := os.Stat(UserPasswordFile(inv, "admin")); err == nil {
		t.Fatal("a plan stored a password")
	}
	cr, st, notes, err := loadCredentials(inv, true, false)
	if err != nil || len(notes) != 4 {
		t.Fatalf("create: %v, notes %q", err, notes)
	}
	for _, u := range []string{"admin", "replication", "sentinel", "app"} {
		f := UserPasswordFile(inv, u)
		fi, err := os.Stat(f)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, fi, err)
		}
		if want := filepath.Join(filepath.Dir(PasswordFile(inv)), "redis."+u+".password"); f != want && !strings.HasSuffix(f, "."+u+".password") {
			t.Errorf("user file %s", f)
		}
		for _, n := range notes {
			if strings.Contains(n, cr.Password(u)) {
				t.Errorf("a note shows the password of %s", u)
			}
		}
	}
	if cr.Users["given"] != "from-env" || st.adminLogin != cr.Admin || len(st.Pending) != 0 {
		t.Errorf("creds %+v, stored %+v", cr.Users, st)
	}
	again, _, notes, err := loadCredentials(inv, true, false)
	if err != nil || len(notes) != 0 || again.Admin != cr.Admin || again.Users["app"] != cr.Users["app"] {
		t.Fatalf("second load: %v %q", err, notes)
	}

	// A rotation begun: the new password is wanted, the old one logs in.
	file, resumed, err := BeginRotation(inv, "admin")
	if err != nil || resumed || file != UserPasswordFile(inv, "admin")+".new" {
		t.Fatalf("BeginRotation: %s %v %v", file, resumed, err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v", file, err)
	}
	next, _, _, _ := loadCredentials(inv, false, false)
	_, st, _, _ = loadCredentials(inv, false, false)
	if next.Admin == cr.Admin || st.adminLogin != cr.Admin || st.Pending["admin"] != UserPasswordFile(inv, "admin") {
		t.Fatalf("during the rotation: wanted changed %v, login kept %v, pending %v", next.Admin != cr.Admin, st.adminLogin == cr.Admin, st.Pending)
	}
	if _, resumed, err := BeginRotation(inv, "admin"); err != nil || !resumed {
		t.Fatalf("a second BeginRotation resumes: %v %v", resumed, err)
	}
	c := &Cluster{Inv: inv, Creds: next, Stored: st}
	if err := c.SwitchStoredAdmin(); err != nil {
		t.Fatal(err)
	}
	if pw, _ := readPasswordFile(UserPasswordFile(inv, "admin")); pw != next.Admin || c.AdminLogin() != next.Admin {
		t.Fatal("the new admin password is not the stored one after the switch")
	}
	if _, err := os.Stat(file); err == nil {
		t.Fatal("the .new file is still there")
	}
}

func TestBeginRotationRefuses(t *testing.T) {
	inv := aclTestInventory(t)
	if _, _, err := BeginRotation(inv, "admin"); err == nil || !strings.Contains(err.Error(), "run redisctl up first") {
		t.Errorf("nothing stored: %v", err)
	}
	for user, want := range map[string]string{
		"default": "no password stored for user default",
		"given":   "environment variable X; change it there",
		"nobody":  "no user nobody",
	} {
		if _, _, err := BeginRotation(inv, user); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", user, err, want)
		}
	}
	inv.Redis.UsersSet = false
	if _, _, err := BeginRotation(inv, "admin"); err == nil || !strings.Contains(err.Error(), "no ACL users") {
		t.Errorf("no ACL: %v", err)
	}
}

func TestPendingClusterPassword(t *testing.T) {
	inv := testInventory(t)
	sp, err := LoadPassword(inv, true)
	if err != nil {
		t.Fatal(err)
	}
	file, _, err := BeginRotation(inv, "default")
	if err != nil {
		t.Fatal(err)
	}
	next, _ := readPasswordFile(file)
	for _, create := range []bool{false, true} {
		c := &Cluster{Inv: inv}
		if _, err := c.UseSecrets(sp.Password, create, false); err != nil {
			t.Fatal(err)
		}
		want := sp.Password // read-only commands log in with the stored one
		if create {
			want = next
		}
		if c.Password != want {
			t.Errorf("create %v: the cluster password is not the one wanted", create)
		}
	}
	inv.Redis.Password, inv.Redis.PasswordSource = "given", "inventory"
	if _, _, err := BeginRotation(inv, "default"); err == nil || !strings.Contains(err.Error(), "change it there") {
		t.Errorf("a password from the inventory: %v", err)
	}
}
