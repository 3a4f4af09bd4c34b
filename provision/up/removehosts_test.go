package up

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redisctl/redisctl/provision"
	"github.com/redisctl/redisctl/provision/internal/testkit"
	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote"
	"github.com/redisctl/redisctl/provision/remote/fakehost"
)

// removalCluster is the fake three-node cluster whose sentinels still know
// a fourth host, 10.0.0.4 (replica and sentinel), taken out of the
// inventory. Each sentinel forgets it on SENTINEL RESET and finds the
// remaining replicas and sentinels again two observations later, as a real
// one does from the master's INFO and the hello messages. events records,
// in order, node4's commands and the sentinels' resets and rediscoveries.
type removalCluster struct {
	*fakeCluster
	node4 *testHost
	conn  *extraConnector
	testkit.EventLog
}

// node4Manifest is what up recorded on node4 for the cluster.
const node4Manifest = `{"version": 2, "cluster": "mymaster", "created": ["/etc/redis", "/etc/redis/redis_7000.conf", "/etc/redis/sentinel_8000.conf", "/var/lib/redis/7000"], "services": ["redis_7000", "sentinel_8000"]}`

func newRemovalCluster(t *testing.T) *removalCluster {
	t.Helper()
	rc := &removalCluster{fakeCluster: newFakeCluster(t)}
	rc.node4 = newTestHost("node4", freshFacts+"redis_pid=4401\nsentinel_pid=4402\nmanifest=mymaster.manifest.json\n")
	rc.node4.SetFile("/var/lib/redisctl/mymaster.manifest.json", []byte(node4Manifest), 0o600, "")
	record := func(what string, r fakehost.Result) func(string, []byte) fakehost.Result {
		return func(string, []byte) fakehost.Result { rc.Event("node4: " + what); return r }
	}
	rc.node4.
		On(`\nlive_pid \S*sentinel_8000\.pid`, record("live pid sentinel", fakehost.Result{Stdout: "4402\n"})).
		On(`\nlive_pid \S*redis_7000\.pid`, record("live pid redis", fakehost.Result{Stdout: "4401\n"})).
		On(`sentinel_8000 stop`, record("stop sentinel", fakehost.Result{})).
		On(`redis_7000 stop`, record("stop redis", fakehost.Result{})).
		On(`update-rc.d`, record("unregister", fakehost.Result{})).
		On(`rmpath\(\)`, func(cmd string, _ []byte) fakehost.Result {
			var out strings.Builder
			for _, line := range strings.Split(cmd, "\n") {
				if args, ok := strings.CutPrefix(line, "rmpath "); ok {
					fmt.Fprintf(&out, "removed %s\n", strings.Fields(args)[0])
				}
			}
			rc.Event("node4: remove files")
			return fakehost.Result{Stdout: out.String()}
		}).
		On(`^rm -f -- /var/lib/redisctl/mymaster\.manifest\.json`, record("remove manifest", fakehost.Result{Stdout: "removed\n"})).
		On(`^rm -f -- /var/lib/redisctl/mymaster\.lock$`, record("remove lock", fakehost.Result{}))
	rc.conn = &extraConnector{hosts: map[string]remote.Host{"10.0.0.4": rc.node4}}

	names := []string{"node1", "node2", "node3"}
	for _, n := range names {
		var peers, stay []any
		for _, o := range names {
			if o != n {
				peers = append(peers, sentinelPeer(rc.Node(o).Spec.Address, "sentinel", 300))
			}
		}
		stay = slices.Clone(peers)
		peers = append(peers, sentinelPeer("10.0.0.4", "sentinel", 300))
		var mu sync.Mutex
		reset, polls, found := false, 0, false
		// After a reset the sentinel knows nothing for two observations.
		forgotten := func() bool {
			mu.Lock()
			defer mu.Unlock()
			return reset && polls < 2
		}
		rc.sentinel[n].
			Reply("SENTINEL RESET", func([]string) any {
				mu.Lock()
				reset = true
				mu.Unlock()
				rc.Event(n + ": SENTINEL RESET")
				return 1
			}).
			Reply("SENTINEL REPLICAS", func([]string) any {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case !reset:
					return []any{sentinelReplica("10.0.0.2"), sentinelReplica("10.0.0.3"), sentinelReplica("10.0.0.4")}
				case polls < 2:
					polls++
					return []any{}
				}
				if !found {
					found = true
					rc.Event(n + ": rediscovered")
				}
				return []any{sentinelReplica("10.0.0.2"), sentinelReplica("10.0.0.3")}
			}).
			Reply("SENTINEL SENTINELS", func([]string) any {
				mu.Lock()
				r := reset
				mu.Unlock()
				switch {
				case !r:
					return peers
				case forgotten():
					return []any{}
				}
				return stay
			})
	}
	return rc
}

