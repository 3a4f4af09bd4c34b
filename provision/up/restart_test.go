package up

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redisctl/redisctl/provision"
	"github.com/redisctl/redisctl/provision/internal/testkit"
	"github.com/redisctl/redisctl/provision/remote/fakehost"
	"github.com/redisctl/redisctl/provision/render"
)

// rollingSim is the fake three-node cluster (newFakeCluster, node1 master)
// made to behave through a rolling restart. The data nodes' and sentinels'
// replies are computed from one state: whom each data node follows, whom
// the sentinels name, which services are stopped. The hosts stop and start
// the services (a stopped server refuses connections), a sentinel asked
// for SENTINEL FAILOVER promotes node2 (unless promote is false), and the
// old master becomes a replica when it receives REPLICAOF. events records,
// in order, what the hosts and servers were asked to do and when the run
// saw a restarted server back in sync.
type rollingSim struct {
	*fakeCluster

	mu sync.Mutex
	// follows is, per data node, the address of the master it replicates
	// from; "" for a master.
	follows map[string]string
	// named is the address every sentinel names as master.
	named string
	// promote: SENTINEL FAILOVER promotes node2. When false, the sentinel
	// accepts the failover and nothing ever happens.
	promote bool
	// stopped holds the services stopped ("node2 redis", "node1 sentinel").
	stopped map[string]bool
	// restarted holds the servers started since they were stopped and not
	// yet seen back: a data node in sync, a sentinel knowing its peers.
	restarted map[string]bool
	// linkDown is, per data node, how many INFO replies after its restart
	// still report the link to its master down (a sync in progress).
	linkDown map[string]int
	// lagAtPause is, per replica, how many INFO replies after the master's
	// CLIENT PAUSE report an offset below the master's; behind counts
	// them down.
	lagAtPause, behind map[string]int
	// peersLost is how many SENTINEL SENTINELS replies a restarted
	// sentinel lists no peer (as a real one, until the hello messages).
	peersLost map[string]int
	testkit.EventLog
}

var rollingNames = []string{"node1", "node2", "node3"}

func newRollingSim(t *testing.T) *rollingSim {
	t.Helper()
	s := &rollingSim{
		fakeCluster: newFakeCluster(t),
		follows:     map[string]string{"node1": "", "node2": "10.0.0.1", "node3": "10.0.0.1"},
		named:       "10.0.0.1",
		promote:     true,
		stopped:     map[string]bool{},
		restarted:   map[string]bool{},
		linkDown:    map[string]int{},
		lagAtPause:  map[string]int{},
		behind:      map[string]int{},
		peersLost:   map[string]int{},
	}
	// The cluster password, as up's useSecrets sets it: the config files
	// are rendered with it.
	s.SetPassword(testPassword)
	for i, n := range s.Nodes {
		name, h := n.Spec.Name, s.hosts[i]
		n.SetFacts(&provision.Facts{Init: "sysv", PkgManager: "apt", RedisVersion: "7.0.15", RedisEngine: "redis", RedisUser: true, RedisPid: 4100, SentinelPid: 4200},
			&provision.Manifest{Version: 2, Cluster: s.Inv.Name, Services: s.Services(n)}, s.Layout)
		// Every file as up wrote it, with node1 master.
		files, err := render.HostFiles(s.Inv, n.Spec, "10.0.0.1", "sysv")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			h.SetFile(f.Path, f.Data, f.Mode, f.Owner)
			n.Manifest.Created = append(n.Manifest.Created, f.Path)
		}
		s.serve(name, h)
		s.data[name].
			Reply("INFO", func([]string) any { return s.dataInfo(name) }).
			Reply("SET", func([]string) any {
				s.mu.Lock()
				defer s.mu.Unlock()
				if s.follows[name] != "" {
					return respError("READONLY You can't write against a read only replica.")
				}
				return status("OK")
			}).
			Reply("CLIENT PAUSE", func(a []string) any {
				s.mu.Lock()
				for r, k := range s.lagAtPause {
					s.behind[r] = k
				}
				s.mu.Unlock()
				s.Event(name + ": " + strings.Join(a, " "))
				return status("OK")
			}).
			Reply("CLIENT UNPAUSE", func(a []string) any { s.Event(name + ": " + strings.Join(a, " ")); return status("OK") }).
			Reply("CONFIG REWRITE", func(a []string) any { s.Event(name + ": " + strings.Join(a, " ")); return status("OK") }).
			Reply("REPLICAOF", func(a []string) any {
				if len(a) != 3 {
					return respError("ERR wrong number of arguments for 'replicaof' command")
				}
				s.mu.Lock()
				if strings.EqualFold(a[1], "no") {
					s.follows[name] = ""
				} else {
					s.follows[name] = a[1]
				}
				s.mu.Unlock()
				s.Event(name + ": " + strings.Join(a, " "))
				return status("OK")
			})
		s.sentinel[name].
			Reply("SENTINEL MASTER", func([]string) any { return sentinelMaster(s.namedMaster(), "master") }).
			Reply("SENTINEL GET-MASTER-ADDR-BY-NAME", func([]string) any { return []string{s.namedMaster(), "7000"} }).
			Reply("SENTINEL REPLICAS", func([]string) any { return s.sentinelReplicas() }).
			Reply("SENTINEL SENTINELS", func([]string) any { return s.sentinelPeers(name) }).
			Reply("SENTINEL FAILOVER", func(a []string) any {
				s.Event(name + " sentinel: " + strings.Join(a, " "))
				s.mu.Lock()
				defer s.mu.Unlock()
				if s.promote {
					// Sentinel sends node2 REPLICAOF NO ONE and node3
					// REPLICAOF node2; the old master is left alone
					// until it is converted (demote does it sooner).
					s.follows["node2"], s.follows["node3"], s.named = "", "10.0.0.2", "10.0.0.2"
				}
				return status("OK")
			})
	}
	return s
}

