package provision

import (
	"context"
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redisctl/redisctl/provision/redisx"
)

// Analyze on recorded snapshots of a three-host cluster (node1..node3 at
// 10.0.0.1..3, redis on 7000, sentinels on 8000, quorum 2): what each day's
// trouble looks like, and the one answer to who is master.

var testExpectations = Expectations{RedisPort: 7000, SentinelPort: 8000, Sentinels: 3, Quorum: 2, LagThreshold: LagThresholdBytes}

// healthySnapshot is node1 master with node2 and node3 in sync, every
// sentinel naming node1 and seeing everyone.
func healthySnapshot() *Snapshot {
	s := &Snapshot{Cluster: "mymaster"}
	for i, name := range []string{"node1", "node2", "node3"} {
		ip := "10.0.0." + string(rune('1'+i))
		nh := &NodeHealth{Name: name, Address: ip, InventoryRole: "replica", Reachable: true,
			Redis: &RedisHealth{Running: true, Pid: 4100, Version: "7.0.15", Role: "replica", MasterAddr: "10.0.0.1:7000",
				LinkStatus: "up", Offset: 1000, ReplID: "8f3c", ReplOffset: 1000}}
		if i == 0 {
			nh.InventoryRole = "master"
			nh.Redis = &RedisHealth{Running: true, Pid: 4100, Version: "7.0.15", Role: "master", Offset: 1000, ReplID: "8f3c", ReplOffset: 1000,
				Replicas: []redisx.ReplicaLink{{IP: "10.0.0.2", Port: 7000, State: "online", Offset: 1000}, {IP: "10.0.0.3", Port: 7000, State: "online", Offset: 1000}}}
		}
		sh := &SentinelHealth{Running: true, Pid: 4200, Master: "10.0.0.1:7000", MasterFlags: "master",
			Replicas: []PeerView{healthyPeer("10.0.0.2:7000"), healthyPeer("10.0.0.3:7000")},
			CKQuorum: "OK 3 usable Sentinels. Quorum and failover authorization can be reached", QuorumOK: true}
		for _, o := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
			if o != ip {
				sh.Sentinels = append(sh.Sentinels, healthyPeer(o+":8000"))
			}
		}
		nh.Sentinel = sh
		s.Nodes = append(s.Nodes, nh)
	}
	return s
}

func healthyPeer(addr string) PeerView {
	return PeerView{Addr: addr, Flags: "slave", LastOKPingMS: 300, Reachable: true, MasterLinkState: "ok"}
}

