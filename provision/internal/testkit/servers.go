package testkit

import (
	"fmt"
	"testing"

	"github.com/redisctl/redisctl/provision/inventory"
)

// Servers is the Redis side of a healthy three-node cluster (the nodes of
// Inventory): its data nodes and sentinels are FakeRedis servers, with
// Password, reached through each fake host's Dial. node1 is master with
// node2 and node3 online, every sentinel names node1, knows the two other
// sentinels and both replicas, and CKQUORUM is OK. Tests change replies to
// break it.
type Servers struct {
	Data     map[string]*FakeRedis // by node name
	Sentinel map[string]*FakeRedis // by node name
	Hosts    []*Host               // inventory order, FreshFacts
}

// NewServers starts the servers of inv's hosts (Inventory's, or hosts of
// the same names and addresses) and returns them with a fresh host per
// node whose DialFunc reaches them. They stop at the end of the test.
func NewServers(t testing.TB, inv *inventory.Inventory) *Servers {
	t.Helper()
	s := &Servers{Data: map[string]*FakeRedis{}, Sentinel: map[string]*FakeRedis{}}
	byAddr := map[string]*FakeRedis{}
	for _, h := range inv.Hosts {
		d := NewFakeRedis(t, h.Name+" redis", Password)
		sn := NewFakeRedis(t, h.Name+" sentinel", Password)
		s.Data[h.Name], s.Sentinel[h.Name] = d, sn
		byAddr[fmt.Sprintf("%s:%d", h.Address, inv.Redis.Port)] = d
		byAddr[fmt.Sprintf("%s:%d", h.Address, inv.Sentinel.Port)] = sn
	}
	for _, h := range inv.Hosts {
		th := NewHost(h.Name, FreshFacts)
		th.DialFunc = DialTable(byAddr)
		s.Hosts = append(s.Hosts, th)
	}

	s.Data["node1"].Reply("INFO", MasterInfo("10.0.0.2 online", "10.0.0.3 online"))
	for _, r := range []string{"node2", "node3"} {
		s.Data[r].Reply("INFO", ReplicaInfo("10.0.0.1", "up")).
			Reply("SET", RespError("READONLY You can't write against a read only replica."))
	}
	for _, n := range inv.Hosts {
		var peers []any
		for _, o := range inv.Hosts {
			if o.Name != n.Name {
				peers = append(peers, SentinelPeer(o.Address, "sentinel", 300))
			}
		}
		s.Sentinel[n.Name].
			Reply("SENTINEL MASTER", SentinelMaster("10.0.0.1", "master")).
			Reply("SENTINEL REPLICAS", []any{SentinelReplica("10.0.0.2"), SentinelReplica("10.0.0.3")}).
			Reply("SENTINEL SENTINELS", peers).
			Reply("SENTINEL CKQUORUM", Status("OK 3 usable Sentinels. Quorum and failover authorization can be reached")).
			Reply("SENTINEL GET-MASTER-ADDR-BY-NAME", []string{"10.0.0.1", "7000"}).
			Reply("INFO", "# Server\r\nredis_version:7.0.15\r\nprocess_id:4200\r\nredis_mode:sentinel\r\n")
	}
	return s
}
