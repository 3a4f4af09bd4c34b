package provision

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisctl/redisctl/provision/redisx"
)

// Snapshot is one observation of the cluster: what every data node and
// every sentinel answered, asked on all hosts at once. It holds facts only;
// Analyze decides what they mean.
type Snapshot struct {
	Cluster string
	Taken   time.Time
	Nodes   []*NodeHealth // inventory order, one per inventory host
}

// NodeHealth is what one host reported.
type NodeHealth struct {
	Name          string          `json:"name"`
	Address       string          `json:"address"`
	InventoryRole string          `json:"inventory_role"`
	Reachable     bool            `json:"reachable"`
	Error         string          `json:"error,omitempty"`
	Redis         *RedisHealth    `json:"redis"`
	Sentinel      *SentinelHealth `json:"sentinel,omitempty"` // nil: the host runs none, or cannot be reached
	// TLS is what a TLS cluster's links on this host are; nil without TLS.
	TLS *TLSHealth `json:"tls,omitempty"`
}

// TLSHealth says which of a host's links speak TLS, as redisctl found
// them, and when the certificate its data node presented ends.
type TLSHealth struct {
	// Client: redisctl reached the data node over TLS and verified its
	// certificate against the cluster CA and the host's address.
	Client bool `json:"client"`
	// Replication: the data node has tls-replication yes, so it reaches its
	// master (and sentinels reach it) over TLS.
	Replication bool `json:"replication"`
	// Sentinel: redisctl reached the sentinel over TLS, verified.
	Sentinel    bool      `json:"sentinel"`
	CertExpires time.Time `json:"cert_expires,omitzero"`
	// PlaintextPort is the plaintext port the data node keeps open beside
	// its TLS one (tls.plaintext; CONFIG GET port), 0 when closed.
	PlaintextPort int `json:"plaintext_port,omitempty"`
}

// RedisHealth is a data node's INFO server and replication, reduced to
// what matters.
type RedisHealth struct {
	Running       bool                 `json:"running"` // it answered INFO
	Error         string               `json:"error,omitempty"`
	Pid           int                  `json:"pid,omitempty"`
	UptimeSeconds int64                `json:"uptime_seconds,omitempty"`
	Version       string               `json:"version,omitempty"`
	Engine        string               `json:"engine,omitempty"` // "redis" or "valkey"
	Role          string               `json:"role,omitempty"`   // "master" or "replica"
	MasterAddr    string               `json:"master_addr,omitempty"`
	LinkStatus    string               `json:"link_status,omitempty"`
	Offset        int64                `json:"offset"`                        // a replica's slave_repl_offset, a master's master_repl_offset
	LagBytes      int64                `json:"lag_bytes,omitempty"`           // master offset minus this replica's (set from the analysis)
	LinkAgeSec    *int64               `json:"last_io_seconds_ago,omitempty"` // nil: no link (Redis says -1)
	Replicas      []redisx.ReplicaLink `json:"replicas,omitempty"`
	// ReplID and ReplOffset are master_replid and master_repl_offset: how
	// far this node's dataset goes in the replication stream.
	ReplID     string `json:"-"`
	ReplOffset int64  `json:"-"`
	// tlsReplication: CONFIG GET tls-replication said yes, and
	// plaintextPort is CONFIG GET port (asked on a TLS cluster only).
	tlsReplication bool
	plaintextPort  int
}

// SentinelHealth is one sentinel's view of the monitored master.
type SentinelHealth struct {
	Running     bool       `json:"running"` // it answered SENTINEL MASTER
	Error       string     `json:"error,omitempty"`
	Pid         int        `json:"pid,omitempty"`
	Version     string     `json:"version,omitempty"`
	Engine      string     `json:"engine,omitempty"`
	Master      string     `json:"master,omitempty"` // ip:port it names
	MasterFlags string     `json:"master_flags,omitempty"`
	Epoch       int64      `json:"config_epoch"`
	Replicas    []PeerView `json:"replicas,omitempty"`
	Sentinels   []PeerView `json:"sentinels,omitempty"`
	CKQuorum    string     `json:"ckquorum,omitempty"`
	QuorumOK    bool       `json:"quorum_ok"`
}

// PeerView is a replica or another sentinel as one sentinel sees it.
// Reachable is the sentinel's own judgement: no down flag, and a good ping
// within its down-after-milliseconds.
type PeerView struct {
	Addr            string `json:"addr"`
	Flags           string `json:"flags"`
	LastOKPingMS    int64  `json:"last_ok_ping_ms"`
	Reachable       bool   `json:"reachable"`
	MasterLinkState string `json:"master_link_status,omitempty"`
}

