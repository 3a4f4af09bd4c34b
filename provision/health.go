package provision

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/redisx"
)

// Health is one snapshot of the cluster as the nodes and sentinels report
// it, taken from every host at once, and the problems found in it.
type Health struct {
	Cluster  string        `json:"cluster"`
	Master   string        `json:"master"` // name of the node the sentinels (or, without them, the data nodes) name as master
	Nodes    []*NodeHealth `json:"nodes"`
	Problems []Problem     `json:"problems"`
	Verdict  string        `json:"verdict"` // "healthy", "degraded" or "unusable"
	Taken    time.Time     `json:"taken"`
}

// Problem is one thing wrong, in a line a person can act on.
type Problem struct {
	Host     string `json:"host,omitempty"`
	Severity string `json:"severity"` // "degraded" or "unusable"
	Message  string `json:"message"`
}

// NodeHealth is what one host reports.
type NodeHealth struct {
	Name          string          `json:"name"`
	Address       string          `json:"address"`
	InventoryRole string          `json:"inventory_role"`
	Reachable     bool            `json:"reachable"`
	Error         string          `json:"error,omitempty"`
	Redis         *RedisHealth    `json:"redis"`
	Sentinel      *SentinelHealth `json:"sentinel,omitempty"`
}

// RedisHealth is a data node's INFO, reduced to what matters.
type RedisHealth struct {
	Running       bool                 `json:"running"`
	Error         string               `json:"error,omitempty"`
	Pid           int                  `json:"pid,omitempty"`
	UptimeSeconds int64                `json:"uptime_seconds,omitempty"`
	Version       string               `json:"version,omitempty"`
	Role          string               `json:"role,omitempty"` // "master" or "replica"
	MasterAddr    string               `json:"master_addr,omitempty"`
	LinkStatus    string               `json:"link_status,omitempty"`
	Offset        int64                `json:"offset"`
	LagBytes      int64                `json:"lag_bytes,omitempty"` // master offset minus this replica's
	LinkAgeSec    int64                `json:"last_io_seconds_ago,omitempty"`
	Replicas      []redisx.ReplicaLink `json:"replicas,omitempty"`
}

// SentinelHealth is one sentinel's view of the monitored master.
type SentinelHealth struct {
	Running     bool       `json:"running"`
	Error       string     `json:"error,omitempty"`
	Pid         int        `json:"pid,omitempty"`
	Master      string     `json:"master,omitempty"` // ip:port it names
	MasterFlags string     `json:"master_flags,omitempty"`
	Epoch       int64      `json:"config_epoch"`
	Replicas    []PeerView `json:"replicas,omitempty"`
	Sentinels   []PeerView `json:"sentinels,omitempty"`
	CKQuorum    string     `json:"ckquorum,omitempty"`
	QuorumOK    bool       `json:"quorum_ok"`
}

// PeerView is a replica or another sentinel as one sentinel sees it.
type PeerView struct {
	Addr            string `json:"addr"`
	Flags           string `json:"flags"`
	LastOKPingMS    int64  `json:"last_ok_ping_ms"`
	Reachable       bool   `json:"reachable"`
	MasterLinkState string `json:"master_link_status,omitempty"`
}

// LagThresholdBytes is the replication lag above which status complains.
const LagThresholdBytes = 1 << 20

// CheckHealth takes a snapshot from every reachable node at once. Nodes
// whose Host is nil are reported unreachable with their connect error.
func (c *Cluster) CheckHealth(ctx context.Context, connectErrs map[string]error) *Health {
	h := &Health{Cluster: c.Inv.Name, Taken: time.Now().UTC()}
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		nh := &NodeHealth{Name: n.Spec.Name, Address: n.Spec.Address, InventoryRole: string(n.Spec.Role), Redis: &RedisHealth{}}
		h.Nodes = append(h.Nodes, nh)
		if err := connectErrs[n.Spec.Name]; err != nil || n.Host == nil {
			nh.Error = "unreachable"
			if err != nil {
				nh.Error = err.Error()
			}
			continue
		}
		nh.Reachable = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.probeData(ctx, n, nh.Redis)
			if n.Spec.Sentinel {
				nh.Sentinel = &SentinelHealth{}
				c.probeSentinel(ctx, n, nh.Sentinel)
			}
		}()
	}
	wg.Wait()
	c.analyze(h)
	return h
}

func (c *Cluster) probeData(ctx context.Context, n *Node, r *RedisHealth) {
	cl := c.Data(n)
	defer cl.Close()
	s, err := cl.Info(ctx, "server", "replication").Result()
	if err != nil {
		r.Error = err.Error()
		return
	}
	r.Running = true
	info := redisx.ParseInfo(s)
	r.Pid = int(info.Int("process_id"))
	r.UptimeSeconds = info.Int("uptime_in_seconds")
	r.Version = info["redis_version"]
	r.Role = info["role"]
	if r.Role == "slave" {
		r.Role = "replica"
		r.MasterAddr = net.JoinHostPort(info["master_host"], info["master_port"])
		r.LinkStatus = info["master_link_status"]
		r.Offset = info.Int("slave_repl_offset")
		r.LinkAgeSec = info.Int("master_last_io_seconds_ago")
	} else {
		r.Offset = info.Int("master_repl_offset")
		r.Replicas = info.Replicas()
	}
}