// extraConnector hands out a fake host by address, for hosts outside the
// inventory; any other address fails to connect.
type extraConnector struct {
	hosts map[string]remote.Host
	calls []string
}

func (c *extraConnector) connect(_ context.Context, inv *inventory.Inventory) ([]remote.Host, error) {
	out := make([]remote.Host, len(inv.Hosts))
	var errs []error
	for i, h := range inv.Hosts {
		c.calls = append(c.calls, h.Address)
		if fh := c.hosts[h.Address]; fh != nil {
			out[i] = fh
			continue
		}
		errs = append(errs, &provision.HostError{Host: h.Name, Step: "connect", Err: fmt.Errorf("dial tcp %s:22: connect: no route to host", h.Address)})
	}
	return out, errors.Join(errs...)
}

// upRun returns a run of up past "find the live master" (node1).
func (rc *removalCluster) upRun(t *testing.T, dryRun, force bool) *upRun {
	return &upRun{c: rc.Cluster, sum: &Summary{DryRun: dryRun}, master: rc.Node("node1"),
		opts: Options{Connect: rc.conn.connect, Progress: rc.P, DryRun: dryRun, Force: force, SyncTimeout: 10 * time.Second}}
}

func changesText(sum *Summary) []string {
	var out []string
	for _, ch := range sum.Changes {
		out = append(out, ch.String())
	}
	return out
}

// wantRemoval is what plan and up list for removing node4, in order.
var wantRemoval = []string{
	"10.0.0.4: stop sentinel_8000",
	"10.0.0.4: stop redis_7000",
	"10.0.0.4: uninstall: unregister redis_7000, sentinel_8000; remove /var/lib/redis/7000, /etc/redis/redis_7000.conf, /etc/redis/sentinel_8000.conf, /etc/redis",
	"node1: SENTINEL RESET mymaster, then wait until it knows 2 replicas and 2 other sentinels",
	"node2: SENTINEL RESET mymaster, then wait until it knows 2 replicas and 2 other sentinels",
	"node3: SENTINEL RESET mymaster, then wait until it knows 2 replicas and 2 other sentinels",
}