// observeCallTimeout bounds each server's answer, so a paused or
// overloaded server costs one short wait, never a hang.
const observeCallTimeout = 3 * time.Second

// Observe takes a snapshot of every data node and sentinel, all hosts at
// once, each asked once (a sentinel's five questions go in one pipeline).
// A host without a connection is recorded unreachable; a server that does
// not answer is recorded with its error.
func (c *Cluster) Observe(ctx context.Context) *Snapshot {
	return c.observe(ctx, observeCallTimeout, nil)
}

// observe is Observe with the per-host timeout chosen by the caller, and
// the data node of skip left out (recorded as not asked): a wait polling
// for a new master need not ask the old one, which may be paused.
func (c *Cluster) observe(ctx context.Context, timeout time.Duration, skip *Node) *Snapshot {
	s := &Snapshot{Cluster: c.Inv.Name, Taken: time.Now().UTC()}
	var wg sync.WaitGroup
	late := fmt.Sprintf("no answer within %s", timeout)
	for _, n := range c.Nodes {
		nh := &NodeHealth{Name: n.Spec.Name, Address: n.Spec.Address, InventoryRole: string(n.Spec.Role), Redis: &RedisHealth{}}
		s.Nodes = append(s.Nodes, nh)
		if n.Host == nil {
			nh.Error = "unreachable"
			continue
		}
		nh.Reachable = true
		if n == skip {
			nh.Redis.Error = "not asked"
		} else {
			wg.Add(1)
			go func() {
				defer wg.Done()
				nh.Redis = answerWithin(ctx, timeout, func(ctx context.Context) *RedisHealth { return c.observeData(ctx, n) }, &RedisHealth{Error: late})
			}()
		}
		if n.Spec.Sentinel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				nh.Sentinel = answerWithin(ctx, timeout, func(ctx context.Context) *SentinelHealth { return c.observeSentinel(ctx, n) }, &SentinelHealth{Error: late})
			}()
		}
	}
	wg.Wait()
	if c.TLS != nil {
		for i, n := range c.Nodes {
			nh := s.Nodes[i]
			t := &TLSHealth{Client: nh.Redis.Running && c.SpeaksTLS(n, false), Replication: nh.Redis.tlsReplication,
				Sentinel: nh.Sentinel != nil && nh.Sentinel.Running && c.SpeaksTLS(n, true)}
			if t.Client && nh.Redis.plaintextPort != c.Inv.Redis.Port {
				t.PlaintextPort = nh.Redis.plaintextPort
			}
			t.CertExpires, _ = c.certExpiry(c.DataAddr(n))
			nh.TLS = t
		}
	}
	return s
}

// answerWithin returns what ask found, or late when it has not answered
// within timeout. go-redis does not heed the context while it sets up a
// connection (AUTH runs under the client's own read timeout), so the wait
// is cut here and a late call is left to end on its own, its answer
// dropped.
func answerWithin[T any](ctx context.Context, timeout time.Duration, ask func(context.Context) T, late T) T {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	done := make(chan T, 1)
	go func() {
		defer cancel()
		done <- ask(ctx)
	}()
	select {
	case v := <-done:
		return v
	case <-ctx.Done():
		return late
	}
}

// noteConnectErrors puts each unreachable host's connect error in place
// of the bare "unreachable".
func (s *Snapshot) noteConnectErrors(errs map[string]error) {
	for _, nh := range s.Nodes {
		if err := errs[nh.Name]; err != nil && !nh.Reachable {
			nh.Error = err.Error()
		}
	}
}

// Node returns the observation of the named node, or nil.
func (s *Snapshot) Node(name string) *NodeHealth {
	for _, nh := range s.Nodes {
		if nh.Name == name {
			return nh
		}
	}
	return nil
}

