package up

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redisctl/redisctl/provision"
	"github.com/redisctl/redisctl/provision/internal/testkit"
	"github.com/redisctl/redisctl/provision/remote/fakehost"
)

// A no-change up on a healthy cluster changes nothing, and every host is
// reached in a bounded number of round trips: the per-host steps are one
// parallel round each, not one call per file or per server. The lock's own
// scripts (take and release) are counted here too.
func TestUpNoChangeRoundTrips(t *testing.T) {
	fc := healthyUpCluster(t)
	sum, err := runUp(t, fc.Inv, &testConnector{Hosts: fc.hosts})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Changes) != 0 {
		t.Fatalf("a no-change up changed %v", sum.Changes)
	}
	// Was 12: lock, facts, manifest read, checks, prepare, one read per
	// file (4), a live_pid per server (2), lock release. 9 with the files
	// read in one command; 8 with every server's live pid read at once; 7
	// with the manifest read by the facts script; 6 with the facts read
	// in the lock's round trip; 5 with prepare answered by the facts; 4
	// with the running servers' pids taken from the facts (and a PING); 2
	// with the host checks and the files read in the lock's round trip.
	const bound = 2
	for _, h := range fc.hosts {
		var list []string
		for _, c := range h.Host.Calls() { // every command, the lock's and the checks' too
			first, _, _ := strings.Cut(strings.TrimSpace(c), "\n")
			list = append(list, first)
		}
		total := h.RoundTrips()
		t.Logf("%s: %d round trips (reads: %v):\n  %s", h.Name(), total, h.Reads(), strings.Join(list, "\n  "))
		if total > bound {
			t.Errorf("%s: %d round trips in a no-change up, want at most %d", h.Name(), total, bound)
		}
	}
}

// A server found stopped is still started, checked as before (its pid
// read again, the service started, its pid read once more), while the
// running ones are only checked; the others cost no extra round trip.
func TestUpStartsOnlyWhatIsStopped(t *testing.T) {
	fc := healthyUpCluster(t)
	h := fc.hosts[2] // node3, a replica
	redisFoundStopped(t, h)
	var started atomic.Bool
	redisStoppedUntilStarted(fc, h, &started)
	upChangesOnly(t, fc, "node3: start redis_7000")
	if !started.Load() {
		t.Fatal("node3's redis was not started")
	}
	for _, o := range fc.hosts[:2] {
		for _, c := range o.Host.Calls() {
			if strings.Contains(c, " start") {
				t.Errorf("%s: %q, want nothing started", o.Name(), c)
			}
		}
	}
}

// A server the facts found running but which does not answer when up gets
// to it (it died since) is looked for again on its host, and started.
func TestUpStartsAServerThatDiedAfterTheFacts(t *testing.T) {
	fc := healthyUpCluster(t)
	h := fc.hosts[2] // node3, a replica; the facts say its redis runs
	var started atomic.Bool
	dial := h.DialFunc
	h.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if strings.HasSuffix(addr, ":7000") && !started.Load() {
			return nil, fmt.Errorf("fakehost node3: dial %s: connection refused", addr)
		}
		return dial(ctx, network, addr)
	}
	redisStoppedUntilStarted(fc, h, &started)
	upChangesOnly(t, fc, "node3: start redis_7000")
}

// redisFoundStopped makes the facts of h find its redis down: no live pid
// and nothing on the port.
func redisFoundStopped(t *testing.T, h *testHost) {
	t.Helper()
	if r, ok := h.Host.Reply("\nif [ -r /etc/os-release ]"); ok {
		facts := strings.Replace(r.Stdout, "redis_pid=4100\n", "redis_pid=\n", 1)
		facts = strings.Replace(facts, "LISTEN 0 511 0.0.0.0:7000 0.0.0.0:* users:((\"redis-server\",pid=4100,fd=6))\n", "", 1)
		h.Answer(factsPattern, fakehost.Result{Stdout: facts})
	} else {
		t.Fatal("no facts answer to change")
	}
}

// redisStoppedUntilStarted makes h's redis look stopped (no live pid)
// until its init script starts it, which sets started.
func redisStoppedUntilStarted(fc *fakeCluster, h *testHost, started *atomic.Bool) {
	h.Answer(`\necho "redis=\$\(live_pid `, fakehost.Result{Stdout: "redis=\nsentinel=4200\n"})
	h.On(`\nlive_pid '?`+regexp.QuoteMeta(fc.Layout.RedisPid)+`'? \S+\n$`, func(string, []byte) fakehost.Result {
		if started.Load() {
			return fakehost.Result{Stdout: "4100\n"}
		}
		return fakehost.Result{}
	})
	h.On(`^/etc/init\.d/redis_7000 start$`, func(string, []byte) fakehost.Result {
		started.Store(true)
		return fakehost.Result{}
	})
}

