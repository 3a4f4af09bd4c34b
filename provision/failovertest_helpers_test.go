package provision

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redisctl/redisctl/provision/internal/testkit"
	"github.com/redisctl/redisctl/provision/remote/fakehost"
)

// ftLab is a fake cluster that acts out a failover for FailoverTest: the
// fake data nodes keep their keys in memory and replicate SET to their
// replicas, the fake hosts stop, start, kill, freeze and thaw the data
// nodes, and the fake sentinels, once the master fails (or on SENTINEL
// FAILOVER), publish +sdown, +odown and +switch-master on SUBSCRIBE
// connections and promote node2. Everything the lab does is logged in
// order (Log), for the tests to check what happened when.
//
// Built on healthyUpCluster (fixtures_test.go): the password is
// stored, every host has its files and manifest, both servers run.
type ftLab struct {
	*fakeCluster

	// What the sentinels do once the master fails; set before the run.
	reactAfter     time.Duration // from the failure to the first event
	neverPromote   bool          // they see the master down but elect no new one
	stuckPromotion bool          // they name node2, which never reports role:master
	// loseLast writes acknowledged by the master have not reached its
	// replicas when it dies (stop or kill): replication is asynchronous.
	loseLast int
	// unreplicated nodes never receive the master's writes (and do not
	// say so: their offsets are the master's).
	unreplicated map[string]bool

	mu       sync.Mutex
	order    []string // node names, inventory order
	nodes    map[string]*ftNode
	master   string         // the node the sentinels name
	sdown    bool           // the sentinels flag the named master down
	lastSets []string       // the writer's keys the master set, in order
	setOK    map[string]int // the writer's keys each node set, by node
	// backAfter is how many of the writer's keys the master had set when
	// the old master was brought back (started, or REPLICAOF); -1 before.
	backAfter int
	// agreedAfter is how many the new master had set when every sentinel
	// had named it in SENTINEL MASTER (what failover-test waits for);
	// -1 before. namedNew are the sentinels that had.
	agreedAfter int
	namedNew    map[string]bool
	subs        []*ftSub
	log         []string
	done        chan struct{}
}

// ftNode is the state of one fake data node.
type ftNode struct {
	name, ip string
	role     string // "master" or "slave", as INFO says
	masterIP string // a replica's master
	running  bool   // stop and kill end the process; start brings it back
	// frozen is open while the process is SIGSTOPped: every command
	// (HELLO of a new connection too) waits until it is closed.
	frozen chan struct{}
	// writesHeld is open while CLIENT PAUSE WRITE holds its writes.
	writesHeld chan struct{}
	kv         map[string]string
	conns      []net.Conn // client ends of its data connections, closed when it dies
}

// ftPid is the pid every fake data node runs as.
const ftPid = 4100

// ftProbe is the key FailoverTest writes to the new master.
const ftProbe = "redisctl:failover-test:probe"

