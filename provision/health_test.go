package provision

import (
	"errors"
	"strings"
	"testing"
)

// CheckHealth against fake nodes and sentinels: the verdict and the
// problems a person reads.

func TestCheckHealthHealthy(t *testing.T) {
	fc := newFakeCluster(t)

	h := fc.CheckHealth(t.Context(), nil)

	if h.Verdict != Healthy || len(h.Problems) != 0 {
		t.Fatalf("verdict %q, problems:\n%s", h.Verdict, problemLines(h))
	}
	if h.Master != "node1" || h.Cluster != "mymaster" {
		t.Errorf("master %q cluster %q, want node1 mymaster", h.Master, h.Cluster)
	}
	for _, n := range h.Nodes {
		if !n.Reachable || !n.Redis.Running || n.Sentinel == nil || !n.Sentinel.Running || !n.Sentinel.QuorumOK {
			t.Errorf("%s: %+v redis %+v sentinel %+v", n.Name, n, n.Redis, n.Sentinel)
			continue
		}
		if n.Sentinel.Master != "10.0.0.1:7000" || len(n.Sentinel.Sentinels) != 2 || len(n.Sentinel.Replicas) != 2 || n.Sentinel.Pid != 4200 {
			t.Errorf("%s: sentinel view %+v", n.Name, n.Sentinel)
		}
	}
	if r := h.Nodes[0].Redis; r.Role != "master" || len(r.Replicas) != 2 || r.Pid != 4100 || r.Version != "7.0.15" {
		t.Errorf("node1 redis: %+v", r)
	}
	if r := h.Nodes[2].Redis; r.Role != "replica" || r.MasterAddr != "10.0.0.1:7000" || r.LinkStatus != "up" || r.LagBytes != 0 {
		t.Errorf("node3 redis: %+v", r)
	}
}

func TestCheckHealthProblems(t *testing.T) {
	for _, tc := range []struct {
		name       string
		breakIt    func(fc *fakeCluster)
		connErrs   map[string]error
		verdict    Verdict
		problems   []string // "host: message" prefixes, in order; nil: only check want
		want       string   // one problem line contains this
		wantMaster string
	}{
		{
			name: "sentinel cannot reach its peer",
			breakIt: func(fc *fakeCluster) {
				fc.sentinel["node1"].Reply("SENTINEL SENTINELS", []any{
					sentinelPeer("10.0.0.2", "sentinel", 300),
					sentinelPeer("10.0.0.3", "s_down,sentinel,disconnected", 42000),
				})
			},
			verdict: Degraded,
			problems: []string{
				"node1: sentinel cannot reach sentinel node3 (10.0.0.3:8000): flags s_down,sentinel,disconnected, last good ping 42000 ms ago",
			},
			wantMaster: "node1",
		},
		{
			name: "two nodes claim to be master",
			breakIt: func(fc *fakeCluster) {
				fc.data["node2"].Reply("INFO", masterInfo())
			},
			verdict: Unusable,
			problems: []string{
				"2 nodes claim to be master: node1, node2; writes to the wrong one will be lost",
			},
			wantMaster: "node1",
		},
		{
			name: "sentinels disagree",
			breakIt: func(fc *fakeCluster) {
				fc.sentinel["node3"].Reply("SENTINEL MASTER", sentinelMaster("10.0.0.2", "master"))
			},
			verdict: Unusable,
			want:    "sentinels disagree on the master: node1,node2 name node1; node3 name node2",
		},
		{
			name: "replica link down",
			breakIt: func(fc *fakeCluster) {
				fc.data["node1"].Reply("INFO", masterInfo("10.0.0.2 online"))
				fc.data["node3"].Reply("INFO", replicaInfo("10.0.0.1", "down"))
			},
			verdict: Degraded,
			problems: []string{
				"node1: master has 1 of 2 replicas online",
				"node3: replication link to node1 is down",
			},
			wantMaster: "node1",
		},
		{
			name:     "host unreachable",
			connErrs: map[string]error{"node2": errors.New("node2: dial tcp 10.0.0.2:22: connect: no route to host")},
			breakIt: func(fc *fakeCluster) {
				fc.Node("node2").Host = nil
			},
			verdict: Unusable,
			want:    "node2: host unreachable: node2: dial tcp 10.0.0.2:22: connect: no route to host",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := newFakeCluster(t)
			tc.breakIt(fc)

			h := fc.CheckHealth(t.Context(), tc.connErrs)

			lines := problemLines(h)
			if h.Verdict != tc.verdict {
				t.Errorf("verdict %q, want %q; problems:\n%s", h.Verdict, tc.verdict, lines)
			}
			if tc.problems != nil && lines != strings.Join(tc.problems, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", lines, strings.Join(tc.problems, "\n"))
			}
			if tc.want != "" && !strings.Contains(lines, tc.want) {
				t.Errorf("problems:\n%s\nwant one with %q", lines, tc.want)
			}
			if tc.wantMaster != "" && h.Master != tc.wantMaster {
				t.Errorf("master %q, want %q", h.Master, tc.wantMaster)
			}
		})
	}
}

func problemLines(h *Health) string {
	var lines []string
	for _, p := range h.Problems {
		lines = append(lines, p.String())
	}
	return strings.Join(lines, "\n")
}

// A host that cannot be reached is one problem; the sentinels on the other
// hosts know the right number of peers and must not be blamed for it.
func TestCheckHealthUnreachableHostIsOneProblem(t *testing.T) {
	fc := newFakeCluster(t)
	fc.Node("node2").Host = nil
	h := fc.CheckHealth(t.Context(), map[string]error{"node2": errors.New("node2: dial tcp 10.0.0.2:22: connect: no route to host")})
	if lines, want := problemLines(h), "node2: host unreachable: node2: dial tcp 10.0.0.2:22: connect: no route to host"; lines != want {
		t.Errorf("problems:\n%s\nwant:\n%s", lines, want)
	}
}