// upChangesOnly runs up on fc and wants exactly the one change.
func upChangesOnly(t *testing.T, fc *fakeCluster, want string) {
	t.Helper()
	sum, err := runUp(t, fc.Inv, &testConnector{Hosts: fc.hosts})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Changes) != 1 || sum.Changes[0].String() != want {
		t.Fatalf("changes %v, want %s", sum.Changes, want)
	}
}

// Sentinels before Redis 6.2 know no ACL commands: a no-change up, which
// asks them for their default user's passwords, still changes nothing.
func TestUpNoChangeWithoutACLCommands(t *testing.T) {
	fc := healthyUpCluster(t)
	for _, s := range fc.sentinel {
		s.Unset("ACL LIST")
	}
	sum, err := runUp(t, fc.Inv, &testConnector{Hosts: fc.hosts})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Changes) != 0 {
		t.Fatalf("a no-change up changed %v", sum.Changes)
	}
}

// The files read with the lock decide only that nothing changes: a host
// whose files differ from what up renders is read again, and what up
// writes is decided on that read. Here node2's init script was edited
// after up wrote it, and, after the lock's round trip, edited once more:
// up restores the script from the second edit, not the first.
func TestUpRereadsTheFilesItChanges(t *testing.T) {
	fc := healthyUpCluster(t)
	h := fc.hosts[1]
	script := fc.Layout.RedisInitScript
	f, ok := h.Host.File(script)
	if !ok {
		t.Fatal("no init script on node2")
	}
	h.SetFile(script, []byte("#!/bin/sh\n# edited by hand\n"), f.Mode, f.Owner)
	// The lock's round trip reads the first edit; the second comes after it.
	h.On(testkit.LockCmdPattern, func(cmd string, stdin []byte) fakehost.Result {
		r := h.LockReply(cmd, stdin)
		if strings.Contains(cmd, provision.PrefetchTag) {
			h.SetFile(script, []byte("#!/bin/sh\n# edited again\n"), f.Mode, f.Owner)
		}
		return r
	})
	sum, err := runUp(t, fc.Inv, &testConnector{Hosts: fc.hosts})
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, ch := range sum.Changes {
		changed = append(changed, ch.String())
	}
	if len(sum.Changes) != 1 || sum.Changes[0].Host != "node2" || !strings.Contains(sum.Changes[0].What, script) {
		t.Fatalf("changes %q, want node2's %s written", changed, script)
	}
	if d := sum.Changes[0].Diff; !strings.Contains(d, "-# edited again") || strings.Contains(d, "edited by hand") {
		t.Errorf("the change was decided on the file as the lock read it, not as it is:\n%s", d)
	}
	if got, _ := h.Host.File(script); string(got.Data) != string(f.Data) {
		t.Errorf("node2's %s is %q after up, want it as rendered", script, got.Data)
	}
	for _, th := range fc.hosts {
		want := 0
		if th == h {
			want = 1 // read again before writing
		}
		if reads := th.ReadCalls(); reads != want {
			t.Errorf("%s: %d reads outside the lock's round trip, want %d", th.Name(), reads, want)
		}
	}
}

// The wait for a started replica's link runs beside the sentinels' start;
// when the link never comes up, up still fails, naming the replicas' step
// and the replica.
func TestUpWaitsForTheReplicaItStarted(t *testing.T) {
	fc := healthyUpCluster(t)
	h := fc.hosts[2] // node3, a replica, found stopped
	redisFoundStopped(t, h)
	var started atomic.Bool
	redisStoppedUntilStarted(fc, h, &started)
	fc.data["node3"].Reply("INFO", replicaInfo("10.0.0.1", "down"))
	_, err := runUp(t, fc.Inv, &testConnector{Hosts: fc.hosts})
	msg := wantStep(t, err, "start the replicas")
	if !strings.Contains(msg, "node3 link down") {
		t.Errorf("error %q does not name node3's link", msg)
	}
	if !started.Load() {
		t.Error("node3's redis was not started")
	}
}