func newFTLab(t *testing.T) *ftLab {
	t.Helper()
	l := &ftLab{fakeCluster: healthyUpCluster(t), reactAfter: 40 * time.Millisecond,
		unreplicated: map[string]bool{}, setOK: map[string]int{}, backAfter: -1, agreedAfter: -1, namedNew: map[string]bool{}, nodes: map[string]*ftNode{}, master: "node1", done: make(chan struct{})}
	// Registered after the fakes' own cleanup, so it runs before it: a
	// command waiting on a frozen node returns before its server closes.
	t.Cleanup(l.shutdown)
	for i, n := range l.Nodes {
		name := n.Spec.Name
		l.order = append(l.order, name)
		fn := &ftNode{name: name, ip: n.Spec.Address, role: "slave", masterIP: "10.0.0.1", running: true, kv: map[string]string{}}
		if name == "node1" {
			fn.role, fn.masterIP = "master", ""
		}
		l.nodes[name] = fn

		h := l.hosts[i]
		h.DialFunc = l.dial(h.DialFunc)
		h.On(ftLivePidPattern(l.fakeCluster), func(string, []byte) fakehost.Result {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.nodes[name].running {
				return fakehost.Result{Stdout: strconv.Itoa(ftPid) + "\n"}
			}
			return fakehost.Result{}
		})
		h.On(`^kill -(KILL|STOP|CONT) \d+$`, func(cmd string, _ []byte) fakehost.Result {
			f := strings.Fields(cmd)
			l.event(name + ": " + cmd)
			if f[2] != strconv.Itoa(ftPid) {
				return fakehost.Result{Status: 1, Stderr: "kill: (" + f[2] + ") - No such process"}
			}
			switch f[1] {
			case "-KILL":
				l.die(name)
			case "-STOP":
				l.freeze(name)
			case "-CONT":
				l.thaw(name)
			}
			return fakehost.Result{}
		})
		svc := regexp.QuoteMeta(l.Layout.InitDir + "/" + l.Layout.RedisService)
		h.On(`^`+svc+` stop$`, func(cmd string, _ []byte) fakehost.Result {
			l.event(name + ": " + cmd)
			l.die(name)
			return fakehost.Result{}
		})
		h.On(`^`+svc+` start$`, func(cmd string, _ []byte) fakehost.Result {
			l.event(name + ": " + cmd)
			l.start(name, h)
			return fakehost.Result{}
		})

		d := l.data[name]
		d.Reply("HELLO", func([]string) any {
			l.gate(name, false)
			return respError("ERR unknown command 'HELLO'")
		})
		d.Reply("INFO", func([]string) any { return l.info(name) })
		d.Reply("SET", func(args []string) any { return l.set(name, args[1], args[2]) })
		d.Reply("MGET", func(args []string) any { return l.mget(name, args[1:]) })
		d.Reply("SCAN", func(args []string) any { return l.scan(name, args) })
		d.Reply("UNLINK", func(args []string) any { return l.del(name, args[1:]) })
		d.Reply("DEL", func(args []string) any { return l.del(name, args[1:]) })
		d.Reply("CLIENT PAUSE", func(args []string) any { return l.clientPause(name, args) })
		d.Reply("CLIENT UNPAUSE", func([]string) any { return l.clientUnpause(name) })
		d.Reply("REPLICAOF", func(args []string) any { return l.replicaOf(name, args) })
		d.Reply("CONFIG REWRITE", func([]string) any {
			l.event(name + ": CONFIG REWRITE")
			return status("OK")
		})

		s := l.sentinel[name]
		s.Reply("SENTINEL MASTER", func([]string) any { return l.sentinelMasterReply(name) })
		s.Reply("SENTINEL GET-MASTER-ADDR-BY-NAME", func([]string) any {
			l.mu.Lock()
			defer l.mu.Unlock()
			return []string{l.nodes[l.master].ip, "7000"}
		})
		s.Reply("SENTINEL REPLICAS", func([]string) any { return l.sentinelReplicas() })
		s.Reply("SENTINEL FAILOVER", func(args []string) any {
			l.event(name + " sentinel: SENTINEL FAILOVER " + strings.Join(args[2:], " "))
			if len(args) != 3 || args[2] != l.Inv.Name {
				return respError("ERR No such master with that name")
			}
			l.react(true)
			return status("OK")
		})
	}
	return l
}

// shortBound sets the inventory's down-after so that failover-test's
// bound on the wait for a new master (promotionBound: down-after, two
// failover attempts and 15 s, so at least 15 s with any valid inventory)
// comes to d. The value is set past validation, in memory: nothing else
// of a failed failover-test reads it (the sentinels report their own
// down-after-milliseconds).
func (l *ftLab) shortBound(t *testing.T, d time.Duration) {
	t.Helper()
	l.Inv.Sentinel.DownAfterMS += int((d - PromotionBound(l.Inv)).Milliseconds())
	if got := PromotionBound(l.Inv); got != d {
		t.Fatalf("promotionBound = %s, want %s", got, d)
	}
}

// ftLivePidPattern matches the live_pid script for the redis pid file.
func ftLivePidPattern(fc *fakeCluster) string {
	return `\nlive_pid '?` + regexp.QuoteMeta(fc.Layout.RedisPid) + `'? \S+\n$`
}

func (l *ftLab) shutdown() {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.done:
		return
	default:
	}
	close(l.done)
	for _, s := range l.subs {
		s.close()
	}
}

func (l *ftLab) event(e string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, e)
}

