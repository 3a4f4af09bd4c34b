package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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

	inv2 := usersInventory(t, base, dir, "~app:* ~cache:* &app:* +@read +@write -@dangerous")
	t.Run("a change of an application user's rules is applied live", func(t *testing.T) {
		waitHealthy(t, inv)
		before := pids(t)
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

	t.Run("a new app password in the inventory is rotated under a writer, with no error and no restart", func(t *testing.T) {
		waitHealthy(t, inv2)
		before := pids(t)
		w := startAppWriter(t, clusterPW, appPW)
		time.Sleep(time.Second)
		const newPW = "app-Secret-2"
		os.Setenv("E2E_APP_PASSWORD", newPW) // for the rest of the test (its t.Setenv restores it)
		r := mustRun(t, inv2, "up")
		t.Logf("MEASURE up rotating the app password: %s", r.took.Round(100*time.Millisecond))
		for _, want := range []string{"add the new password of user app", "remove the old password of user app", "verify every replica and sentinel link"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("up did not %q:\n%s", want, r.stdout)
			}
		}
		if strings.Contains(r.stdout+r.stderr, newPW) || strings.Contains(r.stdout+r.stderr, appPW) {
			t.Fatal("a password appeared in redisctl's output")
		}
		acked, errs := w.stop()
		t.Logf("MEASURE app writer through the rotation: %d writes acknowledged, %d errors", acked, len(errs))
		if len(errs) > 0 {
			t.Errorf("the writer holding the old password saw %d errors, e.g. %v", len(errs), errs[0])
		}
		if acked < 50 {
			t.Fatalf("only %d writes acknowledged: the writer did not run", acked)
		}
		if after := pids(t); !mapsEqual(before, after) {
			t.Fatalf("the rotation restarted processes: before %v, after %v", before, after)
		}
		if miss := w.missing(t, addr(currentMaster(t), redisPort)); miss != 0 {
			t.Errorf("%d acknowledged writes are missing", miss)
		}
		checkLogins(t, "app", appPW, newPW)
		testNoChangeUp(t, inv2)
	})

	for _, user := range []string{"replication", "sentinel", "admin"} {
		t.Run("rotate-password --user "+user+" with no restart; the servers restart with the new one", func(t *testing.T) {
			waitHealthy(t, inv2)
			old := readPW("redis." + user + ".password")
			before := pids(t)
			r := mustRun(t, inv2, "rotate-password", "--user", user)
			t.Logf("MEASURE rotate-password --user %s: %s", user, r.took.Round(100*time.Millisecond))
			newPW := readPW("redis." + user + ".password")
			if newPW == old {
				t.Fatal("the stored password did not change")
			}
			if user == "admin" {
				os.Setenv("E2E_USER_PASSWORD", newPW) // for the rest of the test
			}
			if after := pids(t); !mapsEqual(before, after) {
				t.Fatalf("the rotation restarted processes: before %v, after %v", before, after)
			}
			if _, err := os.Stat(filepath.Join(dir, "redis."+user+".password.new")); err == nil {
				t.Error("the new password is still waiting beside the stored one")
			}
			if strings.Contains(r.stdout+r.stderr, newPW) || strings.Contains(r.stdout+r.stderr, old) {
				t.Fatal("a password appeared in redisctl's output")
			}
			checkLogins(t, user, old, newPW)
			restartedComeBack(t, inv2)
		})
	}

	t.Run("rotate-password --user default: the sentinels' password, with no restart", func(t *testing.T) {
		testRotateClusterPassword(t, inv2, filepath.Join(dir, "redis.password"), false)
	})

	t.Run("backup and restore with the default user off", func(t *testing.T) {
		waitHealthy(t, inv2)
		m := currentMaster(t)
		flushAll(t, m, len(labHosts())-1) // checkKeys counts every key
		writeKeys(t, m, len(labHosts())-1)
		bdir := t.TempDir()
		r := mustRun(t, inv2, "backup", "--to", bdir, "-o", "json")
		var b backupDoc
		if err := json.Unmarshal([]byte(r.stdout), &b); err != nil || b.Keys < restoreKeys {
			t.Fatalf("backup: %v %+v", err, b)
		}
		flushAll(t, m, len(labHosts())-1)
		mustRun(t, inv2, "restore", "--from", b.File, "--yes")
		for _, h := range labHosts() {
			checkKeys(t, h)
		}
		waitHealthy(t, inv2)
	})

	t.Run("a rotation cut short resumes on the next up", func(t *testing.T) {
		waitHealthy(t, inv2)
		before := pids(t)
		old := readPW("redis.replication.password")
		const next = "Resumed0Replication0Pw"
		// What a rotate-password cut off midway leaves: the new password
		// stored beside the old, taken by one data node, and one replica
		// already replicating with it.
		if err := os.WriteFile(filepath.Join(dir, "redis.replication.password.new"), []byte(next+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := ctx5()
		defer cancel()
		sum := sha256.Sum256([]byte(next))
		m := currentMaster(t)
		var replica labHost
		for _, h := range labHosts() {
			if h.Name != m.Name {
				replica = h
			}
		}
		for _, cmd := range []struct {
			h    labHost
			args []any
		}{{m, []any{"ACL", "SETUSER", "replication", "#" + hex.EncodeToString(sum[:])}}, {replica, []any{"CONFIG", "SET", "masterauth", next}}} {
			c := client(t, addr(cmd.h, redisPort))
			if err := c.Do(ctx, cmd.args...).Err(); err != nil {
				t.Fatalf("%s: %v", cmd.h.Name, err)
			}
			c.Close()
		}
		r := mustRun(t, inv2, "up")
		if !strings.Contains(r.stdout, "remove the old password of user replication") || strings.Count(r.stdout, "add the new password of user replication") != 2 {
			t.Errorf("up did not resume the rotation where it stopped:\n%s", r.stdout)
		}
		if got := readPW("redis.replication.password"); got != next {
			t.Fatal("the new password is not the stored one after the resumed rotation")
		}
		checkLogins(t, "replication", old, next)
		if after := pids(t); !mapsEqual(before, after) {
			t.Fatalf("the rotation restarted processes: before %v, after %v", before, after)
		}
		testNoChangeUp(t, inv2)
	})
}

// checkLogins checks on every data node that user logs in with newPW and
// no longer with oldPW.
func checkLogins(t *testing.T, user, oldPW, newPW string) {
	t.Helper()
	ctx, cancel := ctx5()
	defer cancel()
	for _, h := range labHosts() {
		for _, c := range []struct {
			pw   string
			want bool
		}{{newPW, true}, {oldPW, false}} {
			cl := userClient(addr(h, redisPort), user, c.pw)
			err := cl.Do(ctx, "ACL", "WHOAMI").Err()
			cl.Close()
			loggedIn := err == nil || strings.Contains(err.Error(), "NOPERM")
			if loggedIn != c.want {
				t.Errorf("%s: user %s with the %s password: logged in %v (%v), want %v", h.Name, user,
					map[bool]string{true: "new", false: "old"}[c.want], loggedIn, err, c.want)
			}
		}
	}
}

// appWriter writes app:w:<i> as the app user through the sentinels, with
// one connection opened with the password it was given.
type appWriter struct {
	mu     sync.Mutex
	okKeys []int
	errs   []error
	cancel context.CancelFunc
	done   chan struct{}
}

func startAppWriter(t *testing.T, sentinelPW, pw string) *appWriter {
	var sentinels []string
	for _, h := range labHosts() {
		sentinels = append(sentinels, addr(h, sentinelPort))
	}
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: masterName, SentinelAddrs: sentinels,
		Username: "app", Password: pw, SentinelPassword: sentinelPW, PoolSize: 1, DialTimeout: time.Second,
		ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: -1, DisableIdentity: true, Protocol: 2})
	ctx, cancel := context.WithCancel(context.Background())
	w := &appWriter{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer c.Close()
		for i := 0; ctx.Err() == nil; i++ {
			err := c.Set(ctx, "app:w:"+strconv.Itoa(i), i, time.Hour).Err()
			w.mu.Lock()
			if err == nil {
				w.okKeys = append(w.okKeys, i)
			} else if ctx.Err() == nil {
				w.errs = append(w.errs, err)
			}
			w.mu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return w
}

func (w *appWriter) stop() (acked int, errs []error) {
	time.Sleep(time.Second)
	w.cancel()
	<-w.done
	return len(w.okKeys), w.errs
}

func (w *appWriter) missing(t *testing.T, address string) int {
	c := client(t, address)
	defer c.Close()
	n := 0
	for _, i := range w.okKeys {
		ctx, cancel := ctx5()
		v, err := c.Get(ctx, "app:w:"+strconv.Itoa(i)).Result()
		cancel()
		if err != nil || v != strconv.Itoa(i) {
			n++
		}
	}
	return n
}

// usersInventory is the lab inventory with its password files in dir, an
// application user "app" with rules, and its password from
// $E2E_APP_PASSWORD.
func usersInventory(t *testing.T, base, dir, rules string) string {
	return editedInventory(t, base, dir, "  users:\n"+
		"    - name: app\n"+
		"      password: ${E2E_APP_PASSWORD}\n"+
		"      rules: \""+rules+"\"", "")
}

// testRotateClusterPassword rotates the generated cluster password under a
// writer that logged in with the old one: no restart, the old password
// refused afterwards by every server that used it, and a replica and a
// sentinel restarted afterwards come back healthy. pwFile is where the
// cluster password is stored; data tells whether the data nodes take it
// (a cluster without ACL users) or only the sentinels do.
func testRotateClusterPassword(t *testing.T, inv, pwFile string, data bool) {
	waitHealthy(t, inv)
	read := func() string {
		b, err := os.ReadFile(pwFile)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	old := read()
	before := pids(t)
	var w *testWriter
	if data {
		w = startWriter(t)
		time.Sleep(time.Second)
	}
	r := mustRun(t, inv, "rotate-password", "--user", "default")
	t.Logf("MEASURE rotate-password --user default: %s", r.took.Round(100*time.Millisecond))
	newPW := read()
	if newPW == old {
		t.Fatal("the stored cluster password did not change")
	}
	if os.Getenv("E2E_PASSWORD") == old {
		os.Setenv("E2E_PASSWORD", newPW) // for the rest of the test
	}
	if _, err := os.Stat(pwFile + ".new"); err == nil {
		t.Error("the new cluster password is still waiting beside the stored one")
	}
	if strings.Contains(r.stdout+r.stderr, newPW) || strings.Contains(r.stdout+r.stderr, old) {
		t.Fatal("a password appeared in redisctl's output")
	}
	if w != nil {
		acked, gap, _ := w.stop()
		t.Logf("MEASURE writer through the cluster password rotation: %d writes acknowledged, longest gap %s", acked, gap.Round(10*time.Millisecond))
		if miss := w.missing(t, addr(currentMaster(t), redisPort)); miss != 0 || acked < 50 {
			t.Errorf("%d acknowledged writes, %d missing", acked, miss)
		}
	}
	if after := pids(t); !mapsEqual(before, after) {
		t.Fatalf("the rotation restarted processes: before %v, after %v", before, after)
	}
	ctx, cancel := ctx5()
	defer cancel()
	for _, h := range labHosts() {
		ports := []int{sentinelPort}
		if data {
			ports = append(ports, redisPort)
		}
		for _, port := range ports {
			for _, c := range []struct {
				pw   string
				want bool
			}{{newPW, true}, {old, false}} {
				cl := userClient(addr(h, port), "", c.pw)
				err := cl.Ping(ctx).Err()
				cl.Close()
				if (err == nil) != c.want {
					t.Errorf("%s:%d with the %s cluster password: %v", h.Name, port, map[bool]string{true: "new", false: "old"}[c.want], err)
				}
			}
		}
	}
	restartedComeBack(t, inv)
}

// restartedComeBack restarts the Redis and the sentinel of one replica's
// host: what the servers saved must hold the secrets they run with, so
// they come back healthy; a no-change up follows.
func restartedComeBack(t *testing.T, inv string) {
	t.Helper()
	m := currentMaster(t)
	for _, h := range labHosts() {
		if h.Name == m.Name {
			continue
		}
		for _, svc := range []string{"redis_7000", "sentinel_8000"} {
			if _, err := hostExec(t, h.Name, service(svc, "restart")...); err != nil {
				t.Fatal(err)
			}
		}
		break
	}
	waitHealthy(t, inv)
	testNoChangeUp(t, inv)
}
