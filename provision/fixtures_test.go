package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote"
	"github.com/redisctl/redisctl/provision/remote/fakehost"
)

// Shared fixtures of the provision tests: a three-host inventory, fake
// hosts that answer the facts script, a connector handing them out, and a
// connected cluster whose Redis servers and sentinels are fakeRedis servers.

// testPassword is the cluster password of fake clusters.
const testPassword = "Test0Password0For0Fakes"

// threeHosts is the default hosts block: node1 master, node2 and node3
// replicas, every one running a sentinel.
const threeHosts = `hosts:
  - {name: node1, address: 10.0.0.1, role: master}
  - {name: node2, address: 10.0.0.2, role: replica}
  - {name: node3, address: 10.0.0.3, role: replica}
`

// testInventory parses a three-host inventory. Its source is a small local
// file with the right sha256 and its password file is in a temporary
// directory (also HOME), so nothing outside the test's directory is read or
// written.
func testInventory(t *testing.T) *inventory.Inventory {
	return testInventoryHosts(t, threeHosts)
}

// testInventoryHosts is testInventory with another hosts block.
func testInventoryHosts(t *testing.T, hosts string) *inventory.Inventory {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "redis-7.0.15.tar.gz")
	data := []byte("not really a tarball: the build is faked\n")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`name: mymaster
redis:
  version: "7.0.15"
  source: %s
  sha256: %s
  password_file: %s
sentinel:
  down_after_ms: 5000
`, src, sha256Hex(data), filepath.Join(dir, "cluster.password")) + hosts
	env := func(k string) (string, bool) {
		if k == "HOME" {
			return dir, true
		}
		return "", false
	}
	inv, _, err := inventory.Parse(filepath.Join(dir, "inventory.yaml"), []byte(yaml), env)
	if err != nil {
		t.Fatalf("test inventory: %v\n%s", err, yaml)
	}
	return inv
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// testProgress sends progress lines to the test log.
func testProgress(t *testing.T) *Progress {
	return NewProgress(testWriter{t}, "", "test", false)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// freshFacts is what the facts script prints on a Debian host that has
// nothing of redisctl's: no Redis, no redis user, nothing listening.
const freshFacts = "os_id=debian\nos_version=12\nos_like=\narch=x86_64\ninit=sysv\npkg=apt\n"

// factsPattern matches the facts script and nothing else redisctl runs.
const factsPattern = `^\s*if \[ -r /etc/os-release \]`

// testHost is a fake host that also records what fakehost does not: the
// files read and how often Close was called.
type testHost struct {
	*fakehost.Host

	mu     sync.Mutex
	reads  []string
	closed int
	// readCalls counts ReadFile and ReadFiles calls: round trips.
	readCalls int
}

// newTestHost returns a fake host whose facts script prints facts.
func newTestHost(name, facts string) *testHost {
	h := &testHost{Host: fakehost.New(name)}
	h.Answer(factsPattern, fakehost.Result{Stdout: facts})
	h.On(checkPattern, checkReply(tunedHost)) // check_test.go
	// The run lock (its scripts are tested for real in lock_test.go). The
	// facts script up runs with it is answered as the host answers it
	// alone.
	h.On(lockCmdPattern, h.lockReply)
	return h
}

// lockCmdPattern matches the run lock's scripts.
const lockCmdPattern = `^d=/var/lib/redisctl; f=/var/lib/redisctl/\S+\.lock\n`

// lockReply answers the run lock's scripts: the lock is taken, and the
// scripts run with it are answered by lockRound.
func (h *testHost) lockReply(cmd string, stdin []byte) fakehost.Result {
	{
		const open, end = "after_acquire() { (\n", "\n) 2>/dev/null; echo " + afterAcquireDone + "; }"
		_, marker, _ := strings.Cut(strings.TrimSpace(string(stdin)), "\n")
		if _, body, ok := strings.Cut(cmd, open); ok && marker != "" {
			if script, _, ok := strings.Cut(body, end); ok {
				if out, ok := h.lockRound(script, marker); ok {
					return fakehost.Result{Stdout: "acquired\n" + out + afterAcquireDone + "\n"}
				}
			}
		}
		return fakehost.Result{Stdout: "acquired\n"}
	}
}

// lockRound answers the scripts up runs with its lock (joinParts) as the
// host answers each alone, the files read from what the host has.
func (h *testHost) lockRound(script, marker string) (string, bool) {
	inner, ok := strings.CutPrefix(script, "(\n")
	if inner, ok = strings.CutSuffix(inner, "\n) 2>/dev/null"); !ok {
		return "", false
	}
	var outs []string
	for _, part := range strings.Split(inner, partJoin) {
		if list, ok := strings.CutPrefix(part, prefetchTag+" "); ok {
			list, _, _ = strings.Cut(list, "\n")
			var b strings.Builder
			for i, p := range strings.Fields(list) {
				if f, ok := h.Host.File(strings.Trim(p, "'")); ok {
					fmt.Fprintf(&b, "%s %d\n%s\n%s end\n", marker, i, f.Data, marker)
				} else {
					fmt.Fprintf(&b, "%s %d missing\n", marker, i)
				}
			}
			outs = append(outs, b.String())
			continue
		}
		r, ok := h.Host.Reply(part)
		if !ok || r.Status != 0 {
			return "", false
		}
		outs = append(outs, r.Stdout)
	}
	return strings.Join(outs, "\n"+marker+" part\n"), true
}

func (h *testHost) ReadFile(ctx context.Context, path string) ([]byte, error) {
	h.mu.Lock()
	h.reads = append(h.reads, path)
	h.readCalls++
	h.mu.Unlock()
	return h.Host.ReadFile(ctx, path)
}

func (h *testHost) ReadFiles(ctx context.Context, paths []string) (map[string][]byte, error) {
	h.mu.Lock()
	h.reads = append(h.reads, paths...)
	h.readCalls++
	h.mu.Unlock()
	return h.Host.ReadFiles(ctx, paths)
}

func (h *testHost) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed++
	return nil
}