// serve makes h stop and start node's services, answer their pids while
// they run and refuse connections to them while they are stopped, and
// answer the binaries' switch with the inventory's build.
func (s *rollingSim) serve(node string, h *testHost) {
	for _, svc := range []struct{ what, name, pidFile, pid, port string }{
		{"redis", s.Layout.RedisService, s.Layout.RedisPid, "4100", "7000"},
		{"sentinel", s.Layout.SentinelService, s.Layout.SentinelPid, "4200", "8000"},
	} {
		key := node + " " + svc.what
		h.On(`\nlive_pid '?`+regexp.QuoteMeta(svc.pidFile)+`'? \S+\n$`, func(string, []byte) fakehost.Result {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.stopped[key] {
				return fakehost.Result{}
			}
			return fakehost.Result{Stdout: svc.pid + "\n"}
		})
		h.On(`^/etc/init\.d/`+regexp.QuoteMeta(svc.name)+` stop$`, func(string, []byte) fakehost.Result {
			s.mu.Lock()
			s.stopped[key] = true
			s.mu.Unlock()
			s.Event(node + ": stop " + svc.what)
			return fakehost.Result{}
		})
		h.On(`^/etc/init\.d/`+regexp.QuoteMeta(svc.name)+` start$`, func(string, []byte) fakehost.Result {
			s.mu.Lock()
			delete(s.stopped, key)
			s.restarted[key] = true
			if svc.what == "sentinel" {
				s.peersLost[node] = 1
			}
			s.mu.Unlock()
			s.Event(node + ": start " + svc.what)
			return fakehost.Result{}
		})
	}
	h.On(`redis-server'? --version\n?$`, func(string, []byte) fakehost.Result {
		return fakehost.Result{Stdout: "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=0\n"}
	})
	dial := h.DialFunc
	h.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, _ := net.SplitHostPort(addr)
		s.mu.Lock()
		down := port == "7000" && s.stopped[node+" redis"] || port == "8000" && s.stopped[node+" sentinel"]
		s.mu.Unlock()
		if down {
			return nil, fmt.Errorf("dial %s: connection refused", addr)
		}
		return dial(ctx, network, addr)
	}
}

func (s *rollingSim) namedMaster() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.named
}

func rollingAddr(node string) string { return "10.0.0." + strings.TrimPrefix(node, "node") }