// Log returns what happened, in order.
func (l *ftLab) Log() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.log)
}

// sleep waits d, or until the test ends (false).
func (l *ftLab) sleep(d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-l.done:
		return false
	}
}

// byIP is the node at ip; l.mu is held.
func (l *ftLab) byIP(ip string) *ftNode {
	for _, n := range l.nodes {
		if n.ip == ip {
			return n
		}
	}
	return nil
}

// dial wraps a fake host's dial: a data node that does not run refuses
// connections, and the ones it had are closed when it dies; a sentinel
// connection is wrapped to serve SUBSCRIBE.
func (l *ftLab) dial(next func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		n := l.byIP(host)
		l.mu.Unlock()
		if n == nil {
			return nil, fmt.Errorf("dial %s: no route to host", addr)
		}
		c, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if port == strconv.Itoa(l.Inv.Sentinel.Port) {
			return &ftSentinelConn{Conn: c, lab: l, name: n.name}, nil
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if !n.running {
			c.Close()
			return nil, fmt.Errorf("dial %s: connection refused", addr)
		}
		n.conns = append(n.conns, c)
		return c, nil
	}
}

// die ends a node's process (stop or kill): its connections close, new
// ones are refused. When it is the master, the writes of loseLast never
// reached its replicas, and the sentinels react.
func (l *ftLab) die(name string) {
	l.mu.Lock()
	n := l.nodes[name]
	n.running = false
	conns := n.conns
	n.conns = nil
	isMaster := name == l.master
	if isMaster && l.loseLast > 0 {
		for _, k := range l.lastSets[max(0, len(l.lastSets)-l.loseLast):] {
			for _, o := range l.nodes {
				if o != n {
					delete(o.kv, k)
				}
			}
		}
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	if isMaster {
		l.react(false)
	}
}

// start starts a node's redis as its config file on h says: a replica
// of the address on its replicaof line, a master without one.
func (l *ftLab) start(name string, h *testHost) {
	role, masterIP := "master", ""
	if f, ok := h.File(l.Layout.RedisConf); ok {
		for _, line := range strings.Split(string(f.Data), "\n") {
			if w := strings.Fields(line); len(w) == 3 && w[0] == "replicaof" {
				role, masterIP = "slave", w[1]
			}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.nodes[name]
	n.running, n.role, n.masterIP = true, role, masterIP
	l.noteBack()
	if m := l.byIP(masterIP); m != nil {
		n.kv = maps.Clone(m.kv) // a full sync
	}
	l.log = append(l.log, fmt.Sprintf("%s: redis starts as %s %s", name, role, masterIP))
}

// freeze is SIGSTOP; thaw is SIGCONT. A master thawed after the
// sentinels promoted another node is converted to a replica of it (as
// the sentinels do) before it serves anything.
func (l *ftLab) freeze(name string) {
	l.mu.Lock()
	n := l.nodes[name]
	if n.frozen == nil {
		n.frozen = make(chan struct{})
	}
	isMaster := name == l.master
	l.mu.Unlock()
	if isMaster {
		l.react(false)
	}
}

func (l *ftLab) thaw(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.nodes[name]
	if n.frozen == nil {
		return
	}
	if m := l.nodes[l.master]; m != n && n.role == "master" && m.role == "master" {
		n.role, n.masterIP, n.kv = "slave", m.ip, maps.Clone(m.kv)
		l.log = append(l.log, fmt.Sprintf("sentinels: +convert-to-slave %s, a replica of %s", name, m.name))
	}
	close(n.frozen)
	n.frozen = nil
}

// react is what the sentinels do after a failure (or, manual,
// SENTINEL FAILOVER): they publish +sdown and +odown for the master (for
// manual only a replica's +sdown, which is not the master's), then
// promote node2 and publish +switch-master.
func (l *ftLab) react(manual bool) {
	go func() {
		if !l.sleep(l.reactAfter) {
			return
		}
		if manual {
			l.publish("+sdown", "slave 10.0.0.3:7000 10.0.0.3 7000 @ mymaster 10.0.0.1 7000")
		} else {
			l.mu.Lock()
			l.sdown = true
			l.mu.Unlock()
			l.publish("+sdown", "master mymaster 10.0.0.1 7000")
			if !l.sleep(10 * time.Millisecond) {
				return
			}
			l.publish("+odown", "master mymaster 10.0.0.1 7000 #quorum 3/2")
		}
		if l.neverPromote || !l.sleep(10*time.Millisecond) {
			return
		}
		l.promote("node2")
		l.publish("+switch-master", "mymaster 10.0.0.1 7000 10.0.0.2 7000")
	}()
}

// promote makes the sentinels name newMaster, which becomes master with
// the other replicas following it (unless stuckPromotion).
func (l *ftLab) promote(newMaster string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.master
	l.master, l.sdown, l.lastSets = newMaster, false, nil
	l.log = append(l.log, "sentinels: promote "+newMaster)
	if l.stuckPromotion {
		return
	}
	nm := l.nodes[newMaster]
	nm.role, nm.masterIP = "master", ""
	for _, n := range l.nodes {
		if n != nm && n.name != old {
			n.masterIP = nm.ip
		}
	}
}

// gate waits while the node is frozen (and, for a write, while CLIENT
// PAUSE WRITE holds writes); false when the test ended meanwhile.
func (l *ftLab) gate(name string, write bool) bool {
	for {
		l.mu.Lock()
		n := l.nodes[name]
		ch := n.frozen
		if ch == nil && write {
			ch = n.writesHeld
		}
		l.mu.Unlock()
		if ch == nil {
			return true
		}
		select {
		case <-ch:
		case <-l.done:
			return false
		}
	}
}

func (l *ftLab) info(name string) any {
	if !l.gate(name, false) {
		return respError("ERR the test is over")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.nodes[name]
	if n.role == "master" {
		var reps []string
		for _, o := range l.order {
			if r := l.nodes[o]; r.role == "slave" && r.masterIP == n.ip && r.running {
				reps = append(reps, r.ip+" online")
			}
		}
		return masterInfo(reps...)
	}
	link := "down"
	if m := l.byIP(n.masterIP); m != nil && m.running && m.frozen == nil && m.role == "master" {
		link = "up"
	}
	return replicaInfo(n.masterIP, link)
}

func (l *ftLab) set(name, k, v string) any {
	if !l.gate(name, true) {
		return respError("ERR the test is over")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.nodes[name]
	if !n.running {
		return respError("ERR the process is gone") // the connection is closed: never read
	}
	if n.role != "master" {
		return respError("READONLY You can't write against a read only replica.")
	}
	n.kv[k] = v
	for _, r := range l.nodes {
		if r.role == "slave" && r.masterIP == n.ip && r.running && !l.unreplicated[r.name] {
			r.kv[k] = v
		}
	}
	if strings.HasPrefix(k, "redisctl:failover-test:") && k != ftProbe {
		l.setOK[name]++
		if name == l.master {
			l.lastSets = append(l.lastSets, k)
		}
	}
	return status("OK")
}

func (l *ftLab) mget(name string, keys []string) any {
	if !l.gate(name, false) {
		return respError("ERR the test is over")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]any, len(keys))
	for i, k := range keys {
		if v, ok := l.nodes[name].kv[k]; ok {
			out[i] = v
		}
	}
	return out
}

// scan answers SCAN 0 MATCH prefix* COUNT n in one page.
func (l *ftLab) scan(name string, args []string) any {
	if !l.gate(name, false) {
		return respError("ERR the test is over")
	}
	prefix := ""
	for i := 2; i+1 < len(args); i += 2 {
		if strings.EqualFold(args[i], "MATCH") {
			prefix = strings.TrimSuffix(args[i+1], "*")
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := []string{}
	for k := range l.nodes[name].kv {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return []any{"0", keys}
}

func (l *ftLab) del(name string, keys []string) any {
	if !l.gate(name, true) {
		return respError("ERR the test is over")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.nodes[name]
	if n.role != "master" {
		return respError("READONLY You can't write against a read only replica.")
	}
	k := 0
	for _, key := range keys {
		if _, ok := n.kv[key]; ok {
			k++
		}
		for _, o := range l.nodes {
			if o == n || o.role == "slave" && o.masterIP == n.ip {
				delete(o.kv, key)
			}
		}
	}
	return k
}

func (l *ftLab) clientPause(name string, args []string) any {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, name+": CLIENT "+strings.Join(args[1:], " "))
	if n := l.nodes[name]; n.writesHeld == nil {
		n.writesHeld = make(chan struct{})
	}
	return status("OK")
}

func (l *ftLab) clientUnpause(name string) any {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, name+": CLIENT UNPAUSE")
	if n := l.nodes[name]; n.writesHeld != nil {
		close(n.writesHeld)
		n.writesHeld = nil
	}
	return status("OK")
}

func (l *ftLab) replicaOf(name string, args []string) any {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, name+": "+strings.Join(args, " "))
	m := l.byIP(args[1])
	if len(args) != 3 || m == nil || args[2] != "7000" {
		return respError("ERR unexpected REPLICAOF")
	}
	n := l.nodes[name]
	n.role, n.masterIP, n.kv = "slave", m.ip, maps.Clone(m.kv)
	l.noteBack()
	return status("OK")
}

// sentinelMasterReply is SENTINEL MASTER: the named master, flagged down
// once the sentinels saw it fail. It notes agreedAfter.
func (l *ftLab) sentinelMasterReply(sentinel string) any {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.master != "node1" && l.agreedAfter < 0 {
		l.namedNew[sentinel] = true
		if len(l.namedNew) == len(l.order) {
			l.agreedAfter = l.setOK[l.master]
		}
	}
	flags := "master"
	if l.sdown {
		flags = "master,s_down,o_down"
	}
	return sentinelMaster(l.nodes[l.master].ip, flags)
}

// sentinelReplicas is SENTINEL REPLICAS: every other node, down when its
// process does not answer, its link ok when it follows the named master.
func (l *ftLab) sentinelReplicas() any {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.nodes[l.master]
	var out []any
	for _, name := range l.order {
		n := l.nodes[name]
		if n == m {
			continue
		}
		flags, link := "slave", "err"
		if !n.running || n.frozen != nil {
			flags += ",s_down"
		} else if n.role == "slave" && n.masterIP == m.ip {
			link = "ok"
		}
		out = append(out, []string{"name", n.ip + ":7000", "ip", n.ip, "port", "7000", "flags", flags,
			"last-ok-ping-reply", "300", "master-link-status", link, "master-host", m.ip, "master-port", "7000"})
	}
	return out
}

// noteBack records backAfter; l.mu is held.
func (l *ftLab) noteBack() {
	if l.backAfter < 0 {
		l.backAfter = l.setOK[l.master]
	}
}

// setsOn is how many of the writer's keys a node set.
func (l *ftLab) setsOn(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.setOK[name]
}

// kvOf returns a copy of a node's keys.
func (l *ftLab) kvOf(name string) map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.nodes[name].kv)
}

// ftSub is one SUBSCRIBE connection to a fake sentinel.
type ftSub struct {
	sentinel string
	channels map[string]bool // under ftLab.mu
	out      chan []any
	done     chan struct{}
	once     sync.Once
	server   net.Conn
}

func (s *ftSub) send(v []any) {
	select {
	case s.out <- v:
	default: // a full buffer: the test is not reading, drop it
	}
}

func (s *ftSub) close() {
	s.once.Do(func() {
		close(s.done)
		s.server.Close()
	})
}

// publish sends a message on channel to every subscriber of every
// sentinel: each sentinel publishes the events it sees.
func (l *ftLab) publish(channel, payload string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, "sentinels publish "+channel+" "+payload)
	for _, s := range l.subs {
		if s.channels[channel] {
			s.send([]any{"message", channel, payload})
		}
	}
}

// ftSentinelConn is a connection to a fake sentinel. Until the client
// sends SUBSCRIBE it is the fakeRedis connection; from then on it is a
// subscription served by the lab (fakeRedis answers one reply per
// command, and a subscription needs messages pushed at any time).
type ftSentinelConn struct {
	net.Conn
	lab  *ftLab
	name string

	mu   sync.Mutex
	sub  *ftSub
	pipe net.Conn // the client's end, once subscribed
}

func (c *ftSentinelConn) subscribed() (*ftSub, net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sub, c.pipe
}

func (c *ftSentinelConn) Write(b []byte) (int, error) {
	sub, _ := c.subscribed()
	var cmds [][]string
	r := bufio.NewReader(bytes.NewReader(b))
	for {
		args, err := testkit.ReadCommand(r)
		if err != nil || len(args) == 0 {
			break
		}
		cmds = append(cmds, args)
	}
	if sub == nil {
		if len(cmds) == 0 || !strings.EqualFold(cmds[0][0], "subscribe") {
			return c.Conn.Write(b)
		}
		client, server := net.Pipe()
		sub = &ftSub{sentinel: c.name, channels: map[string]bool{}, out: make(chan []any, 256), done: make(chan struct{}), server: server}
		c.lab.mu.Lock()
		select {
		case <-c.lab.done:
			c.lab.mu.Unlock()
			client.Close()
			server.Close()
			return 0, net.ErrClosed
		default:
		}
		c.lab.subs = append(c.lab.subs, sub)
		c.lab.mu.Unlock()
		c.mu.Lock()
		c.sub, c.pipe = sub, client
		c.mu.Unlock()
		c.Conn.Close() // the fake sentinel's connection is done with
		go func() {
			w := bufio.NewWriter(server)
			for {
				select {
				case v := <-sub.out:
					testkit.WriteReply(w, v)
					if w.Flush() != nil {
						return
					}
				case <-sub.done:
					return
				}
			}
		}()
	}
	for _, cmd := range cmds {
		switch strings.ToLower(cmd[0]) {
		case "subscribe":
			for _, ch := range cmd[1:] {
				c.lab.mu.Lock()
				sub.channels[ch] = true
				count := len(sub.channels)
				c.lab.mu.Unlock()
				sub.send([]any{"subscribe", ch, count})
			}
		case "unsubscribe":
			for _, ch := range cmd[1:] {
				c.lab.mu.Lock()
				delete(sub.channels, ch)
				count := len(sub.channels)
				c.lab.mu.Unlock()
				sub.send([]any{"unsubscribe", ch, count})
			}
		case "ping":
			sub.send([]any{"pong", ""})
		}
	}
	return len(b), nil
}

func (c *ftSentinelConn) Read(b []byte) (int, error) {
	if _, p := c.subscribed(); p != nil {
		return p.Read(b)
	}
	return c.Conn.Read(b)
}

func (c *ftSentinelConn) Close() error {
	sub, p := c.subscribed()
	if sub != nil {
		sub.close()
		p.Close()
	}
	return c.Conn.Close()
}

func (c *ftSentinelConn) SetDeadline(t time.Time) error {
	if _, p := c.subscribed(); p != nil {
		return p.SetDeadline(t)
	}
	return c.Conn.SetDeadline(t)
}

func (c *ftSentinelConn) SetReadDeadline(t time.Time) error {
	if _, p := c.subscribed(); p != nil {
		return p.SetReadDeadline(t)
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *ftSentinelConn) SetWriteDeadline(t time.Time) error {
	if _, p := c.subscribed(); p != nil {
		return p.SetWriteDeadline(t)
	}
	return c.Conn.SetWriteDeadline(t)
}

// ftLogBuffer collects a run's progress lines; they go to the test log
// when the test ends (a line printed by a goroutine that outlives the
// test must not reach t.Log).
type ftLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *ftLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *ftLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// failoverTest runs FailoverTest on the lab with a short write interval, and
// returns its report, how long it took and its error.
func (l *ftLab) failoverTest(t *testing.T, ctx context.Context, opts FailoverOptions) (*FailoverReport, time.Duration, error) {
	t.Helper()
	out := &ftLogBuffer{}
	t.Cleanup(func() { t.Logf("progress:\n%s\nlab:\n  %s", out.String(), strings.Join(l.Log(), "\n  ")) })
	opts.Connect = (&testConnector{Hosts: l.hosts}).Connect
	opts.Progress = NewProgress(out, "", "failover-test", false)
	if opts.WriteInterval == 0 {
		opts.WriteInterval = 2 * time.Millisecond
	}
	start := time.Now()
	rep, err := FailoverTest(ctx, l.Inv, opts)
	return rep, time.Since(start), err
}
