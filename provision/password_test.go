package provision

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redisctl/redisctl/provision/inventory"
)

// A generated password lives in <config dir>/redisctl/<name>.password;
// redisctl before that named the file after a hash of the host addresses,
// and such files must still be found after the hosts change.

// configDirInventory is testInventory without password_file, with the
// user's config directory in a temporary directory. It returns the
// directory password files go to.
func configDirInventory(t *testing.T) (*inventory.Inventory, string) {
	t.Helper()
	inv := testInventory(t)
	inv.Redis.PasswordFile = ""
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	dir, err := os.UserConfigDir()
	if err != nil {
		t.Skip(err)
	}
	return inv, filepath.Join(dir, "redisctl")
}

// writeOldPassword stores pw where redisctl before the name-only scheme
// kept the password of inv's current hosts, and returns that path.
func writeOldPassword(t *testing.T, inv *inventory.Inventory, pw string) string {
	t.Helper()
	file := legacyPasswordFile(inv)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(pw+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestPasswordFileIsNamedByClusterOnly(t *testing.T) {
	inv, dir := configDirInventory(t)
	want := filepath.Join(dir, "mymaster.password")
	if got := PasswordFile(inv); got != want {
		t.Errorf("PasswordFile = %s, want %s", got, want)
	}
	inv.Hosts[0].Address = "10.9.9.9"
	inv.Hosts = append(inv.Hosts, inventory.Host{Name: "node4", Address: "10.0.0.4"})
	if got := PasswordFile(inv); got != want {
		t.Errorf("after readdressing and adding a host: PasswordFile = %s, want %s", got, want)
	}
	inv.Redis.PasswordFile = "/somewhere/else"
	if got := PasswordFile(inv); got != "/somewhere/else" {
		t.Errorf("the inventory's password_file must win, got %s", got)
	}
}

func TestGeneratedPasswordFileIsPrivate(t *testing.T) {
	inv, dir := configDirInventory(t)
	sp, err := LoadPassword(inv, true)
	if err != nil || !sp.Created || sp.File != filepath.Join(dir, "mymaster.password") {
		t.Fatalf("LoadPassword: %+v, %v", sp.File, err)
	}
	st, err := os.Stat(sp.File)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, %v; want mode 0600", sp.File, st.Mode(), err)
	}
	if strings.Contains(sp.Note, sp.Password) {
		t.Errorf("the note holds the password")
	}
}

// An old-scheme file is found after the hosts changed, moved to the new
// name with mode 0600, and said once.
func TestOldPasswordFileFoundAfterHostsChange(t *testing.T) {
	for name, change := range map[string]func(*inventory.Inventory){
		"host added": func(inv *inventory.Inventory) {
			inv.Hosts = append(inv.Hosts, inventory.Host{Name: "node4", Address: "10.0.0.4", Role: inventory.RoleReplica})
		},
		"host readdressed": func(inv *inventory.Inventory) { inv.Hosts[1].Address = "10.0.1.2" },
	} {
		t.Run(name, func(t *testing.T) {
			inv, dir := configDirInventory(t)
			const pw = "StoredByAnOlderRedisctl0123456789abcdef"
			old := writeOldPassword(t, inv, pw)
			change(inv)
			if legacyPasswordFile(inv) == old {
				t.Fatal("the change did not change the old-scheme name; the test proves nothing")
			}

			// A read-only caller reads it where it is and moves nothing.
			got, file, created, err := ResolvePassword(inv, false)
			if err != nil || got != pw || file != old || created {
				t.Fatalf("create=false: same password %v, file %s, created %v, err %v; want the old file", got == pw, file, created, err)
			}

			sp, err := LoadPassword(inv, true)
			newFile := filepath.Join(dir, "mymaster.password")
			if err != nil || sp.Password != pw || sp.File != newFile || sp.Created {
				t.Fatalf("create=true: same password %v, file %s, created %v, err %v", sp.Password == pw, sp.File, sp.Created, err)
			}
			if !strings.Contains(sp.Note, old) || !strings.Contains(sp.Note, newFile) || strings.Contains(sp.Note, pw) {
				t.Errorf("note %q: want both file names and never the password", sp.Note)
			}
			st, err := os.Stat(newFile)
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("%s: %v, %v; want mode 0600", newFile, st, err)
			}
			if _, err := os.Stat(old); !os.IsNotExist(err) {
				t.Errorf("the old file %s is still there (%v); want it moved", old, err)
			}

			again, err := LoadPassword(inv, true)
			if err != nil || again.Password != pw || again.Note != "" || again.Created {
				t.Errorf("second call: same password %v, note %q, created %v, err %v; want the new file, said nothing", again.Password == pw, again.Note, again.Created, err)
			}
		})
	}
}

// The old-scheme file for the current addresses wins over other old files.
func TestOldPasswordFileForCurrentHostsPreferred(t *testing.T) {
	inv, dir := configDirInventory(t)
	writeOldPassword(t, inv, "TheCurrentHostsPassword")
	if err := os.WriteFile(filepath.Join(dir, "mymaster-0badc0de.password"), []byte("AnotherOne\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := LoadPassword(inv, true)
	if err != nil || sp.Password != "TheCurrentHostsPassword" {
		t.Errorf("got the current hosts' password %v, err %v", sp.Password == "TheCurrentHostsPassword", err)
	}
}

func TestSeveralOldPasswordFilesRefused(t *testing.T) {
	inv, dir := configDirInventory(t)
	var files []string
	for _, name := range []string{"mymaster-0badc0de.password", "mymaster-12345678.password"} {
		f := filepath.Join(dir, name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("SecretNumber"+name[9:17]+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	// Not the cluster's: another cluster's file and a name that only looks alike.
	for _, name := range []string{"other-0badc0de.password", "mymaster-0badc0de.password.bak", "mymaster-xyz.password"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, create := range []bool{false, true} {
		sp, err := LoadPassword(inv, create)
		if err == nil {
			t.Fatalf("create=%v: no error, want a refusal naming both files", create)
		}
		for _, f := range files {
			if !strings.Contains(err.Error(), f) {
				t.Errorf("create=%v: error does not name %s: %v", create, f, err)
			}
		}
		if strings.Contains(err.Error(), "SecretNumber") || sp.Password != "" {
			t.Errorf("create=%v: the error or result carries a password: %v", create, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "mymaster.password")); !os.IsNotExist(err) {
			t.Errorf("create=%v: a new password file was written: %v", create, err)
		}
	}
}

func TestPasswordFileNameCannotEscape(t *testing.T) {
	for _, name := range []string{"../evil", "a/b", "..", "x..y", ""} {
		inv, _ := configDirInventory(t)
		inv.Name = name
		if f := PasswordFile(inv); f != "" {
			t.Errorf("PasswordFile with name %q = %s, want none", name, f)
		}
		if _, err := LoadPassword(inv, true); err == nil || !strings.Contains(err.Error(), "cannot name a file") {
			t.Errorf("name %q: err %v, want a refusal", name, err)
		}
	}
}