// dataInfo is node's INFO from the state: a master lists the nodes that
// follow it; a replica reports its link (down right after a restart, as
// linkDown says) and its offset (behind the master's after a pause, as
// lagAtPause says). It notes when the run sees a restarted node back in
// sync, or a lagging replica at the master's offset.
func (s *rollingSim) dataInfo(node string) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	master := s.follows[node]
	if master == "" {
		var replicas []string
		for _, o := range rollingNames {
			if s.follows[o] == rollingAddr(node) {
				replicas = append(replicas, rollingAddr(o)+" online")
			}
		}
		return masterInfo(replicas...)
	}
	link, offset := "up", 1000
	switch key := node + " redis"; {
	case s.restarted[key] && s.linkDown[node] > 0:
		s.linkDown[node]--
		link = "down"
	case s.restarted[key]:
		delete(s.restarted, key)
		s.Event(node + ": seen back in sync")
	}
	if k, ok := s.behind[node]; ok {
		if k > 0 {
			s.behind[node]--
			offset = 990
		} else {
			delete(s.behind, node)
			s.Event(node + ": seen at the master's offset")
		}
	}
	return strings.Replace(replicaInfo(master, link), "slave_repl_offset:1000", fmt.Sprintf("slave_repl_offset:%d", offset), 1)
}

// sentinelReplicas is SENTINEL REPLICAS: every node but the named master,
// each a healthy replica of it.
func (s *rollingSim) sentinelReplicas() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []any
	for _, o := range rollingNames {
		if rollingAddr(o) == s.named {
			continue
		}
		r := sentinelReplica(rollingAddr(o))
		r[slices.Index(r, "master-host")+1] = s.named
		out = append(out, r)
	}
	return out
}

// sentinelPeers is node's SENTINEL SENTINELS: the two other sentinels,
// none right after a restart (peersLost).
func (s *rollingSim) sentinelPeers(node string) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.peersLost[node] > 0 {
		s.peersLost[node]--
		return []any{}
	}
	if key := node + " sentinel"; s.restarted[key] {
		delete(s.restarted, key)
		s.Event(node + " sentinel: seen knowing its peers again")
	}
	var peers []any
	for _, o := range rollingNames {
		if o != node {
			peers = append(peers, sentinelPeer(rollingAddr(o), "sentinel", 300))
		}
	}
	return peers
}

// upRun is a run of up past the configure step: node1 the master, the
// given servers needing a restart to apply a setting.
func (s *rollingSim) upRun(dryRun bool, data, sentinels []string) *upRun {
	r := &upRun{c: s.Cluster, inv: s.Inv, sum: &Summary{DryRun: dryRun}, master: s.Node("node1"),
		restarts: map[*provision.Node][]string{}, sentinelRestarts: map[*provision.Node][]string{},
		opts: Options{DryRun: dryRun, Progress: s.P, SyncTimeout: 2 * time.Second}}
	for _, n := range data {
		r.restarts[s.Node(n)] = []string{"io-threads"}
	}
	for _, n := range sentinels {
		r.sentinelRestarts[s.Node(n)] = []string{"sentinel announce-hostnames"}
	}
	return r
}

// rollingReads are the commands that read and change nothing: the
// connection's handshake and what observe and the waits ask.
var rollingReads = []string{"HELLO", "AUTH", "PING", "INFO", "CLIENT SETINFO", "CONFIG GET",
	"SENTINEL MASTER", "SENTINEL REPLICAS", "SENTINEL SENTINELS", "SENTINEL CKQUORUM", "SENTINEL GET-MASTER-ADDR-BY-NAME"}

// changingCommands returns, per server, the commands it received that are
// not reads.
func (s *rollingSim) changingCommands() []string {
	var out []string
	for _, n := range rollingNames {
		for _, f := range []*fakeRedis{s.data[n], s.sentinel[n]} {
			for _, c := range f.Commands() {
				if !slices.Contains(rollingReads, c) {
					out = append(out, f.Name()+": "+c)
				}
			}
		}
	}
	return out
}

// hostCalls returns every command the hosts ran and every file written,
// the reads of files left out.
func (s *rollingSim) hostCalls() []string {
	var out []string
	for _, h := range s.hosts {
		for _, c := range h.Calls() {
			if !strings.HasPrefix(c, "read-files ") {
				out = append(out, h.Name()+": "+c)
			}
		}
	}
	return out
}

// wantRollingChanges is what plan and up list for a rolling restart of
// every server.
var wantRollingChanges = []string{
	"node2: restart redis_7000 to apply io-threads",
	"node3: restart redis_7000 to apply io-threads",
	"node1: fail over away from node1 with SENTINEL FAILOVER, to restart it",
	"node1: restart redis_7000 to apply io-threads",
	"node1: restart sentinel_8000 to apply sentinel announce-hostnames",
	"node2: restart sentinel_8000 to apply sentinel announce-hostnames",
	"node3: restart sentinel_8000 to apply sentinel announce-hostnames",
}

func rollingCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// A rolling restart of every server: the replicas one at a time, each
// waited for until it is back in sync (node2 reports its link down once
// after its restart, and node3 is not touched before node2 is seen in
// sync); then the master moved by a graceful failover (writes paused,
// node3, behind at first, waited for until it reaches the master's offset,
// SENTINEL FAILOVER, node1 made node2's replica with REPLICAOF and CONFIG
// REWRITE before its writes resume) and restarted as a replica; then the
// sentinels one at a time, each waited for until it knows its peers again.
func TestRollingRestartOrder(t *testing.T) {
	s := newRollingSim(t)
	s.linkDown["node2"] = 1
	s.lagAtPause["node3"] = 2
	r := s.upRun(false, rollingNames, rollingNames)
	start := time.Now()
	if err := (rollingRestartStep{r}).Run(rollingCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Logf("rolling restart took %s", time.Since(start).Round(time.Millisecond))

	if got := changesText(r.sum); !slices.Equal(got, wantRollingChanges) {
		t.Errorf("changes:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(wantRollingChanges, "\n  "))
	}
	want := []string{
		"node2: stop redis", "node2: start redis", "node2: seen back in sync",
		"node3: stop redis", "node3: start redis", "node3: seen back in sync",
		"node1: CLIENT PAUSE 360000 WRITE", "node3: seen at the master's offset",
		"node1 sentinel: sentinel failover mymaster",
		"node1: REPLICAOF 10.0.0.2 7000", "node1: CONFIG REWRITE", "node1: client unpause",
		"node1: stop redis", "node1: start redis", "node1: seen back in sync",
		"node1: stop sentinel", "node1: start sentinel", "node1 sentinel: seen knowing its peers again",
		"node2: stop sentinel", "node2: start sentinel", "node2 sentinel: seen knowing its peers again",
		"node3: stop sentinel", "node3: start sentinel", "node3 sentinel: seen knowing its peers again",
	}
	if got := s.Events(); !slices.Equal(got, want) {
		t.Errorf("order:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if r.master != s.Node("node2") {
		t.Errorf("the run's master is %s after the failover, want node2", r.master.Spec.Name)
	}
	if len(r.sum.Notes) != 1 || !strings.HasPrefix(r.sum.Notes[0], "writes were held for ") || !strings.HasSuffix(r.sum.Notes[0], "s while the master moved from node1 to node2") {
		t.Errorf("notes %q, want how long writes were held", r.sum.Notes)
	}
}

// The old master is made a replica of the new one, and that written to
// its config, before its writes resume: in the commands node1's server
// received, REPLICAOF and CONFIG REWRITE come between CLIENT PAUSE and
// CLIENT UNPAUSE, and no write reaches it while it is still a master.
func TestRollingRestartDemotesTheOldMasterBeforeUnpausing(t *testing.T) {
	s := newRollingSim(t)
	r := s.upRun(false, []string{"node1"}, nil)
	if err := (rollingRestartStep{r}).Run(rollingCtx(t)); err != nil {
		t.Fatal(err)
	}
	got := s.data["node1"].Commands()
	var changing []string
	for _, c := range got {
		if !slices.Contains(rollingReads, c) {
			changing = append(changing, c)
		}
	}
	t.Logf("node1 received: %s", strings.Join(got, ", "))
	// Verify's probe (SET, refused with READONLY) comes once node1 is a
	// replica, after its restart.
	want := []string{"CLIENT PAUSE", "REPLICAOF", "CONFIG REWRITE", "CLIENT UNPAUSE", "SET"}
	if !slices.Equal(changing, want) {
		t.Errorf("node1 received %q (reads left out), want %q", changing, want)
	}
	if got := s.changingCommands(); !slices.Equal(got, []string{
		"node1 redis: CLIENT PAUSE", "node1 redis: REPLICAOF", "node1 redis: CONFIG REWRITE", "node1 redis: CLIENT UNPAUSE", "node1 redis: SET",
		"node1 sentinel: SENTINEL FAILOVER", "node3 redis: SET",
	}) {
		t.Errorf("commands that change something, per server: %q", got)
	}
	wantChanges := []string{
		"node1: fail over away from node1 with SENTINEL FAILOVER, to restart it",
		"node1: restart redis_7000 to apply io-threads",
	}
	if got := changesText(r.sum); !slices.Equal(got, wantChanges) {
		t.Errorf("changes %q, want %q", got, wantChanges)
	}
}

// A plan lists the same changes as up makes, in the same order, and
// sends no command at all: no server is asked anything and no host runs
// anything or has a file written.
func TestRollingRestartPlanChangesNothing(t *testing.T) {
	s := newRollingSim(t)
	r := s.upRun(true, rollingNames, rollingNames)
	if err := (rollingRestartStep{r}).Run(rollingCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := changesText(r.sum); !slices.Equal(got, wantRollingChanges) {
		t.Errorf("plan:\n  %s\nwant (as up does them):\n  %s", strings.Join(got, "\n  "), strings.Join(wantRollingChanges, "\n  "))
	}
	if got := s.changingCommands(); len(got) != 0 {
		t.Errorf("a plan sent %q", got)
	}
	if got := s.hostCalls(); len(got) != 0 {
		t.Errorf("a plan ran %q", got)
	}
	if got := s.Events(); len(got) != 0 {
		t.Errorf("a plan did %q", got)
	}
	if r.master != s.Node("node1") || len(r.sum.Notes) != 0 {
		t.Errorf("a plan moved the master to %s or noted %q", r.master.Spec.Name, r.sum.Notes)
	}
}

// With nothing to restart the step changes nothing: no command that
// changes anything reaches a server, no host runs anything.
func TestRollingRestartNothingToRestart(t *testing.T) {
	s := newRollingSim(t)
	r := s.upRun(false, nil, nil)
	if err := (rollingRestartStep{r}).Run(rollingCtx(t)); err != nil {
		t.Fatal(err)
	}
	if len(r.sum.Changes) != 0 || len(r.sum.Notes) != 0 {
		t.Errorf("changes %v, notes %v; want none", r.sum.Changes, r.sum.Notes)
	}
	if got := s.changingCommands(); len(got) != 0 {
		t.Errorf("sent %q", got)
	}
	if got := s.hostCalls(); len(got) != 0 {
		t.Errorf("ran %q", got)
	}
	if got := s.Events(); len(got) != 0 {
		t.Errorf("did %q", got)
	}
}

// A replica alone is restarted without moving the master: no pause, no
// failover.
func TestRollingRestartReplicaOnlyKeepsTheMaster(t *testing.T) {
	s := newRollingSim(t)
	r := s.upRun(false, []string{"node3"}, nil)
	if err := (rollingRestartStep{r}).Run(rollingCtx(t)); err != nil {
		t.Fatal(err)
	}
	want := []string{"node3: stop redis", "node3: start redis", "node3: seen back in sync"}
	if got := s.Events(); !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	if got := s.changingCommands(); !slices.Equal(got, []string{"node2 redis: SET", "node3 redis: SET"}) {
		t.Errorf("commands that change something: %q, want only Verify's probes of the replicas", got)
	}
	if r.master != s.Node("node1") {
		t.Errorf("master is %s, want node1 kept", r.master.Spec.Name)
	}
}

// A cluster that is not healthy is not restarted at all.
func TestRollingRestartRefusesAnUnhealthyCluster(t *testing.T) {
	s := newRollingSim(t)
	s.data["node3"].Reply("INFO", replicaInfo("10.0.0.1", "down"))
	r := s.upRun(false, rollingNames, rollingNames)
	err := (rollingRestartStep{r}).Run(rollingCtx(t))
	if err == nil || !strings.Contains(err.Error(), "refusing to restart anything until it is healthy") || !strings.Contains(err.Error(), "node3") {
		t.Fatalf("err = %v, want a refusal naming node3's problem", err)
	}
	if got := s.changingCommands(); len(got) != 0 {
		t.Errorf("sent %q", got)
	}
	if got := s.hostCalls(); len(got) != 0 {
		t.Errorf("ran %q", got)
	}
}

// When the promotion never comes, the run fails naming what it waited
// for, lifts the pause on the old master, and neither demotes nor
// restarts it. (moveMaster's own bound is at least 15 s, so the run's
// context ends the wait here.)
func TestRollingRestartPromotionNeverComes(t *testing.T) {
	s := newRollingSim(t)
	s.promote = false
	r := s.upRun(false, []string{"node1"}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 800*time.Millisecond)
	defer cancel()
	err := (rollingRestartStep{r}).Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "a replica of node1 to be promoted") {
		t.Fatalf("err = %v, want the wait for the promotion named", err)
	}
	t.Logf("error: %v", err)
	want := []string{"node1: CLIENT PAUSE 360000 WRITE", "node1 sentinel: sentinel failover mymaster", "node1: client unpause"}
	if got := s.Events(); !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	if got := s.changingCommands(); !slices.Equal(got, []string{"node1 redis: CLIENT PAUSE", "node1 redis: CLIENT UNPAUSE", "node1 sentinel: SENTINEL FAILOVER"}) {
		t.Errorf("commands that change something: %q", got)
	}
	if len(r.sum.Changes) != 0 || r.master != s.Node("node1") {
		t.Errorf("changes %v, master %s; want none made and node1 kept", r.sum.Changes, r.master.Spec.Name)
	}
}

// unreadableHost is a test host whose files cannot be read: a sentinel's
// config cannot be merged once it is stopped.
type unreadableHost struct{ *testHost }

func (h unreadableHost) ReadFiles(ctx context.Context, paths []string) (map[string][]byte, error) {
	return nil, fmt.Errorf("read %s: input/output error", strings.Join(paths, " "))
}

func (h unreadableHost) ReadFile(ctx context.Context, path string) ([]byte, error) {
	return nil, fmt.Errorf("read %s: input/output error", path)
}

// A sentinel whose new config cannot be written once it is stopped is
// started again as it was: the failed run names the error and leaves no
// sentinel down.
func TestRollingRestartSentinelStartedAgainWhenItsConfigFails(t *testing.T) {
	s := newRollingSim(t)
	n := s.Node("node2")
	n.Host = unreadableHost{n.Host.(*testHost)}
	r := s.upRun(false, nil, []string{"node2"})
	err := (rollingRestartStep{r}).Run(rollingCtx(t))
	if err == nil || !strings.Contains(err.Error(), "input/output error") || !strings.Contains(err.Error(), "was started again with its old config") {
		t.Fatalf("error %v, want the read error and that the sentinel was started again", err)
	}
	want := []string{"node2: stop sentinel", "node2: start sentinel"}
	if got := s.Events(); !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped["node2 sentinel"] {
		t.Error("node2's sentinel is left stopped")
	}
}

// moveMaster, when the old master refuses REPLICAOF: the error says so,
// CONFIG REWRITE is not sent, and the pause is lifted all the same.
func TestMoveMasterDemoteFailsLiftsThePause(t *testing.T) {
	s := newRollingSim(t)
	s.data["node1"].Reply("REPLICAOF", respError("ERR Command is not allowed"))
	r := s.upRun(false, []string{"node1"}, nil)
	_, _, err := r.moveMaster(rollingCtx(t), s.Node("node1"))
	if err == nil || !strings.Contains(err.Error(), "make node1 a replica of node2") {
		t.Fatalf("err = %v, want the demotion's failure", err)
	}
	want := []string{"node1 redis: CLIENT PAUSE", "node1 redis: REPLICAOF", "node1 redis: CLIENT UNPAUSE", "node1 sentinel: SENTINEL FAILOVER"}
	if got := s.changingCommands(); !slices.Equal(got, want) {
		t.Errorf("commands that change something: %q, want %q", got, want)
	}
	if len(r.sum.Notes) != 0 {
		t.Errorf("notes %q", r.sum.Notes)
	}
}

// With a short failover-timeout, the pause still outlasts the waits before
// it is lifted (catch-up and promotion), so that it cannot end on its own
// while the old master still takes writes.
func TestGracefulFailoverPauseOutlastsTheWaits(t *testing.T) {
	s := newRollingSim(t)
	s.Inv.Sentinel.FailoverTimeoutMS = 3000
	r := s.upRun(false, []string{"node1"}, nil)
	if err := (rollingRestartStep{r}).Run(rollingCtx(t)); err != nil {
		t.Fatal(err)
	}
	want := int((provision.CatchUpBound + provision.PromotionBound(s.Inv) + 5*time.Second) / time.Millisecond)
	if want <= 10000 {
		t.Fatalf("the waits' bound %d ms is no longer than the old pause", want)
	}
	if ev := fmt.Sprintf("node1: CLIENT PAUSE %d WRITE", want); !slices.Contains(s.Events(), ev) {
		t.Errorf("events %q, want %q", s.Events(), ev)
	}
}
