package provision

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redisctl/redisctl/provision/internal/testkit"
	"github.com/redisctl/redisctl/provision/remote/fakehost"
)

// restoreLab is a fake cluster set up for a restore: node1's host runs and
// stops its redis through the SysV script, answers sha256sum from its
// files and performs the swap script; every sentinel keeps the
// down-after-milliseconds SENTINEL SET gives it. events records, in order,
// the sentinels' settings and the master's stop, swap and start.
type restoreLab struct {
	*fakeCluster
	testkit.EventLog
	mu        sync.Mutex
	failStart int // how many starts fail
	file      string
	rdb       []byte
}

func newRestoreLab(t *testing.T) *restoreLab {
	t.Helper()
	l := &restoreLab{fakeCluster: newFakeCluster(t), rdb: []byte("REDIS0010 the restored dataset")}
	l.file = filepath.Join(t.TempDir(), "mymaster-20261128T010203Z.rdb")
	if err := os.WriteFile(l.file, l.rdb, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, n := range l.Nodes {
		n.SetFacts(&Facts{Init: "sysv", RedisPid: 4100}, &Manifest{}, l.Layout)
	}
	h := l.hosts[0]
	h.SetFile("/var/lib/redis/7000/dump.rdb", []byte("REDIS0010 the data before"), 0o640, "redis:redis")
	running := true
	h.On(`live_pid\(\)`, func(string, []byte) fakehost.Result {
		l.mu.Lock()
		defer l.mu.Unlock()
		if running {
			return fakehost.Result{Stdout: "4100\n"}
		}
		return fakehost.Result{}
	})
	h.On(`^/etc/init.d/redis_7000 stop$`, func(string, []byte) fakehost.Result {
		l.mu.Lock()
		running = false
		l.mu.Unlock()
		l.Event("stop redis")
		return fakehost.Result{}
	})
	h.On(`^/etc/init.d/redis_7000 start$`, func(string, []byte) fakehost.Result {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.failStart > 0 {
			l.failStart--
			l.Event("start redis: fails")
			return fakehost.Result{Status: 1, Stderr: "Bad file format reading the append only file"}
		}
		running = true
		l.Event("start redis")
		return fakehost.Result{}
	})
	h.On(`^sha256sum -- `, func(cmd string, _ []byte) fakehost.Result {
		p := strings.TrimPrefix(cmd, "sha256sum -- ")
		f, ok := h.File(p)
		if !ok {
			return fakehost.Result{Status: 1, Stderr: "no such file"}
		}
		return fakehost.Result{Stdout: sha256Hex(f.Data) + "  " + p + "\n"}
	})
	h.On(`^set -e\ns=`, func(cmd string, _ []byte) fakehost.Result {
		var s, r, p string
		for _, line := range strings.Split(cmd, "\n") {
			if strings.HasPrefix(line, "s=") {
				f := strings.Fields(line)
				s, r, p = strings.TrimSuffix(strings.TrimPrefix(f[0], "s="), ";"), strings.TrimSuffix(strings.TrimPrefix(f[1], "r="), ";"), strings.TrimPrefix(f[2], "p=")
			}
		}
		staged, ok := h.File(s)
		if !ok {
			return fakehost.Result{Status: 1, Stderr: s + " is missing"}
		}
		old, _ := h.File(r)
		h.SetFile(p, old.Data, old.Mode, old.Owner)
		h.SetFile(r, staged.Data, staged.Mode, staged.Owner)
		h.SetFile(s, nil, 0, "") // gone, as far as this test looks
		l.Event("swap " + s + " -> " + r)
		return fakehost.Result{}
	})
	h.On(`^rm -f -- `, func(cmd string, _ []byte) fakehost.Result {
		l.Event("remove " + strings.Fields(cmd)[3])
		return fakehost.Result{}
	})
	h.On(`^mv -f -T -- `, func(cmd string, _ []byte) fakehost.Result {
		f := strings.Fields(cmd)
		old, _ := h.File(f[4])
		h.SetFile(f[5], old.Data, old.Mode, old.Owner)
		l.Event("put back " + f[4])
		return fakehost.Result{}
	})
	l.data["node1"].
		Reply("INFO", masterInfo("10.0.0.2 online", "10.0.0.3 online")+"\r\n# Keyspace\r\ndb0:keys=500,expires=0,avg_ttl=0\r\n").
		Reply("CONFIG GET", func(args []string) any {
			switch args[2] {
			case "dir":
				return []string{"dir", "/var/lib/redis/7000"}
			case "dbfilename":
				return []string{"dbfilename", "dump.rdb"}
			case "appendonly":
				return []string{"appendonly", "no"}
			}
			return []string{}
		})
	for _, name := range []string{"node1", "node2", "node3"} {
		name := name
		downAfter := "5000"
		l.sentinel[name].
			Reply("SENTINEL SET", func(args []string) any {
				l.mu.Lock()
				downAfter = args[4]
				l.mu.Unlock()
				l.Event(name + " sentinel down-after " + args[4])
				return status("OK")
			}).
			Reply("SENTINEL MASTER", func([]string) any {
				l.mu.Lock()
				defer l.mu.Unlock()
				m := sentinelMaster("10.0.0.1", "master")
				for i := range m {
					if m[i] == "down-after-milliseconds" {
						m[i+1] = downAfter
					}
				}
				return m
			})
	}
	return l
}

func (l *restoreLab) prep(t *testing.T) *restorePrep {
	t.Helper()
	rp, err := l.prepareRestore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rp.sha, rp.size, _, err = checkBackupFile(l.file)
	if err != nil {
		t.Fatal(err)
	}
	rp.meta = &BackupMeta{Keys: 500}
	return rp
}

// The master's redis is stopped before its RDB is replaced (stopping saves
// over it) and started after; the sentinels are held back around all of it
// and set back to what they had.
func TestRestoreOrder(t *testing.T) {
	l := newRestoreLab(t)
	rp := l.prep(t)
	res := &RestoreResult{File: l.file}
	if err := l.restore(context.Background(), rp, l.file, 2*time.Second, res); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"node1 sentinel down-after 3600000", "node2 sentinel down-after 3600000", "node3 sentinel down-after 3600000",
		"stop redis",
		"swap /var/lib/redis/7000/redisctl-restore-dump.rdb -> /var/lib/redis/7000/dump.rdb",
		"start redis",
		"node1 sentinel down-after 5000", "node2 sentinel down-after 5000", "node3 sentinel down-after 5000",
	}
	if got := l.Events(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	h := l.hosts[0]
	f, _ := h.File("/var/lib/redis/7000/dump.rdb")
	if string(f.Data) != string(l.rdb) || f.Owner != "redis:redis" || f.Mode != 0o640 {
		t.Errorf("dump.rdb after the restore: %q %s %v", f.Data, f.Owner, f.Mode)
	}
	if prev, _ := h.File(rp.previous); string(prev.Data) != "REDIS0010 the data before" || res.Previous != rp.previous {
		t.Errorf("the data from before is not kept in %s (%q, result %q)", rp.previous, prev.Data, res.Previous)
	}
	if res.Keys != 500 || len(res.Notes) != 0 {
		t.Errorf("keys %d, notes %v; want 500 and none", res.Keys, res.Notes)
	}
}

// When the master does not start with the restored file, the data from
// before goes back, and the sentinels are set back all the same.
func TestRestoreSetsTheSentinelsBackOnFailure(t *testing.T) {
	l := newRestoreLab(t)
	l.failStart = 1
	rp := l.prep(t)
	err := l.restore(context.Background(), rp, l.file, 2*time.Second, &RestoreResult{File: l.file})
	if err == nil || !strings.Contains(err.Error(), "with the restored file") {
		t.Fatalf("err = %v, want the failed start", err)
	}
	got := strings.Join(l.Events(), "\n")
	for _, want := range []string{"start redis: fails\nput back " + rp.previous + "\nstart redis\n",
		"node1 sentinel down-after 5000\nnode2 sentinel down-after 5000\nnode3 sentinel down-after 5000"} {
		if !strings.Contains(got, want) {
			t.Errorf("events:\n%s\nwant them to contain:\n%s", got, want)
		}
	}
	if f, _ := l.hosts[0].File("/var/lib/redis/7000/dump.rdb"); string(f.Data) != "REDIS0010 the data before" {
		t.Errorf("dump.rdb after the failed restore: %q, want the data from before", f.Data)
	}
}

// A sentinel that refuses the hold: the ones already held are set back,
// and the master is never touched.
func TestRestoreHoldFailureTouchesNothing(t *testing.T) {
	l := newRestoreLab(t)
	l.sentinel["node3"].Reply("SENTINEL SET", respError("ERR nope"))
	rp := l.prep(t)
	err := l.restore(context.Background(), rp, l.file, 2*time.Second, &RestoreResult{File: l.file})
	if err == nil || !strings.Contains(err.Error(), "hold the sentinel back") {
		t.Fatalf("err = %v, want the refused hold", err)
	}
	got := strings.Join(l.Events(), "\n")
	if strings.Contains(got, "stop redis") {
		t.Errorf("the master was stopped:\n%s", got)
	}
	if !strings.HasSuffix(got, "node1 sentinel down-after 5000\nnode2 sentinel down-after 5000\nremove /var/lib/redis/7000/redisctl-restore-dump.rdb") {
		t.Errorf("events:\n%s\nwant node1 and node2 set back and the upload removed", got)
	}
}

// Restore refuses a file whose .sha256 differs, and asks before it
// changes anything: not confirmed, nothing is uploaded or stopped.
func TestRestoreRefuses(t *testing.T) {
	l := newRestoreLab(t)
	if err := os.WriteFile(PasswordFile(l.Inv), []byte(testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, h := range l.hosts {
		h.Answer(factsPattern, fakehost.Result{Stdout: freshFacts})
	}
	conn := &testConnector{Hosts: l.hosts}
	ctx := context.Background()

	if err := os.WriteFile(l.file+".sha256", []byte(sha256Hex([]byte("other"))+"  x.rdb\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Restore(ctx, l.Inv, RestoreOptions{Connect: conn.Connect, Progress: testProgress(t), File: l.file})
	if err == nil || !strings.Contains(err.Error(), "the file is damaged or not the one backed up") {
		t.Fatalf("err = %v, want the sha256 mismatch", err)
	}
	if conn.Calls.Load() != 0 {
		t.Errorf("connected to the hosts although the file is bad")
	}

	if err := os.WriteFile(l.file+".sha256", []byte(sha256Hex(l.rdb)+"  x.rdb\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var plan string
	_, err = Restore(ctx, l.Inv, RestoreOptions{Connect: conn.Connect, Progress: testProgress(t), File: l.file,
		Confirm: func(p string) (bool, error) { plan = p; return false, nil }})
	if !errors.Is(err, ErrNotConfirmed) {
		t.Fatalf("err = %v, want ErrNotConfirmed", err)
	}
	if !strings.Contains(plan, "into the master node1, replacing ALL of its data") {
		t.Errorf("plan:\n%s", plan)
	}
	if ev := l.Events(); len(ev) != 0 {
		t.Errorf("changed things without confirmation: %v", ev)
	}
	for _, c := range l.hosts[0].Calls() {
		if strings.HasPrefix(c, "put ") {
			t.Errorf("uploaded without confirmation: %s", c)
		}
	}
}

func TestRestoreRefusesAOF(t *testing.T) {
	l := newRestoreLab(t)
	l.data["node1"].Reply("CONFIG GET", func(args []string) any { return []string{args[2], "yes"} })
	_, err := l.prepareRestore(context.Background())
	if err == nil || !strings.Contains(err.Error(), "appendonly yes") {
		t.Fatalf("err = %v, want a refusal for AOF", err)
	}
}

func TestRestoredKeys(t *testing.T) {
	cases := []struct {
		keys int64
		meta *BackupMeta
		err  string
		note string
	}{
		{keys: 500, meta: &BackupMeta{Keys: 500}},
		{keys: 497, meta: &BackupMeta{Keys: 500, Expires: 10}, note: "3 of its 10 keys with a TTL expired"},
		{keys: 497, meta: &BackupMeta{Keys: 500}, err: "the master holds 497 keys after the restore, the backup 500"},
		{keys: 501, meta: &BackupMeta{Keys: 500}, err: "holds 501"},
		{keys: 42, note: "the master holds 42 keys, not compared"},
	}
	for _, c := range cases {
		res := &RestoreResult{File: "/b/x.rdb", Keys: c.keys}
		err := checkRestoredKeys(res, c.meta)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%d keys, %+v: err %v, want %q", c.keys, c.meta, err, c.err)
		}
		if note := strings.Join(res.Notes, "; "); c.note == "" && note != "" || !strings.Contains(note, c.note) {
			t.Errorf("%d keys, %+v: notes %q, want %q", c.keys, c.meta, note, c.note)
		}
	}
}

func TestRDBVersions(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "a.rdb")
	os.WriteFile(f, []byte("REDIS0012\xfa..."), 0o600)
	if v, err := rdbFileVersion(f); err != nil || v != 12 {
		t.Errorf("rdbFileVersion = %d, %v; want 12", v, err)
	}
	os.WriteFile(f, []byte("not an rdb"), 0o600)
	if _, err := rdbFileVersion(f); err == nil {
		t.Errorf("a file that is no RDB was accepted")
	}
	for v, want := range map[string]int{"7.0.15": 10, "7.2.4": 11, "7.4.1": 12, "8.0.2": 12, "9.1.0": 0, "x": 0} {
		if got, _ := RdbFormat(Build{"redis", v}); got != want {
			t.Errorf("rdbFormat(redis %s) = %d, want %d", v, got, want)
		}
	}
}
