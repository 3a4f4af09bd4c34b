package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestACLUsers sets a cluster up with ACL users (issue 14) and checks
// from outside what each user may do, that the default user is off, that
// every failover-test mode passes without it, and that a change of an
// application user's rights is applied live.
func TestACLUsers(t *testing.T) {
	base := labInventory()
	_ = run(t, base, "uninstall", "--yes")
	labUp(t, 3)
	dir := t.TempDir()
	const appPW = "app-Secret-1"
	t.Setenv("E2E_APP_PASSWORD", appPW)
	inv := usersInventory(t, base, dir, "~app:* &app:* +@read +@write -@dangerous")
	t.Cleanup(func() { run(t, inv, "uninstall", "--yes") })

	sampler := sampleCmdlines()
	r := mustRun(t, inv, "up")
	t.Logf("MEASURE fresh up with ACL users: %s", r.took.Round(100*time.Millisecond))
	readPW := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("stored password: %v", err)
		}
		fi, _ := os.Stat(filepath.Join(dir, name))
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, fi.Mode().Perm())
		}
		return strings.TrimSpace(string(b))
	}
	clusterPW := readPW("redis.password")
	adminPW := readPW("redis.admin.password")
	replPW := readPW("redis.replication.password")
	sentPW := readPW("redis.sentinel.password")
	_, _, leaks := sampler.finish(adminPW)
	if len(leaks) > 0 {
		t.Fatalf("the admin password appeared in a process command line: %q", leaks[0])
	}
	for _, pw := range []string{clusterPW, adminPW, replPW, sentPW, appPW} {
		if strings.Contains(r.stdout+r.stderr, pw) {
			t.Fatal("a password appeared in redisctl's output")
		}
	}
	// The lab's helpers: the sentinels with the cluster password, the
	// data nodes as redisctl's admin user.
	t.Setenv("E2E_PASSWORD", clusterPW)
	t.Setenv("E2E_USER", "admin")
	t.Setenv("E2E_USER_PASSWORD", adminPW)
	waitHealthy(t, inv)
	master := currentMaster(t)
	checkSeedState(t, master)
	m := addr(master, redisPort)

	t.Run("each user may do what its job needs and nothing more", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		// The default user is off: the cluster password opens no data node.
		def := userClient(m, "", clusterPW)
		if err := def.Ping(ctx).Err(); err == nil {
			t.Error("the default user logged in with the cluster password; it should be off")
		}
		def.Close()
		app := userClient(m, "app", appPW)
		defer app.Close()
		if err := app.Set(ctx, "app:1", "v", 0).Err(); err != nil {
			t.Errorf("app cannot write app:1: %v", err)
		}
		if v, err := app.Get(ctx, "app:1").Result(); err != nil || v != "v" {
			t.Errorf("app cannot read app:1: %q %v", v, err)
		}
		refused := func(who string, err error) {
			t.Helper()
			if err == nil || !strings.Contains(err.Error(), "NOPERM") {
				t.Errorf("%s: want NOPERM, got %v", who, err)
			}
		}
		refused("app SET other:1", app.Set(ctx, "other:1", "v", 0).Err())
		refused("app FLUSHALL", app.FlushAll(ctx).Err())
		refused("app CONFIG SET", app.ConfigSet(ctx, "maxmemory", "1").Err())
		for _, u := range []struct{ name, pw string }{{"replication", replPW}, {"sentinel", sentPW}} {
			c := userClient(m, u.name, u.pw)
			refused(u.name+" FLUSHALL", c.FlushAll(ctx).Err())
			refused(u.name+" CONFIG SET", c.ConfigSet(ctx, "maxmemory", "1").Err())
			refused(u.name+" GET", c.Get(ctx, "app:1").Err())
			c.Close()
		}
		// A wrong password is refused for every user.
		bad := userClient(m, "app", "not-the-password")
		if err := bad.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
			t.Errorf("app with a wrong password: want WRONGPASS, got %v", err)
		}
		bad.Close()
		// The users live in the ACL file, not in redis.conf.
		for _, h := range labHosts() {
			out, err := hostExec(t, h.Name, "sh", "-c", "stat -c '%a %U:%G' /etc/redis/users_7000.acl && grep -c '^user ' /etc/redis/users_7000.acl && grep -c '^requirepass' /etc/redis/redis_7000.conf || true")
			if err != nil {
				t.Fatal(err)
			}
			if f := strings.Fields(out); len(f) < 4 || f[0] != "640" || f[1] != "redis:redis" || f[2] != "5" || f[3] != "0" {
				t.Errorf("%s: want the ACL file 0640 redis:redis with 5 users and no requirepass in redis.conf; got %q", h.Name, out)
			}
		}
	})

	t.Run("second up changes nothing", func(t *testing.T) { testNoChangeUp(t, inv) })

	for _, mode := range []string{"stop", "kill", "pause", "manual"} {
		t.Run("failover-test --mode "+mode+" with the default user off", func(t *testing.T) {
			waitHealthy(t, inv)
			testFailover(t, inv, mode)
		})
	}

	t.Run("a change of an application user's rules is applied live", func(t *testing.T) {
		waitHealthy(t, inv)
		before := pids(t)
		inv2 := usersInventory(t, base, dir, "~app:* ~cache:* &app:* +@read +@write -@dangerous")
		plan := mustRun(t, inv2, "plan")
		if !strings.Contains(plan.stdout, "ACL SETUSER app") {
			t.Fatalf("plan does not show the live ACL change:\n%s", plan.stdout)
		}
		mustRun(t, inv2, "up")
		if after := pids(t); !mapsEqual(before, after) {
			t.Fatalf("a change of rules restarted processes: before %v, after %v", before, after)
		}
		ctx, cancel := ctx5()
		defer cancel()
		for _, h := range labHosts() {
			c := userClient(addr(h, redisPort), "app", appPW)
			if h.Name == currentMaster(t).Name {
				if err := c.Set(ctx, "cache:1", "v", 0).Err(); err != nil {
					t.Errorf("%s: app cannot write cache:1 after the change: %v", h.Name, err)
				}
			} else if err := c.Get(ctx, "cache:1").Err(); err != nil && !strings.Contains(err.Error(), "nil") {
				t.Errorf("%s: app cannot read cache:1 after the change: %v", h.Name, err)
			}
			c.Close()
		}
		// ACL SAVE rewrote the files in Redis's own words; the next run
		// still finds nothing to change.
		testNoChangeUp(t, inv2)
	})
}

// usersInventory is the lab inventory with its password files in dir, an
// application user "app" with rules, and its password from
// $E2E_APP_PASSWORD.
func usersInventory(t *testing.T, base, dir, rules string) string {
	t.Helper()
	data, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	found := false
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "  password_file:") {
			found = true
			l = "  password_file: " + filepath.Join(dir, "redis.password") + "\n" +
				"  users:\n" +
				"    - name: app\n" +
				"      password: ${E2E_APP_PASSWORD}\n" +
				"      rules: \"" + rules + "\""
		}
		out = append(out, l)
	}
	if !found {
		t.Fatalf("no password_file line in %s", base)
	}
	p := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(p, []byte(strings.Join(out, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
