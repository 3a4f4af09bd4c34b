package provision

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/redisctl/redisctl/provision/remote/fakehost"
)

// TestEnsureDirsNeverFollowsLinks runs the directory step with the local
// shell as root: a link where a directory belongs is refused by name and
// its target keeps its owner and mode; in a directory another user can
// write, root does nothing and the owner creates its directory itself.
func TestEnsureDirsNeverFollowsLinks(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("!!! SKIPPED: this test runs chown and runuser and needs root; CI runs it as root")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	group := "nogroup"
	if _, err := user.LookupGroup(group); err != nil {
		group = "nobody"
	}
	owner := "nobody:" + group
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := func(script string) (string, error) {
		out, err := exec.Command("sh", "-c", script).CombinedOutput()
		return string(out), err
	}
	never := func(string) bool { return false }
	ownerOf := func(p string) (int, os.FileMode) {
		st, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		return int(st.Sys().(*syscall.Stat_t).Uid), st.Mode()
	}

	// A victim directory root owns, such as /etc/init.d.
	victim := filepath.Join(base, "initd")
	if err := os.Mkdir(victim, 0o755); err != nil {
		t.Fatal(err)
	}

	t.Run("a link in a root-owned parent is refused and its target untouched", func(t *testing.T) {
		parent := filepath.Join(base, "lib-redis")
		if err := os.Mkdir(parent, 0o755); err != nil {
			t.Fatal(err)
		}
		data := filepath.Join(parent, "7000")
		if err := os.Symlink(victim, data); err != nil {
			t.Fatal(err)
		}
		out, err := run(ensureDirsScript([]dirSpec{{Path: data, Owner: owner, Mode: 0o750}}, never))
		if err == nil || !strings.Contains(out, data+" is a symbolic link") {
			t.Fatalf("want a refusal naming %s, got %v: %s", data, err, out)
		}
		if u, m := ownerOf(victim); u != 0 || m.Perm() != 0o755 {
			t.Errorf("victim now uid %d mode %v", u, m)
		}
	})

	t.Run("in a parent the owner can write, the owner makes the directory", func(t *testing.T) {
		parent := filepath.Join(base, "shared")
		if err := os.Mkdir(parent, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(parent, uid, -1); err != nil {
			t.Fatal(err)
		}
		data := filepath.Join(parent, "7000")
		out, err := run(ensureDirsScript([]dirSpec{{Path: data, Owner: owner, Mode: 0o750}}, never))
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if strings.TrimSpace(out) != data {
			t.Errorf("printed %q, want the created directory", out)
		}
		if u, m := ownerOf(data); u != uid || m.Perm() != 0o750 || !m.IsDir() {
			t.Errorf("%s: uid %d mode %v, want nobody 0750", data, u, m)
		}
		// The same with a link planted there: refused, target untouched.
		link := filepath.Join(parent, "6000")
		if err := os.Symlink(victim, link); err != nil {
			t.Fatal(err)
		}
		out, err = run(ensureDirsScript([]dirSpec{{Path: link, Owner: owner, Mode: 0o750}}, never))
		if err == nil || !strings.Contains(out, link+" is a symbolic link") {
			t.Fatalf("want a refusal naming %s, got %v: %s", link, err, out)
		}
		if u, m := ownerOf(victim); u != 0 || m.Perm() != 0o755 {
			t.Errorf("victim now uid %d mode %v", u, m)
		}
		// A root-owned directory is never made in such a parent.
		out, err = run(ensureDirsScript([]dirSpec{{Path: filepath.Join(parent, "state"), Mode: 0o700}}, never))
		if err == nil || !strings.Contains(out, "another user can write") {
			t.Fatalf("want a refusal, got %v: %s", err, out)
		}
	})

	t.Run("a foreign directory is kept as it is; ours is owned again", func(t *testing.T) {
		foreign := filepath.Join(base, "foreign")
		if err := os.Mkdir(foreign, 0o700); err != nil || os.Chmod(foreign, 0o770) != nil {
			t.Fatal(err)
		}
		if err := os.Chown(foreign, uid, -1); err != nil {
			t.Fatal(err)
		}
		spec := []dirSpec{{Path: foreign, Mode: 0o755, KeepForeign: true}}
		if out, err := run(ensureDirsScript(spec, never)); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if u, m := ownerOf(foreign); u != uid || m.Perm() != 0o770 {
			t.Errorf("foreign directory changed: uid %d mode %v", u, m)
		}
		ours := func(p string) bool { return p == foreign }
		if out, err := run(ensureDirsScript(spec, ours)); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if u, m := ownerOf(foreign); u != 0 || m.Perm() != 0o755 {
			t.Errorf("our directory not owned again: uid %d mode %v", u, m)
		}
	})

	t.Run("new directories in root's: made with their owner and mode, and named", func(t *testing.T) {
		top := filepath.Join(base, "top")
		inner := filepath.Join(top, "inner")
		groupWritable := filepath.Join(base, "open")
		if err := os.Mkdir(groupWritable, 0o700); err != nil || os.Chmod(groupWritable, 0o775) != nil {
			t.Fatal(err)
		}
		spec := []dirSpec{{Path: top, Mode: 0o755}, {Path: inner, Owner: owner, Mode: 0o750}}
		out, err := run(ensureDirsScript(spec, never))
		if err != nil || out != top+"\n"+inner+"\n" {
			t.Fatalf("%v: %q, want both directories named", err, out)
		}
		if u, m := ownerOf(top); u != 0 || m.Perm() != 0o755 {
			t.Errorf("%s: uid %d mode %v, want root 0755", top, u, m)
		}
		if u, m := ownerOf(inner); u != uid || m.Perm() != 0o750 {
			t.Errorf("%s: uid %d mode %v, want nobody 0750", inner, u, m)
		}
		// Again: nothing to make, nothing named.
		if out, err := run(ensureDirsScript(spec, never)); err != nil || out != "" {
			t.Errorf("second run: %v: %q", err, out)
		}
		// A root directory in a directory others may write is refused.
		out, err = run(ensureDirsScript([]dirSpec{{Path: filepath.Join(groupWritable, "state"), Mode: 0o700}}, never))
		if err == nil || !strings.Contains(out, "another user can write") {
			t.Errorf("root directory in a group-writable one: %v: %s", err, out)
		}
	})

	t.Run("a log file link is refused; a new log file is 0640", func(t *testing.T) {
		logs := filepath.Join(base, "log")
		if err := os.Mkdir(logs, 0o755); err != nil {
			t.Fatal(err)
		}
		shadow := filepath.Join(base, "shadow")
		if err := os.WriteFile(shadow, []byte("secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(logs, "redis_7000.log")
		if err := os.Symlink(shadow, link); err != nil {
			t.Fatal(err)
		}
		out, err := run(safeDirFunc + logFileScript(link, owner))
		if err == nil || !strings.Contains(out, link+" is a symbolic link") {
			t.Fatalf("want a refusal naming %s, got %v: %s", link, err, out)
		}
		if u, m := ownerOf(shadow); u != 0 || m.Perm() != 0o600 {
			t.Errorf("link target now uid %d mode %v", u, m)
		}
		fresh := filepath.Join(logs, "sentinel_8000.log")
		if out, err := run(safeDirFunc + logFileScript(fresh, owner)); err != nil || strings.TrimSpace(out) != fresh {
			t.Fatalf("%v: %q", err, out)
		}
		if u, m := ownerOf(fresh); u != uid || m.Perm() != 0o640 {
			t.Errorf("%s: uid %d mode %v, want nobody 0640", fresh, u, m)
		}
	})
}

// prepareHost creates the user, the directories and the log files in one
// command and records in the manifest, saved once, what that command says
// it created: the user even when a later part failed, since uninstall
// removes the user only where redisctl made it.
func TestPrepareHostRecordsWhatItCreated(t *testing.T) {
	for _, fail := range []bool{false, true} {
		fc := newFakeCluster(t)
		n, h := fc.Nodes[1], fc.hosts[1]
		m, err := LoadManifest(context.Background(), h, fc.Layout, fc.Inv.Name, nil)
		if err != nil {
			t.Fatal(err)
		}
		n.SetFacts(&Facts{Init: "sysv"}, m, fc.Layout)
		reply := fakehost.Result{Stdout: userCreated + "\n/etc/redis\n/var/log/redis_7000.log\n"}
		if fail {
			reply = fakehost.Result{Stdout: userCreated + "\n", Stderr: "redisctl: cannot create /var/lib/redis", Status: 3}
		}
		h.Answer(`# redisctl: ensure directories\n`, reply)
		err = fc.PrepareHost(context.Background(), n)
		if fail != (err != nil) {
			t.Fatalf("fail=%v: %v", fail, err)
		}
		var prepares, puts int
		for _, c := range h.Calls() {
			switch {
			case strings.Contains(c, "# redisctl: ensure directories") && strings.Contains(c, "useradd"):
				prepares++
			case strings.HasPrefix(c, "put "+ManifestPath(fc.Layout.StateDir, fc.Inv.Name)):
				puts++
			case strings.Contains(c, "ensure directories") || strings.Contains(c, "useradd"):
				t.Errorf("another command: %q", c)
			}
		}
		if prepares != 1 || puts != 1 {
			t.Errorf("fail=%v: %d commands with the user and the directories, %d manifest saves; want 1 and 1", fail, prepares, puts)
		}
		if !m.CreatedUser || m.Has("/etc/redis") == fail || m.Has("/var/log/redis_7000.log") == fail {
			t.Errorf("fail=%v: manifest %+v", fail, m)
		}
		if n.Facts.RedisUser == fail {
			t.Errorf("fail=%v: redis user known as there: %v", fail, n.Facts.RedisUser)
		}
	}
}