func TestRemoveHostPlanListsTheRemovalAndChangesNothing(t *testing.T) {
	rc := newRemovalCluster(t)
	r := rc.upRun(t, true, false)
	if err := (findDepartedStep{r}).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := (removeHostsStep{r}).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := changesText(r.sum); !slices.Equal(got, wantRemoval) {
		t.Errorf("plan:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(wantRemoval, "\n  "))
	}
	for _, c := range rc.node4.Calls() {
		if !regexp.MustCompile(factsPattern).MatchString(c) {
			t.Errorf("node4: a plan ran %q", c)
		}
	}
	for n, s := range rc.sentinel {
		if slices.Contains(s.Commands(), "SENTINEL RESET") {
			t.Errorf("%s: a plan reset the sentinel", n)
		}
	}
}

// Up stops node4's sentinel, then its Redis, uninstalls it, and only then
// resets the sentinels, one at a time, each once the previous one found
// the remaining replicas and sentinels again.
func TestRemoveHostOrder(t *testing.T) {
	rc := newRemovalCluster(t)
	r := rc.upRun(t, false, false)
	if err := (findDepartedStep{r}).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := (removeHostsStep{r}).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := changesText(r.sum); !slices.Equal(got, wantRemoval) {
		t.Errorf("up did:\n  %s\nwant (as the plan):\n  %s", strings.Join(got, "\n  "), strings.Join(wantRemoval, "\n  "))
	}
	want := []string{
		"node4: live pid sentinel", "node4: stop sentinel",
		"node4: live pid redis", "node4: stop redis",
		"node4: remove lock", "node4: unregister", "node4: unregister", "node4: remove files", "node4: remove manifest",
		"node1: SENTINEL RESET", "node1: rediscovered",
		"node2: SENTINEL RESET", "node2: rediscovered",
		"node3: SENTINEL RESET", "node3: rediscovered",
	}
	if got := rc.Events(); !slices.Equal(got, want) {
		t.Errorf("order:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if slices.ContainsFunc(rc.hosts, func(h *testHost) bool {
		return slices.ContainsFunc(h.Calls(), func(c string) bool { return strings.Contains(c, " stop") })
	}) {
		t.Errorf("a host of the inventory had a service stopped")
	}
	rc.Close()
	if rc.node4.Closed() != 1 {
		t.Errorf("node4 closed %d times, want 1", rc.node4.Closed())
	}
}

func TestRemoveHostRefusesTheMaster(t *testing.T) {
	rc := newRemovalCluster(t)
	for _, n := range []string{"node1", "node2", "node3"} {
		rc.sentinel[n].Reply("SENTINEL MASTER", sentinelMaster("10.0.0.4", "master"))
	}
	r := rc.upRun(t, false, false)
	err := (findDepartedStep{r}).Run(t.Context())
	if err == nil {
		t.Fatal("removing the master was not refused")
	}
	for _, want := range []string{"10.0.0.4 is the current master", "refusing to remove the master", "redisctl failover-test --mode manual", "up --failover", "nothing was changed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if len(rc.conn.calls) != 0 || len(rc.node4.Calls()) != 0 {
		t.Errorf("a refused removal reached node4: %v %v", rc.conn.calls, rc.node4.Calls())
	}
}

func TestRemoveHostRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(c *provision.Cluster)
		gone  []provision.DepartedAddr
		want  string
	}{
		{"below one replica", func(c *provision.Cluster) { c.Nodes = c.Nodes[:1] },
			[]provision.DepartedAddr{{IP: "10.0.0.2", Replica: true, Sentinel: true}}, "would leave 0 replicas; a cluster keeps at least one"},
		{"fewer sentinels than the quorum", func(c *provision.Cluster) {
			c.Nodes[1].Spec.Sentinel, c.Nodes[2].Spec.Sentinel = false, false
		}, []provision.DepartedAddr{{IP: "10.0.0.4", Replica: true, Sentinel: true}}, "would leave 1 sentinels, fewer than the quorum of 2"},
		{"no majority until reset", func(*provision.Cluster) {},
			[]provision.DepartedAddr{{IP: "10.0.0.4", Sentinel: true}, {IP: "10.0.0.5", Sentinel: true}, {IP: "10.0.0.6", Sentinel: true}},
			"removing 3 sentinels at once would leave 3 of the 6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := newFakeCluster(t)
			tc.setup(fc.Cluster)
			err := fc.CheckRemoval(tc.gone, false)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing was changed") {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	fc := newFakeCluster(t)
	if err := fc.CheckRemoval([]provision.DepartedAddr{{IP: "10.0.0.4", Sentinel: true}, {IP: "10.0.0.5", Sentinel: true}}, false); err != nil {
		t.Errorf("removing two of five sentinels leaves a majority, refused: %v", err)
	}
}

// A departed host that cannot be reached is refused without --force; with
// it, up says so and the sentinels forget it.
func TestRemoveHostUnreachable(t *testing.T) {
	rc := newRemovalCluster(t)
	rc.conn.hosts = nil
	r := rc.upRun(t, false, false)
	err := (findDepartedStep{r}).Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "no route to host") || !strings.Contains(err.Error(), "up --force") {
		t.Fatalf("err = %v, want the connect error and --force", err)
	}

	r = rc.upRun(t, false, true)
	if err := (findDepartedStep{r}).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := (removeHostsStep{r}).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := changesText(r.sum); !slices.Equal(got, wantRemoval[3:]) {
		t.Errorf("up --force did:\n  %s\nwant only the resets", strings.Join(got, "\n  "))
	}
	if len(r.sum.Notes) != 1 || !strings.Contains(r.sum.Notes[0], "its processes cannot be stopped") {
		t.Errorf("notes: %q", r.sum.Notes)
	}
}

// An inventory that lists every host the sentinels know removes nothing
// and reaches no other host.
func TestRemoveHostNothingDeparted(t *testing.T) {
	fc := newFakeCluster(t)
	conn := &extraConnector{}
	r := &upRun{c: fc.Cluster, sum: &Summary{}, master: fc.Node("node1"), opts: Options{Connect: conn.connect, Progress: fc.P}}
	if err := (findDepartedStep{r}).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := (removeHostsStep{r}).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(conn.calls) != 0 || len(r.sum.Changes) != 0 {
		t.Errorf("connected to %v, changes %v", conn.calls, r.sum.Changes)
	}
}