func TestAnalyze(t *testing.T) {
	for _, tc := range []struct {
		name      string
		change    func(s *Snapshot)
		verdict   Verdict
		problems  []string // every problem, in order
		master    string
		noMaster  NoMaster
		why       string // contained in Why
		named     string
		claimants []string
	}{
		{
			name:      "healthy",
			change:    func(*Snapshot) {},
			verdict:   Healthy,
			master:    "node1",
			named:     "node1",
			claimants: []string{"node1"},
		},
		{
			name: "a sentinel down",
			change: func(s *Snapshot) {
				s.Nodes[2].Sentinel = &SentinelHealth{Error: "dial tcp 10.0.0.3:8000: connect: connection refused"}
				for _, nh := range s.Nodes[:2] {
					for i, p := range nh.Sentinel.Sentinels {
						if p.Addr == "10.0.0.3:8000" {
							nh.Sentinel.Sentinels[i] = PeerView{Addr: p.Addr, Flags: "s_down,sentinel,disconnected", LastOKPingMS: 42000}
						}
					}
				}
			},
			verdict: Degraded,
			problems: []string{
				"node1: sentinel cannot reach sentinel node3 (10.0.0.3:8000): flags s_down,sentinel,disconnected, last good ping 42000 ms ago",
				"node2: sentinel cannot reach sentinel node3 (10.0.0.3:8000): flags s_down,sentinel,disconnected, last good ping 42000 ms ago",
				"node3: sentinel is not answering on 10.0.0.3:8000: dial tcp 10.0.0.3:8000: connect: connection refused",
			},
			master:    "node1",
			named:     "node1",
			claimants: []string{"node1"},
		},
		{
			name: "a replica link down",
			change: func(s *Snapshot) {
				s.Nodes[0].Redis.Replicas = s.Nodes[0].Redis.Replicas[:1]
				s.Nodes[2].Redis.LinkStatus = "down"
			},
			verdict: Degraded,
			problems: []string{
				"node1: master has 1 of 2 replicas online",
				"node3: replication link to node1 is down",
			},
			master:    "node1",
			named:     "node1",
			claimants: []string{"node1"},
		},
		{
			name: "a replica lagging",
			change: func(s *Snapshot) {
				s.Nodes[0].Redis.Offset = 1000 + 2<<20
			},
			verdict: Degraded,
			problems: []string{
				"node2: replica lags 2097152 bytes behind the master (threshold 1048576)",
				"node3: replica lags 2097152 bytes behind the master (threshold 1048576)",
			},
			master:    "node1",
			named:     "node1",
			claimants: []string{"node1"},
		},
		{
			name: "sentinels disagreeing",
			change: func(s *Snapshot) {
				s.Nodes[2].Sentinel.Master = "10.0.0.2:7000"
			},
			verdict: Unusable,
			problems: []string{
				"sentinels disagree on the master: node1,node2 name node1; node3 name node2",
			},
			noMaster:  SentinelsDisagree,
			why:       "the sentinels disagree on the master (node1, node2 name 10.0.0.1:7000; node3 name 10.0.0.2:7000)",
			named:     "node1", // the one data node reporting role:master, as status shows it
			claimants: []string{"node1"},
		},
		{
			name: "two masters and no sentinel to settle it",
			change: func(s *Snapshot) {
				for _, nh := range s.Nodes {
					nh.Sentinel = &SentinelHealth{Error: "dial tcp: connect: connection refused"}
				}
				s.Nodes[1].Redis = &RedisHealth{Running: true, Role: "master", Offset: 1000}
			},
			verdict: Unusable,
			problems: []string{
				"2 nodes claim to be master: node1, node2; writes to the wrong one will be lost",
				"node1: sentinel is not answering on 10.0.0.1:8000: dial tcp: connect: connection refused",
				"node2: sentinel is not answering on 10.0.0.2:8000: dial tcp: connect: connection refused",
				"node3: sentinel is not answering on 10.0.0.3:8000: dial tcp: connect: connection refused",
			},
			noMaster:  SeveralMasters,
			why:       "node1, node2 all report role:master",
			claimants: []string{"node1", "node2"},
		},
		{
			name: "the master is down and the sentinels flag it",
			change: func(s *Snapshot) {
				s.Nodes[0].Redis = &RedisHealth{Error: "dial tcp 10.0.0.1:7000: connect: connection refused"}
				for _, nh := range s.Nodes {
					nh.Sentinel.MasterFlags = "s_down,o_down,master"
				}
				for _, nh := range s.Nodes[1:] {
					nh.Redis.LinkStatus = "down"
				}
			},
			verdict: Unusable,
			problems: []string{
				"no master: no reachable data node reports role:master",
				"node1: the sentinels name node1 (10.0.0.1:7000) as master but it does not report role:master",
				"node1: redis is not answering on 10.0.0.1:7000: dial tcp 10.0.0.1:7000: connect: connection refused",
				"node1: sentinel sees the master node1 as down (flags s_down,o_down,master)",
				"node2: replication link to node1 is down",
				"node2: sentinel sees the master node1 as down (flags s_down,o_down,master)",
				"node3: replication link to node1 is down",
				"node3: sentinel sees the master node1 as down (flags s_down,o_down,master)",
			},
			noMaster: NamedMasterDown,
			why:      "the sentinels name node1, whose redis does not answer: dial tcp 10.0.0.1:7000",
			named:    "node1",
		},
		{
			name: "a master that answers us but one sentinel flags down",
			change: func(s *Snapshot) {
				s.Nodes[2].Sentinel.MasterFlags = "s_down,master"
			},
			verdict: Degraded,
			problems: []string{
				"node3: sentinel sees the master node1 as down (flags s_down,master)",
			},
			master:    "node1",
			named:     "node1",
			claimants: []string{"node1"},
		},
		{
			name: "a stale master that came back",
			change: func(s *Snapshot) {
				// node2 was promoted; node1 restarted with its old config.
				for _, nh := range s.Nodes {
					nh.Sentinel.Master = "10.0.0.2:7000"
					nh.Sentinel.Replicas = []PeerView{healthyPeer("10.0.0.1:7000"), healthyPeer("10.0.0.3:7000")}
				}
				s.Nodes[0].Redis = &RedisHealth{Running: true, Role: "master", Offset: 0, ReplID: "1d0e"}
				s.Nodes[1].Redis = &RedisHealth{Running: true, Role: "master", Offset: 5000, ReplID: "77aa",
					Replicas: []redisx.ReplicaLink{{IP: "10.0.0.3", Port: 7000, State: "online", Offset: 5000}}}
				s.Nodes[2].Redis.MasterAddr, s.Nodes[2].Redis.Offset = "10.0.0.2:7000", 5000
			},
			verdict: Unusable,
			problems: []string{
				"2 nodes claim to be master: node1, node2; writes to the wrong one will be lost",
				"node2: master has 1 of 2 replicas online",
			},
			master:    "node2",
			named:     "node2",
			claimants: []string{"node1", "node2"},
		},
		{
			name: "only one sentinel answers",
			change: func(s *Snapshot) {
				for _, nh := range s.Nodes[1:] {
					nh.Sentinel = &SentinelHealth{Error: "i/o timeout"}
				}
			},
			verdict: Degraded,
			problems: []string{
				"node2: sentinel is not answering on 10.0.0.2:8000: i/o timeout",
				"node3: sentinel is not answering on 10.0.0.3:8000: i/o timeout",
			},
			noMaster:  NoQuorum,
			why:       "only 1 of 3 sentinels answer (node1), fewer than the quorum of 2",
			named:     "node1",
			claimants: []string{"node1"},
		},
		{
			name: "the sentinels name a host the inventory lacks",
			change: func(s *Snapshot) {
				for _, nh := range s.Nodes {
					nh.Sentinel.Master = "10.0.0.9:7000"
				}
			},
			verdict: Unusable,
			problems: []string{
				"10.0.0.9:7000: the sentinels name 10.0.0.9:7000 (10.0.0.9:7000) as master but it does not report role:master",
				"node2: replica follows node1 but the master is 10.0.0.9:7000 (10.0.0.9:7000)",
				"node3: replica follows node1 but the master is 10.0.0.9:7000 (10.0.0.9:7000)",
			},
			noMaster:  NamedNotInventory,
			why:       "the sentinels (node1, node2, node3) name 10.0.0.9:7000 as master, which is not a host of the inventory",
			named:     "10.0.0.9:7000",
			claimants: []string{"node1"},
		},
		{
			name: "a host unreachable",
			change: func(s *Snapshot) {
				s.Nodes[1] = &NodeHealth{Name: "node2", Address: "10.0.0.2", InventoryRole: "replica", Error: "no route to host", Redis: &RedisHealth{}}
				s.Nodes[0].Redis.Replicas = s.Nodes[0].Redis.Replicas[1:]
			},
			verdict: Unusable,
			problems: []string{
				"node1: master has 1 of 2 replicas online",
				"node2: host unreachable: no route to host",
			},
			master: "node1", // two sentinels answer: the quorum

			named:     "node1",
			claimants: []string{"node1"},
		},
		{
			name: "before any sentinel runs, the one master",
			change: func(s *Snapshot) {
				for _, nh := range s.Nodes {
					nh.Sentinel = &SentinelHealth{Error: "connection refused"}
				}
			},
			verdict:   Degraded,
			master:    "node1",
			named:     "node1",
			claimants: []string{"node1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := healthySnapshot()
			tc.change(s)

			a := Analyze(s, testExpectations)

			var lines []string
			for _, p := range a.Problems {
				lines = append(lines, p.String())
			}
			if a.Verdict != tc.verdict {
				t.Errorf("verdict %s, want %s", a.Verdict, tc.verdict)
			}
			if tc.problems != nil && !slices.Equal(lines, tc.problems) {
				t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(lines, "\n  "), strings.Join(tc.problems, "\n  "))
			}
			if a.Master != tc.master || a.NoMaster != tc.noMaster {
				t.Errorf("master %q (%s: %s), want %q (%s)", a.Master, a.NoMaster, a.Why, tc.master, tc.noMaster)
			}
			if !strings.Contains(a.Why, tc.why) || (tc.master != "") != (a.Why == "") {
				t.Errorf("why %q, want it to contain %q", a.Why, tc.why)
			}
			if a.Named != tc.named || !slices.Equal(a.Claimants, tc.claimants) {
				t.Errorf("named %q, claimants %v; want %q, %v", a.Named, a.Claimants, tc.named, tc.claimants)
			}
		})
	}
}

