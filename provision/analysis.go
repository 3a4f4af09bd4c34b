package provision

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/redisctl/redisctl/provision/redisx"
)

// Verdict is how usable the cluster is. Its text (JSON and tables) is the
// lowercase word; status's exit code follows it.
type Verdict int

// Verdicts, from best to worst. A zero Verdict is one not decided yet.
const (
	Healthy  Verdict = iota + 1
	Degraded         // works, needs attention
	Unusable         // no master, two masters, sentinels disagree, a host unreachable
)

func (v Verdict) String() string {
	switch v {
	case Healthy:
		return "healthy"
	case Degraded:
		return "degraded"
	case Unusable:
		return "unusable"
	}
	return ""
}

// MarshalText writes the verdict as its word.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// Severity is how bad one problem is: the verdict it leads to.
type Severity int

// Severities of a problem.
const (
	SeverityDegraded Severity = iota + 1
	SeverityUnusable
)

func (s Severity) String() string {
	if s == SeverityUnusable {
		return "unusable"
	}
	return "degraded"
}

// MarshalText writes the severity as its word.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Problem is one thing wrong, in a line a person can act on.
type Problem struct {
	Host     string   `json:"host,omitempty"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// String is the problem as one line, prefixed with its host.
func (p Problem) String() string {
	if p.Host == "" {
		return p.Message
	}
	return p.Host + ": " + p.Message
}

// NoMaster says why an analysis found no master.
type NoMaster int

// Reasons for no master.
const (
	MasterFound       NoMaster = iota
	SentinelsDisagree          // the answering sentinels name different masters
	NoQuorum                   // fewer sentinels than the quorum answer: their view may be stale
	NamedMasterDown            // the sentinels' master does not answer, or does not report role:master
	NamedNotInventory          // the sentinels name an address that is no host of the inventory
	NoMasterReported           // no sentinel answers and no data node reports role:master
	SeveralMasters             // no sentinel answers and several data nodes report role:master
)

func (r NoMaster) String() string {
	return [...]string{"", "sentinels disagree", "no quorum", "the named master is down",
		"the named master is not in the inventory", "no data node is master", "several data nodes are master"}[r]
}

// Expectations is what the inventory says the snapshot should show.
type Expectations struct {
	RedisPort    int
	SentinelPort int
	Sentinels    int // sentinels the inventory runs
	Quorum       int
	LagThreshold int64 // replication lag, in bytes, above which a replica is degraded
}

// Expectations of this cluster's inventory.
func (c *Cluster) Expectations() Expectations {
	return Expectations{
		RedisPort:    c.Inv.Redis.Port,
		SentinelPort: c.Inv.Sentinel.Port,
		Sentinels:    len(c.Sentinels()),
		Quorum:       c.Inv.Sentinel.Quorum,
		LagThreshold: LagThresholdBytes,
	}
}

// LagThresholdBytes is the replication lag above which status complains.
const LagThresholdBytes = 1 << 20

// SentinelView is one address some sentinels name as master.
type SentinelView struct {
	Addr      string
	Sentinels []string // nodes whose sentinel names Addr, inventory order
}

// Analysis is what a snapshot means.
type Analysis struct {
	Verdict  Verdict
	Problems []Problem
	// Master is the node that is master now: the one every answering
	// sentinel names (at least the quorum of them), answering with
	// role:master; with no sentinel answering, the one data node that
	// reports role:master. Empty when there is none; NoMaster and Why say why.
	Master   string
	NoMaster NoMaster
	Why      string
	// Named is who the cluster names as master, up or not: the node the
	// answering sentinels agree on (its address when it is no inventory
	// node), else the one data node reporting role:master. Status shows it.
	Named string
	// Views are the masters the answering sentinels name, sorted by
	// address; none when no sentinel answered.
	Views []SentinelView
	// Claimants are the data nodes reporting role:master, inventory order.
	Claimants []string
	// Lag is each in-sync replica's lag behind the master, in bytes.
	Lag map[string]int64
}

// Answering is how many sentinels answered.
func (a Analysis) Answering() int {
	k := 0
	for _, v := range a.Views {
		k += len(v.Sentinels)
	}
	return k
}

// Analyze finds the master and every problem in a snapshot, and the
// verdict. It asks nothing: the same snapshot always gives the same answer.
func Analyze(s *Snapshot, e Expectations) Analysis {
	a := Analysis{Lag: map[string]int64{}}
	add := func(host string, sev Severity, format string, args ...any) {
		a.Problems = append(a.Problems, Problem{Host: host, Severity: sev, Message: fmt.Sprintf(format, args...)})
	}
	dataAddr := func(nh *NodeHealth) string { return net.JoinHostPort(nh.Address, strconv.Itoa(e.RedisPort)) }
	byAddr := map[string]*NodeHealth{}
	for _, nh := range s.Nodes {
		byAddr[dataAddr(nh)] = nh
		byAddr[net.JoinHostPort(nh.Address, strconv.Itoa(e.SentinelPort))] = nh
	}
	name := func(addr string) string {
		if nh, ok := byAddr[addr]; ok {
			return nh.Name
		}
		return addr
	}

	// Who names whom.
	views := map[string][]string{}
	for _, nh := range s.Nodes {
		if sh := nh.Sentinel; sh != nil && sh.Running {
			views[sh.Master] = append(views[sh.Master], nh.Name)
		}
	}
	for addr, who := range views {
		a.Views = append(a.Views, SentinelView{Addr: addr, Sentinels: who})
	}
	sort.Slice(a.Views, func(i, j int) bool { return a.Views[i].Addr < a.Views[j].Addr })
	for _, nh := range s.Nodes {
		if nh.Redis.Running && nh.Redis.Role == "master" {
			a.Claimants = append(a.Claimants, nh.Name)
		}
	}
	a.decideMaster(e, byAddr, dataAddr)
	if a.Named == "" && len(a.Claimants) == 1 {
		a.Named = a.Claimants[0]
	}
	if len(a.Views) > 1 {
		var parts []string
		for _, v := range a.Views {
			parts = append(parts, fmt.Sprintf("%s name %s", strings.Join(v.Sentinels, ","), name(v.Addr)))
		}
		sort.Strings(parts)
		add("", SeverityUnusable, "sentinels disagree on the master: %s", strings.Join(parts, "; "))
	}
	switch {
	case len(a.Claimants) == 0:
		add("", SeverityUnusable, "no master: no reachable data node reports role:master")
	case len(a.Claimants) > 1:
		add("", SeverityUnusable, "%d nodes claim to be master: %s; writes to the wrong one will be lost", len(a.Claimants), strings.Join(a.Claimants, ", "))
	}
	var masterAddr string
	if len(a.Views) == 1 {
		masterAddr = a.Views[0].Addr
		if !slices.Contains(a.Claimants, a.Named) {
			add(a.Named, SeverityUnusable, "the sentinels name %s (%s) as master but it does not report role:master", a.Named, masterAddr)
		}
	} else if len(a.Claimants) == 1 {
		masterAddr = dataAddr(s.Node(a.Claimants[0]))
	}
	var masterOffset int64 = -1
	if m := s.Node(a.Named); m != nil {
		masterOffset = m.Redis.Offset
	}

	expectReplicas := len(s.Nodes) - 1
	for _, nh := range s.Nodes {
		if !nh.Reachable {
			add(nh.Name, SeverityUnusable, "host unreachable: %s", nh.Error)
			continue
		}
		r := nh.Redis
		switch {
		case !r.Running:
			add(nh.Name, SeverityDegraded, "redis is not answering on %s:%d: %s", nh.Address, e.RedisPort, r.Error)
		case r.Role == "replica":
			if masterAddr != "" && r.MasterAddr != masterAddr {
				add(nh.Name, SeverityDegraded, "replica follows %s but the master is %s (%s)", name(r.MasterAddr), name(masterAddr), masterAddr)
			}
			if r.LinkStatus != "up" {
				add(nh.Name, SeverityDegraded, "replication link to %s is %s", name(r.MasterAddr), r.LinkStatus)
			}
			if masterOffset >= 0 && r.LinkStatus == "up" {
				lag := max(0, masterOffset-r.Offset)
				a.Lag[nh.Name] = lag
				if lag > e.LagThreshold {
					add(nh.Name, SeverityDegraded, "replica lags %d bytes behind the master (threshold %d)", lag, e.LagThreshold)
				}
			}
		case r.Role == "master" && nh.Name == a.Named:
			if online := r.OnlineReplicas(); online < expectReplicas {
				add(nh.Name, SeverityDegraded, "master has %d of %d replicas online", online, expectReplicas)
			}
		}
		if sh := nh.Sentinel; sh != nil {
			analyzeSentinel(nh, sh, e, expectReplicas, name, add)
		}
	}
	a.Verdict = Healthy
	for _, p := range a.Problems {
		if p.Severity == SeverityUnusable {
			a.Verdict = Unusable
			break
		}
		a.Verdict = Degraded
	}
	return a
}

// decideMaster sets Master, Named, NoMaster and Why from the views and
// the claimants.
func (a *Analysis) decideMaster(e Expectations, byAddr map[string]*NodeHealth, dataAddr func(*NodeHealth) string) {
	none := func(r NoMaster, format string, args ...any) {
		a.NoMaster, a.Why = r, fmt.Sprintf(format, args...)
	}
	switch len(a.Views) {
	case 0:
		switch len(a.Claimants) {
		case 0:
			none(NoMasterReported, "no sentinel answers and no data node reports role:master")
		case 1:
			a.Master, a.Named = a.Claimants[0], a.Claimants[0]
		default:
			none(SeveralMasters, "no sentinel answers and %s all report role:master", strings.Join(a.Claimants, ", "))
		}
		return
	case 1:
	default:
		var parts []string
		for _, v := range a.Views {
			parts = append(parts, fmt.Sprintf("%s name %s", strings.Join(v.Sentinels, ", "), v.Addr))
		}
		sort.Strings(parts)
		none(SentinelsDisagree, "the sentinels disagree on the master (%s)", strings.Join(parts, "; "))
		return
	}
	v := a.Views[0]
	nh := byAddr[v.Addr]
	if nh == nil || dataAddr(nh) != v.Addr {
		a.Named = v.Addr
		none(NamedNotInventory, "the sentinels (%s) name %s as master, which is not a host of the inventory", strings.Join(v.Sentinels, ", "), v.Addr)
		return
	}
	a.Named = nh.Name
	switch {
	case len(v.Sentinels) < e.Quorum:
		none(NoQuorum, "only %d of %d sentinels answer (%s), fewer than the quorum of %d: a failover elsewhere cannot be ruled out",
			len(v.Sentinels), e.Sentinels, strings.Join(v.Sentinels, ", "), e.Quorum)
	case !nh.Reachable:
		none(NamedMasterDown, "the sentinels name %s, whose host is unreachable", nh.Name)
	case !nh.Redis.Running:
		none(NamedMasterDown, "the sentinels name %s, whose redis does not answer: %s", nh.Name, nh.Redis.Error)
	case nh.Redis.Role != "master":
		none(NamedMasterDown, "the sentinels name %s, which reports role:%s", nh.Name, nh.Redis.Role)
	default:
		a.Master = nh.Name
	}
}

// OnlineReplicas is how many of a master's replicas it reports online.
func (r *RedisHealth) OnlineReplicas() int {
	online := 0
	for _, rl := range r.Replicas {
		if rl.State == "online" {
			online++
		}
	}
	return online
}

func analyzeSentinel(nh *NodeHealth, s *SentinelHealth, e Expectations, expectReplicas int, name func(string) string, add func(host string, sev Severity, format string, args ...any)) {
	if !s.Running {
		add(nh.Name, SeverityDegraded, "sentinel is not answering on %s:%d: %s", nh.Address, e.SentinelPort, s.Error)
		return
	}
	if s.Error != "" {
		add(nh.Name, SeverityDegraded, "sentinel: %s", s.Error)
	}
	if redisx.HasFlag(s.MasterFlags, "s_down") || redisx.HasFlag(s.MasterFlags, "o_down") {
		add(nh.Name, SeverityDegraded, "sentinel sees the master %s as down (flags %s)", name(s.Master), s.MasterFlags)
	}
	if len(s.Sentinels) != e.Sentinels-1 {
		add(nh.Name, SeverityDegraded, "sentinel knows %d other sentinels, expected %d", len(s.Sentinels), e.Sentinels-1)
	}
	for _, p := range s.Sentinels {
		if !p.Reachable {
			add(nh.Name, SeverityDegraded, "sentinel cannot reach sentinel %s (%s): flags %s, last good ping %d ms ago", name(p.Addr), p.Addr, p.Flags, p.LastOKPingMS)
		}
	}
	for _, p := range s.Replicas {
		if !p.Reachable || p.MasterLinkState == "err" {
			add(nh.Name, SeverityDegraded, "sentinel sees replica %s (%s) as unhealthy: flags %s, link %s", name(p.Addr), p.Addr, p.Flags, p.MasterLinkState)
		}
	}
	if len(s.Replicas) < expectReplicas {
		add(nh.Name, SeverityDegraded, "sentinel knows %d replicas, expected %d", len(s.Replicas), expectReplicas)
	}
	if !s.QuorumOK {
		add(nh.Name, SeverityDegraded, "SENTINEL CKQUORUM: %s", s.CKQuorum)
	}
}