// withDepartedMaster makes 10.0.0.4 the master the sentinels name, with
// node1, node2 and node3 its replicas, until node1's sentinel is asked
// for SENTINEL FAILOVER: then node1 is master and 10.0.0.4 its replica.
func (rc *removalCluster) withDepartedMaster(t *testing.T) {
	var mu sync.Mutex
	failedOver := false
	after := func() bool { mu.Lock(); defer mu.Unlock(); return failedOver }
	d4 := testkit.NewFakeRedis(t, "node4 redis", testPassword).
		Reply("INFO", func([]string) any {
			if after() {
				return replicaInfo("10.0.0.1", "up")
			}
			return masterInfo("10.0.0.1 online", "10.0.0.2 online", "10.0.0.3 online")
		}).
		Reply("CLIENT PAUSE", func([]string) any { rc.Event("node4: CLIENT PAUSE"); return status("OK") }).
		Reply("CLIENT UNPAUSE", func([]string) any { rc.Event("node4: CLIENT UNPAUSE"); return status("OK") }).
		Reply("REPLICAOF", func(a []string) any { rc.Event("node4: REPLICAOF " + strings.Join(a[1:], " ")); return status("OK") }).
		Reply("CONFIG REWRITE", func([]string) any { rc.Event("node4: CONFIG REWRITE"); return status("OK") })
	rc.node4.DialFunc = testkit.DialTable(map[string]*testkit.FakeRedis{"10.0.0.4:7000": d4})
	rc.data["node1"].Reply("INFO", func([]string) any {
		if after() {
			return masterInfo("10.0.0.2 online", "10.0.0.3 online")
		}
		return replicaInfo("10.0.0.4", "up")
	})
	for _, n := range []string{"node1", "node2", "node3"} {
		rc.sentinel[n].Reply("SENTINEL MASTER", func([]string) any {
			if after() {
				return sentinelMaster("10.0.0.1", "master")
			}
			return sentinelMaster("10.0.0.4", "master")
		})
	}
	rc.sentinel["node1"].Reply("SENTINEL FAILOVER", func([]string) any {
		mu.Lock()
		failedOver = true
		mu.Unlock()
		rc.Event("node1: SENTINEL FAILOVER")
		return status("OK")
	})
}

// up --failover moves the master off the departed host gracefully first,
// then removes it as a replica.
func TestRemoveHostFailoverFirst(t *testing.T) {
	rc := newRemovalCluster(t)
	rc.withDepartedMaster(t)
	r := rc.upRun(t, false, false)
	r.opts.Failover = true
	if err := (findDepartedStep{r}).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := (removeHostsStep{r}).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := append([]string{"10.0.0.4: fail over away from 10.0.0.4 with SENTINEL FAILOVER (writes held, replicas caught up), to remove it"}, wantRemoval...)
	if got := changesText(r.sum); !slices.Equal(got, want) {
		t.Errorf("up --failover did:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	ev := rc.Events()
	// The old master is made a replica while its writes are still paused.
	if len(ev) < 6 || !slices.Equal(ev[:5], []string{"node4: CLIENT PAUSE", "node1: SENTINEL FAILOVER", "node4: REPLICAOF 10.0.0.1 7000", "node4: CONFIG REWRITE", "node4: CLIENT UNPAUSE"}) || ev[5] != "node4: live pid sentinel" {
		t.Errorf("events: %q; want the graceful failover, the old master made a replica before its writes resume, then the removal", ev)
	}
}

// Without --failover, and in its plan, nothing is touched before the plan
// is shown.
func TestRemoveHostFailoverPlan(t *testing.T) {
	rc := newRemovalCluster(t)
	rc.withDepartedMaster(t)
	r := rc.upRun(t, true, false)
	r.opts.Failover = true
	if err := (findDepartedStep{r}).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if m := r.plannedMaster(); m == nil || m.Spec.Name != "node1" {
		t.Errorf("plan assumes master %v, want node1 (the inventory's)", m)
	}
	if ev := rc.Events(); len(ev) != 0 {
		t.Errorf("a plan did %q", ev)
	}
	if got := changesText(r.sum); len(got) != 1 || !strings.Contains(got[0], "fail over away from 10.0.0.4") {
		t.Errorf("plan: %q", got)
	}
}

// A "departed" address whose Redis is an inventory node's (the same
// run_id, reached by a second address) is refused, not removed.
func TestRemoveHostRefusesAnInventoryHostKnownByAnotherAddress(t *testing.T) {
	rc := newRemovalCluster(t)
	rc.data["node2"].Reply("INFO", replicaInfo("10.0.0.1", "up")+"run_id:5f0e6c3b2a\r\n")
	rc.node4.DialFunc = testkit.DialTable(map[string]*testkit.FakeRedis{"10.0.0.4:7000": rc.data["node2"]})
	r := rc.upRun(t, false, false)
	err := (findDepartedStep{r}).Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "is node2's (the same run_id)") {
		t.Fatalf("err = %v, want node2 named as the server at 10.0.0.4", err)
	}
	if ev := rc.Events(); len(ev) != 0 {
		t.Errorf("a refused removal did %q", ev)
	}
}