// The same snapshot always gives the same analysis, and analysing it
// changes nothing in it.
func TestAnalyzeIsPure(t *testing.T) {
	s := healthySnapshot()
	s.Nodes[0].Redis.Offset = 1000 + 2<<20
	before, _ := json.Marshal(s)
	a, b := Analyze(s, testExpectations), Analyze(s, testExpectations)
	after, _ := json.Marshal(s)
	if string(before) != string(after) {
		t.Errorf("Analyze changed the snapshot")
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Errorf("two analyses of one snapshot differ:\n%s\n%s", ja, jb)
	}
}

// Verdicts and severities read as the lowercase words status prints and
// its JSON carries.
func TestVerdictAndSeverityText(t *testing.T) {
	h := NewHealth(healthySnapshot(), Analysis{Verdict: Degraded, Problems: []Problem{{Host: "node3", Severity: SeverityUnusable, Message: "x"}}})
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"verdict":"degraded"`, `"severity":"unusable"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
	if strings.Contains(string(b), "8f3c") {
		t.Errorf("JSON carries fields the README does not list: %s", b)
	}
	for v, want := range map[Verdict]string{Healthy: "healthy", Degraded: "degraded", Unusable: "unusable", 0: ""} {
		if v.String() != want {
			t.Errorf("Verdict(%d) = %q, want %q", v, v.String(), want)
		}
	}
}