func (c *Cluster) observeData(ctx context.Context, n *Node) *RedisHealth {
	r := &RedisHealth{}
	var s string
	var err error
	if c.TLS == nil {
		s, err = c.Data(n).Info(ctx, "server", "replication").Result()
	} else {
		// One round trip for both.
		var info *redis.StringCmd
		var tlsRepl, port *redis.MapStringStringCmd
		_, err = c.Data(n).Pipelined(ctx, func(p redis.Pipeliner) error {
			info = p.Info(ctx, "server", "replication")
			tlsRepl = p.ConfigGet(ctx, "tls-replication")
			port = p.ConfigGet(ctx, "port")
			return nil
		})
		if err == nil {
			s = info.Val()
			r.tlsReplication = tlsRepl.Val()["tls-replication"] == "yes"
			r.plaintextPort, _ = strconv.Atoi(port.Val()["port"])
		}
	}
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.Running = true
	info := redisx.ParseInfo(s)
	r.Pid = int(info.Int("process_id"))
	r.UptimeSeconds = info.Int("uptime_in_seconds")
	b := runningBuild(info)
	r.Version, r.Engine = b.Version, b.Engine
	r.Role = info["role"]
	r.ReplID, r.ReplOffset = info["master_replid"], info.Int("master_repl_offset")
	if r.Role == "slave" {
		r.Role = "replica"
		r.MasterAddr = net.JoinHostPort(info["master_host"], info["master_port"])
		r.LinkStatus = info["master_link_status"]
		r.Offset = info.Int("slave_repl_offset")
		if age := info.Int("master_last_io_seconds_ago"); age >= 0 {
			r.LinkAgeSec = &age
		}
	} else {
		r.Offset = r.ReplOffset
		r.Replicas = info.Replicas()
	}
	return r
}

func (c *Cluster) observeSentinel(ctx context.Context, n *Node) *SentinelHealth {
	s := &SentinelHealth{}
	cl := c.Sentinel(n)
	name := c.Inv.Name
	// The typed commands of redis.SentinelClient, in one pipeline (which
	// SentinelClient does not offer).
	master := redis.NewMapStringStringCmd(ctx, "sentinel", "master", name)
	replicas := redis.NewMapStringStringSliceCmd(ctx, "sentinel", "replicas", name)
	sentinels := redis.NewMapStringStringSliceCmd(ctx, "sentinel", "sentinels", name)
	ckquorum := redis.NewStringCmd(ctx, "sentinel", "ckquorum", name)
	pipe := cl.Pipeline()
	for _, cmd := range []redis.Cmder{master, replicas, sentinels, ckquorum} {
		_ = pipe.Process(ctx, cmd)
	}
	info := pipe.Info(ctx, "server")
	_, _ = pipe.Exec(ctx) // each command keeps its own error

	mp, err := master.Result()
	if err != nil {
		s.Error = err.Error()
		return s
	}
	s.Running = true
	s.Master = net.JoinHostPort(mp["ip"], mp["port"])
	s.MasterFlags = mp["flags"]
	s.Epoch, _ = strconv.ParseInt(mp["config-epoch"], 10, 64)
	downAfter := int64(c.Inv.Sentinel.DownAfterMS)
	if v, err := strconv.ParseInt(mp["down-after-milliseconds"], 10, 64); err == nil {
		downAfter = v
	}
	if v, err := replicas.Result(); err == nil {
		for _, p := range v {
			s.Replicas = append(s.Replicas, peerView(p, downAfter))
		}
	} else {
		s.Error = "SENTINEL REPLICAS: " + err.Error()
	}
	if v, err := sentinels.Result(); err == nil {
		for _, p := range v {
			s.Sentinels = append(s.Sentinels, peerView(p, downAfter))
		}
	} else {
		s.Error = "SENTINEL SENTINELS: " + err.Error()
	}
	if ck, err := ckquorum.Result(); err != nil {
		s.CKQuorum = err.Error()
	} else {
		s.CKQuorum, s.QuorumOK = ck, strings.HasPrefix(ck, "OK")
	}
	if v, err := info.Result(); err == nil {
		i := redisx.ParseInfo(v)
		s.Pid = int(i.Int("process_id"))
		b := runningBuild(i)
		s.Version, s.Engine = b.Version, b.Engine
	}
	sortPeers(s.Replicas)
	sortPeers(s.Sentinels)
	return s
}

func sortPeers(p []PeerView) { sort.Slice(p, func(i, j int) bool { return p[i].Addr < p[j].Addr }) }

func peerView(p map[string]string, downAfter int64) PeerView {
	v := PeerView{Addr: net.JoinHostPort(p["ip"], p["port"]), Flags: p["flags"], MasterLinkState: p["master-link-status"]}
	v.LastOKPingMS, _ = strconv.ParseInt(p["last-ok-ping-reply"], 10, 64)
	v.Reachable = !redisx.HasFlag(v.Flags, "s_down") && !redisx.HasFlag(v.Flags, "o_down") &&
		!redisx.HasFlag(v.Flags, "disconnected") && v.LastOKPingMS <= downAfter
	return v
}