// Calls returns the commands run so far, less the run lock's scripts and
// the host checks (tested on their own in lock_test.go and check_test.go),
// so tests see the steps' commands.
func (h *testHost) Calls() []string {
	var out []string
	for _, c := range h.Host.Calls() {
		if !strings.HasPrefix(c, "d=/var/lib/redisctl; f=") && !strings.HasPrefix(c, checkScriptTag) {
			out = append(out, c)
		}
	}
	return out
}

// Reads returns the paths read so far.
func (h *testHost) Reads() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.reads...)
}

// RoundTrips returns how many commands and reads reached the host, the
// lock's and the checks' too.
func (h *testHost) RoundTrips() int {
	n := 0
	for _, c := range h.Host.Calls() {
		if !strings.HasPrefix(c, "read-files ") { // counted in readCalls
			n++
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return n + h.readCalls
}

// Closed returns how often Close was called.
func (h *testHost) Closed() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// freshHosts returns node1..node3 with freshFacts.
func freshHosts() []*testHost {
	return []*testHost{newTestHost("node1", freshFacts), newTestHost("node2", freshFacts), newTestHost("node3", freshFacts)}
}

// testConnector hands out fake hosts in inventory order, as SSHConnector
// does: a host with an error in errs gets a nil entry and its error joined
// into the result.
type testConnector struct {
	hosts []*testHost
	errs  map[string]error
	calls atomic.Int32
}

func (c *testConnector) connect(ctx context.Context, inv *inventory.Inventory) ([]remote.Host, error) {
	c.calls.Add(1)
	out := make([]remote.Host, len(inv.Hosts))
	var errs []error
	for i, h := range inv.Hosts {
		if err := c.errs[h.Name]; err != nil {
			errs = append(errs, err)
			continue
		}
		out[i] = c.hosts[i]
	}
	return out, errors.Join(errs...)
}

// runUp runs Up against the connector's fake hosts, with an empty build
// cache and short waits.
func runUp(t *testing.T, inv *inventory.Inventory, conn *testConnector) (*Summary, error) {
	t.Helper()
	p := testProgress(t)
	defer p.Close()
	return Up(context.Background(), inv, UpOptions{
		Connect:     conn.connect,
		CacheDir:    t.TempDir(),
		Progress:    p,
		SyncTimeout: 2 * time.Second,
	})
}

// wantStep checks that err is a *StepError of step and returns its message.
func wantStep(t *testing.T, err error, step string) string {
	t.Helper()
	if err == nil {
		t.Fatalf("Up succeeded, want a failure at step %q", step)
	}
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("error is %T, want a *StepError: %v", err, err)
	}
	if se.Step != step {
		t.Fatalf("Up failed at step %q, want %q: %v", se.Step, step, err)
	}
	return err.Error()
}

// fakeCluster is a connected three-node cluster (the nodes of
// testInventory) whose data nodes and sentinels are fakeRedis servers,
// reached through each fake host's Dial. It starts healthy: node1 is master
// with node2 and node3 online, every sentinel names node1, knows the two
// other sentinels and both replicas, and CKQUORUM is OK. Tests change
// replies to break it.
type fakeCluster struct {
	*Cluster
	data     map[string]*fakeRedis // by node name
	sentinel map[string]*fakeRedis
	hosts    []*testHost
}

func newFakeCluster(t *testing.T) *fakeCluster {
	t.Helper()
	inv := testInventory(t)
	fc := &fakeCluster{
		Cluster:  &Cluster{Inv: inv, Layout: inv.Layout(), Password: testPassword, P: testProgress(t)},
		data:     map[string]*fakeRedis{},
		sentinel: map[string]*fakeRedis{},
	}
	byAddr := map[string]*fakeRedis{}
	for i := range inv.Hosts {
		h := &inv.Hosts[i]
		d := newFakeRedis(t, h.Name+" redis", testPassword)
		s := newFakeRedis(t, h.Name+" sentinel", testPassword)
		fc.data[h.Name], fc.sentinel[h.Name] = d, s
		byAddr[fmt.Sprintf("%s:%d", h.Address, inv.Redis.Port)] = d
		byAddr[fmt.Sprintf("%s:%d", h.Address, inv.Sentinel.Port)] = s
	}
	for i := range inv.Hosts {
		h := &inv.Hosts[i]
		th := newTestHost(h.Name, freshFacts)
		th.DialFunc = dialTable(byAddr)
		fc.hosts = append(fc.hosts, th)
		fc.Nodes = append(fc.Nodes, &Node{Spec: h, Host: th})
	}

	fc.data["node1"].reply("INFO", masterInfo("10.0.0.2 online", "10.0.0.3 online"))
	for _, r := range []string{"node2", "node3"} {
		fc.data[r].reply("INFO", replicaInfo("10.0.0.1", "up")).
			reply("SET", respError("READONLY You can't write against a read only replica."))
	}
	for _, n := range []string{"node1", "node2", "node3"} {
		var peers []any
		for _, o := range []string{"node1", "node2", "node3"} {
			if o != n {
				peers = append(peers, sentinelPeer(fc.Node(o).Spec.Address, "sentinel", 300))
			}
		}
		fc.sentinel[n].
			reply("SENTINEL MASTER", sentinelMaster("10.0.0.1", "master")).
			reply("SENTINEL REPLICAS", []any{sentinelReplica("10.0.0.2"), sentinelReplica("10.0.0.3")}).
			reply("SENTINEL SENTINELS", peers).
			reply("SENTINEL CKQUORUM", status("OK 3 usable Sentinels. Quorum and failover authorization can be reached")).
			reply("SENTINEL GET-MASTER-ADDR-BY-NAME", []string{"10.0.0.1", "7000"}).
			reply("INFO", "# Server\r\nredis_version:7.0.15\r\nprocess_id:4200\r\nredis_mode:sentinel\r\n")
	}
	return fc
}

// masterInfo is a master's INFO server and replication; each replica is
// "ip state".
func masterInfo(replicas ...string) string {
	var b strings.Builder
	b.WriteString("# Server\r\nredis_version:7.0.15\r\nprocess_id:4100\r\nuptime_in_seconds:60\r\n\r\n")
	fmt.Fprintf(&b, "# Replication\r\nrole:master\r\nconnected_slaves:%d\r\n", len(replicas))
	for i, r := range replicas {
		ip, state, _ := strings.Cut(r, " ")
		fmt.Fprintf(&b, "slave%d:ip=%s,port=7000,state=%s,offset=1000,lag=0\r\n", i, ip, state)
	}
	b.WriteString("master_repl_offset:1000\r\n")
	return b.String()
}

// replicaInfo is a replica's INFO server and replication.
func replicaInfo(master, link string) string {
	return "# Server\r\nredis_version:7.0.15\r\nprocess_id:4100\r\nuptime_in_seconds:60\r\n\r\n" +
		"# Replication\r\nrole:slave\r\nmaster_host:" + master + "\r\nmaster_port:7000\r\n" +
		"master_link_status:" + link + "\r\nmaster_last_io_seconds_ago:1\r\nslave_repl_offset:1000\r\n"
}

// sentinelMaster is a SENTINEL MASTER reply naming ip:7000.
func sentinelMaster(ip, flags string) []string {
	return []string{"name", "mymaster", "ip", ip, "port", "7000", "flags", flags,
		"config-epoch", "0", "down-after-milliseconds", "5000", "num-slaves", "2", "num-other-sentinels", "2", "quorum", "2"}
}

// sentinelReplica is one entry of SENTINEL REPLICAS: a healthy replica.
func sentinelReplica(ip string) []string {
	return []string{"name", ip + ":7000", "ip", ip, "port", "7000", "flags", "slave",
		"last-ok-ping-reply", "300", "master-link-status", "ok", "master-host", "10.0.0.1", "master-port", "7000"}
}

// sentinelPeer is one entry of SENTINEL SENTINELS.
func sentinelPeer(ip, flags string, lastOKPingMS int) []string {
	return []string{"name", "0123456789abcdef0123456789abcdef0123" + strings.ReplaceAll(ip, ".", ""), "ip", ip, "port", "8000",
		"flags", flags, "last-ok-ping-reply", fmt.Sprint(lastOKPingMS)}
}

// eventLog records, in order, what a fake cluster saw happen; tests compare
// it with the order a procedure must keep.
type eventLog struct {
	evMu   sync.Mutex
	events []string
}

func (l *eventLog) event(e string) {
	l.evMu.Lock()
	l.events = append(l.events, e)
	l.evMu.Unlock()
}

// Events returns what happened so far, in order.
func (l *eventLog) Events() []string {
	l.evMu.Lock()
	defer l.evMu.Unlock()
	return slices.Clone(l.events)
}

// debugLog is the content of the one debug log in dir.
func debugLog(t *testing.T, dir string) []byte {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(logs) != 1 {
		t.Fatalf("debug logs: %v", logs)
	}
	data, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	return data
}