func (c *Cluster) probeSentinel(ctx context.Context, n *Node, s *SentinelHealth) {
	cl := c.Sentinel(n)
	defer cl.Close()
	name := c.Inv.Name
	m, err := cl.Do(ctx, "SENTINEL", "MASTER", name).Result()
	if err != nil {
		s.Error = err.Error()
		return
	}
	s.Running = true
	mp := redisx.Pairs(m)
	s.Master = net.JoinHostPort(mp["ip"], mp["port"])
	s.MasterFlags = mp["flags"]
	s.Epoch, _ = strconv.ParseInt(mp["config-epoch"], 10, 64)
	downAfter := int64(c.Inv.Sentinel.DownAfterMS)
	if v, err := strconv.ParseInt(mp["down-after-milliseconds"], 10, 64); err == nil {
		downAfter = v
	}
	if reps, err := cl.Do(ctx, "SENTINEL", "REPLICAS", name).Result(); err == nil {
		for _, p := range redisx.PairsList(reps) {
			s.Replicas = append(s.Replicas, peerView(p, downAfter))
		}
	} else {
		s.Error = "SENTINEL REPLICAS: " + err.Error()
	}
	if sents, err := cl.Do(ctx, "SENTINEL", "SENTINELS", name).Result(); err == nil {
		for _, p := range redisx.PairsList(sents) {
			s.Sentinels = append(s.Sentinels, peerView(p, downAfter))
		}
	} else {
		s.Error = "SENTINEL SENTINELS: " + err.Error()
	}
	ck, err := cl.Do(ctx, "SENTINEL", "CKQUORUM", name).Text()
	if err != nil {
		s.CKQuorum = err.Error()
	} else {
		s.CKQuorum, s.QuorumOK = ck, strings.HasPrefix(ck, "OK")
	}
	pid, err := cl.Info(ctx, "server").Result()
	if err == nil {
		s.Pid = int(redisx.ParseInfo(pid).Int("process_id"))
	}
	sortPeers(s.Replicas)
	sortPeers(s.Sentinels)
}

func sortPeers(p []PeerView) { sort.Slice(p, func(i, j int) bool { return p[i].Addr < p[j].Addr }) }

func peerView(p map[string]string, downAfter int64) PeerView {
	v := PeerView{Addr: net.JoinHostPort(p["ip"], p["port"]), Flags: p["flags"], MasterLinkState: p["master-link-status"]}
	v.LastOKPingMS, _ = strconv.ParseInt(p["last-ok-ping-reply"], 10, 64)
	v.Reachable = !redisx.HasFlag(v.Flags, "s_down") && !redisx.HasFlag(v.Flags, "o_down") &&
		!redisx.HasFlag(v.Flags, "disconnected") && v.LastOKPingMS <= downAfter
	return v
}

