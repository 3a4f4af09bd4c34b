package cmd

import (
	"strings"
	"testing"

	"github.com/redisctl/redisctl/provision"
	"github.com/redisctl/redisctl/provision/redisx"
)

// TestHealthTableFitsIn80Columns renders the widest values a row can hold.
func TestHealthTableFitsIn80Columns(t *testing.T) {
	h := &provision.Health{Cluster: "mymaster", Master: "redis-node-1", Verdict: provision.Degraded}
	h.Nodes = []*provision.NodeHealth{
		{Name: "redis-node-1", Address: "255.255.255.255", InventoryRole: "replica", Reachable: true,
			Redis: &provision.RedisHealth{Running: true, Pid: 4194304, UptimeSeconds: 99 * 86400, Version: "7.0.15", Role: "master",
				Replicas: []redisx.ReplicaLink{{State: "online"}, {State: "wait_bgsave"}}},
			Sentinel: &provision.SentinelHealth{Running: true, Sentinels: []provision.PeerView{{Reachable: false}, {Reachable: false}}}},
		{Name: "redis-node-2", Address: "255.255.255.254", InventoryRole: "master", Reachable: true,
			Redis: &provision.RedisHealth{Running: true, Pid: 4194303, UptimeSeconds: 3599, Version: "7.0.15", Role: "replica", LinkStatus: "up", LagBytes: 1 << 30}},
		{Name: "redis-node-3", Address: "255.255.255.253", InventoryRole: "replica", Reachable: false, Redis: &provision.RedisHealth{}},
	}
	var b strings.Builder
	writeHealthTable(&b, h)
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "note: ") {
			continue // problem and note lines may wrap
		}
		if len(line) > 80 {
			t.Errorf("line of %d columns: %q", len(line), line)
		}
	}
	if !strings.Contains(b.String(), "note: redis-node-1 is master now; the inventory says replica") {
		t.Errorf("no note on the role that differs from the inventory:\n%s", b.String())
	}
}