// up's choice of master, from analysed snapshots: the sentinels' master
// even when it is down (checkStaleMaster decides whether to start it); a
// stale master that came back is not chosen; disagreement and a master
// outside the inventory stop up.
func TestLiveMaster(t *testing.T) {
	inv := testInventory(t)
	c := &Cluster{Inv: inv, Layout: inv.Layout()}
	for i := range inv.Hosts {
		c.Nodes = append(c.Nodes, &Node{Spec: &inv.Hosts[i]})
	}
	for _, tc := range []struct {
		name         string
		change       func(s *Snapshot)
		master, note string
		err          string
	}{
		{name: "healthy", change: func(*Snapshot) {}, master: "node1"},
		{
			name: "a stale master that came back",
			change: func(s *Snapshot) {
				for _, nh := range s.Nodes {
					nh.Sentinel.Master = "10.0.0.2:7000"
				}
				s.Nodes[1].Redis = &RedisHealth{Running: true, Role: "master"}
			},
			master: "node2",
			note:   "inventory names node1 as master; the sentinels have promoted node2 since; keeping node2",
		},
		{
			name: "the sentinels' master is down",
			change: func(s *Snapshot) {
				s.Nodes[0].Redis = &RedisHealth{Error: "connection refused"}
			},
			master: "node1",
		},
		{
			name: "sentinels disagreeing",
			change: func(s *Snapshot) {
				s.Nodes[2].Sentinel.Master = "10.0.0.2:7000"
			},
			err: "the sentinels disagree on the master (node1, node2 name 10.0.0.1:7000; node3 name 10.0.0.2:7000); refusing to guess: wait for the sentinels to converge or check `redisctl status`",
		},
		{
			name: "a master outside the inventory",
			change: func(s *Snapshot) {
				for _, nh := range s.Nodes {
					nh.Sentinel.Master = "10.0.0.9:7000"
				}
			},
			err: "the sentinels (node1, node2, node3) name 10.0.0.9:7000 as master, which is not a host of the inventory; fix the inventory or the cluster by hand first",
		},
		{
			name: "no sentinel, another node is the running master",
			change: func(s *Snapshot) {
				for _, nh := range s.Nodes {
					nh.Sentinel = &SentinelHealth{Error: "connection refused"}
				}
				s.Nodes[0].Redis.Role, s.Nodes[2].Redis.Role = "replica", "master"
			},
			master: "node3",
			note:   "inventory names node1 as master; node3 is the running master; keeping node3",
		},
		{
			name: "no sentinel, two masters",
			change: func(s *Snapshot) {
				for _, nh := range s.Nodes {
					nh.Sentinel = &SentinelHealth{Error: "connection refused"}
				}
				s.Nodes[2].Redis.Role = "master"
			},
			err: "node1, node3 all run as master and no sentinel answers to say which is current; refusing to guess: stop the stale ones or make them replicas by hand",
		},
		{
			name: "nothing running yet",
			change: func(s *Snapshot) {
				for _, nh := range s.Nodes {
					nh.Sentinel = &SentinelHealth{Error: "connection refused"}
					nh.Redis = &RedisHealth{Error: "connection refused"}
				}
			},
			master: "node1",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := healthySnapshot()
			tc.change(s)
			m, note, err := c.LiveMaster(s, Analyze(s, c.Expectations()))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v\nwant %s", err, tc.err)
				}
				return
			}
			if err != nil || m == nil || m.Spec.Name != tc.master || note != tc.note {
				t.Fatalf("liveMaster = %v, %q, %v; want %s, %q", m, note, err, tc.master, tc.note)
			}
		})
	}
}

// A sentinel that accepts the connection and never answers is recorded as
// not answering within the observation's timeout; it does not hold up the
// snapshot.
func TestObserveDoesNotHangOnASilentSentinel(t *testing.T) {
	fc := newFakeCluster(t)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	dial := fc.hosts[2].DialFunc
	fc.hosts[2].DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == "10.0.0.3:8000" {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", silent.Addr().String())
		}
		return dial(ctx, network, addr)
	}

	start := time.Now()
	s := fc.observe(t.Context(), 300*time.Millisecond, nil)

	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("observe took %s with a 300ms timeout", d)
	}
	sh := s.Node("node3").Sentinel
	if sh == nil || sh.Running || sh.Error == "" {
		t.Fatalf("node3's sentinel: %+v, want it recorded as not answering", sh)
	}
	a := Analyze(s, fc.Expectations())
	if a.Master != "node1" || a.Verdict != Degraded {
		t.Errorf("master %q verdict %s, want node1 degraded; problems %v", a.Master, a.Verdict, a.Problems)
	}
}