// analyze finds the master and every problem, and sets the verdict.
func (c *Cluster) analyze(h *Health) {
	add := func(host, sev, format string, args ...any) {
		h.Problems = append(h.Problems, Problem{Host: host, Severity: sev, Message: fmt.Sprintf(format, args...)})
	}
	byAddr := map[string]string{}
	for _, n := range c.Nodes {
		byAddr[c.DataAddr(n)] = n.Spec.Name
		byAddr[c.SentinelAddr(n)] = n.Spec.Name
	}
	name := func(addr string) string {
		if n, ok := byAddr[addr]; ok {
			return n
		}
		return addr
	}

	// The sentinels' view of the master.
	views := map[string][]string{}
	nSentinels := len(c.Sentinels())
	for _, nh := range h.Nodes {
		if nh.Sentinel != nil {
			if nh.Sentinel.Running {
				views[nh.Sentinel.Master] = append(views[nh.Sentinel.Master], nh.Name)
			}
		}
	}
	var masters []string
	for _, nh := range h.Nodes {
		if nh.Redis.Running && nh.Redis.Role == "master" {
			masters = append(masters, nh.Name)
		}
	}
	var sentinelMaster string
	switch len(views) {
	case 0:
	case 1:
		for addr := range views {
			sentinelMaster = addr
		}
	default:
		var parts []string
		for addr, who := range views {
			parts = append(parts, fmt.Sprintf("%s name %s", strings.Join(who, ","), name(addr)))
		}
		sort.Strings(parts)
		add("", "unusable", "sentinels disagree on the master: %s", strings.Join(parts, "; "))
	}
	switch {
	case sentinelMaster != "":
		h.Master = name(sentinelMaster)
	case len(masters) == 1:
		h.Master = masters[0]
	}
	switch {
	case len(masters) == 0:
		add("", "unusable", "no master: no reachable data node reports role:master")
	case len(masters) > 1:
		add("", "unusable", "%d nodes claim to be master: %s; writes to the wrong one will be lost", len(masters), strings.Join(masters, ", "))
	}
	if sentinelMaster != "" && !slices.Contains(masters, name(sentinelMaster)) {
		add(name(sentinelMaster), "unusable", "the sentinels name %s (%s) as master but it does not report role:master", name(sentinelMaster), sentinelMaster)
	}
	masterAddr := sentinelMaster
	if masterAddr == "" && len(masters) == 1 {
		masterAddr = c.DataAddr(c.Node(masters[0]))
	}
	var masterOffset int64 = -1
	for _, nh := range h.Nodes {
		if nh.Name == h.Master {
			masterOffset = nh.Redis.Offset
		}
	}

	expectReplicas := len(c.Nodes) - 1
	for _, nh := range h.Nodes {
		if !nh.Reachable {
			add(nh.Name, "unusable", "host unreachable: %s", nh.Error)
			continue
		}
		r := nh.Redis
		switch {
		case !r.Running:
			add(nh.Name, "degraded", "redis is not answering on %s:%d: %s", nh.Address, c.Inv.Redis.Port, r.Error)
		case r.Role == "replica":
			if masterAddr != "" && r.MasterAddr != masterAddr {
				add(nh.Name, "degraded", "replica follows %s but the master is %s (%s)", name(r.MasterAddr), name(masterAddr), masterAddr)
			}
			if r.LinkStatus != "up" {
				add(nh.Name, "degraded", "replication link to %s is %s", name(r.MasterAddr), r.LinkStatus)
			}
			if masterOffset >= 0 && r.LinkStatus == "up" {
				r.LagBytes = max(0, masterOffset-r.Offset)
				if r.LagBytes > LagThresholdBytes {
					add(nh.Name, "degraded", "replica lags %d bytes behind the master (threshold %d)", r.LagBytes, LagThresholdBytes)
				}
			}
		case r.Role == "master" && nh.Name == h.Master:
			online := 0
			for _, rl := range r.Replicas {
				if rl.State == "online" {
					online++
				}
			}
			if online < expectReplicas {
				add(nh.Name, "degraded", "master has %d of %d replicas online", online, expectReplicas)
			}
		}
		if s := nh.Sentinel; s != nil {
			c.analyzeSentinel(nh, s, nSentinels, expectReplicas, name, add)
		}
	}
	h.Verdict = "healthy"
	for _, p := range h.Problems {
		if p.Severity == "unusable" {
			h.Verdict = "unusable"
			break
		}
		h.Verdict = "degraded"
	}
}

func (c *Cluster) analyzeSentinel(nh *NodeHealth, s *SentinelHealth, nSentinels, expectReplicas int, name func(string) string, add func(host, sev, format string, args ...any)) {
	if !s.Running {
		add(nh.Name, "degraded", "sentinel is not answering on %s:%d: %s", nh.Address, c.Inv.Sentinel.Port, s.Error)
		return
	}
	if s.Error != "" {
		add(nh.Name, "degraded", "sentinel: %s", s.Error)
	}
	if redisx.HasFlag(s.MasterFlags, "s_down") || redisx.HasFlag(s.MasterFlags, "o_down") {
		add(nh.Name, "degraded", "sentinel sees the master %s as down (flags %s)", name(s.Master), s.MasterFlags)
	}
	if len(s.Sentinels) != nSentinels-1 {
		add(nh.Name, "degraded", "sentinel knows %d other sentinels, expected %d", len(s.Sentinels), nSentinels-1)
	}
	for _, p := range s.Sentinels {
		if !p.Reachable {
			add(nh.Name, "degraded", "sentinel cannot reach sentinel %s (%s): flags %s, last good ping %d ms ago", name(p.Addr), p.Addr, p.Flags, p.LastOKPingMS)
		}
	}
	for _, p := range s.Replicas {
		if !p.Reachable || p.MasterLinkState == "err" {
			add(nh.Name, "degraded", "sentinel sees replica %s (%s) as unhealthy: flags %s, link %s", name(p.Addr), p.Addr, p.Flags, p.MasterLinkState)
		}
	}
	if len(s.Replicas) < expectReplicas {
		add(nh.Name, "degraded", "sentinel knows %d replicas, expected %d", len(s.Replicas), expectReplicas)
	}
	if !s.QuorumOK {
		add(nh.Name, "degraded", "SENTINEL CKQUORUM: %s", s.CKQuorum)
	}
}

// Status connects to every host it can and takes a health snapshot; hosts
// it cannot reach are reported in it, not returned as an error.
func Status(ctx context.Context, inv *inventory.Inventory, connect Connector, p *Progress) (*Health, error) {
	pw, _, _, err := ResolvePassword(inv, false)
	if err != nil {
		return nil, err
	}
	c, errs := ConnectPartial(ctx, inv, connect, p)
	defer c.Close()
	c.SetPassword(pw)
	return c.CheckHealth(ctx, errs), nil
}
