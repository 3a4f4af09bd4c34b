package render

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redisctl/redisctl/provision/inventory"
)

// These tests start real redis-server processes on rendered configs. They
// find the binary in $REDISCTL_REDIS_SERVER, else in
// $REDISCTL_CACHE/redis-*/src/ (built by testdata/redis-bin.sh, which
// `make test` runs), else on PATH, and are skipped, loudly, without one.

func redisServer(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("REDISCTL_REDIS_SERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("REDISCTL_REDIS_SERVER: %v", err)
		}
		return p
	}
	cache := os.Getenv("REDISCTL_CACHE")
	if cache == "" {
		cache = filepath.Join(repoRoot, ".cache")
	}
	found, _ := filepath.Glob(filepath.Join(cache, "redis-*", "src", "redis-server"))
	if len(found) > 0 {
		sort.Strings(found)
		p, err := filepath.Abs(found[len(found)-1])
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	msg := "!!! SKIPPED: no redis-server binary, so rendered configs were NOT tried on a real server.\n" +
		"!!! Build one with `bash testdata/redis-bin.sh` (or `make redis-bin`), or set REDISCTL_REDIS_SERVER."
	t.Skip(msg)
	return ""
}

func redisVersion(t *testing.T, bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", bin, err)
	}
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return v
		}
	}
	return strings.TrimSpace(string(out))
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// server is a redis-server process started by a test.
type server struct {
	cmd  *exec.Cmd
	addr string
	log  string
	out  *bytes.Buffer
	done chan struct{}
}

// startServer runs bin with args and waits until port accepts connections.
func startServer(t *testing.T, bin string, port int, logFile string, args ...string) *server {
	t.Helper()
	s := &server{
		cmd:  exec.Command(bin, args...),
		addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		log:  logFile,
		out:  &bytes.Buffer{},
		done: make(chan struct{}),
	}
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			return s
		}
		select {
		case <-s.done:
			t.Fatalf("%s exited: %v\n%s", strings.Join(args, " "), s.cmd.ProcessState, s.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: nothing listens on %s after 10s\n%s", strings.Join(args, " "), s.addr, s.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// output is what the server printed and the end of its log file.
func (s *server) output() string {
	log, _ := os.ReadFile(s.log)
	lines := strings.Split(strings.TrimRight(string(log), "\n"), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return "output: " + s.out.String() + "\nlog " + s.log + ":\n" + strings.Join(lines, "\n")
}

func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// respError is an error reply from the server.
type respError string

func (e respError) Error() string { return string(e) }

// resp speaks the Redis protocol on one connection: enough for AUTH,
// CONFIG, INFO and SENTINEL. Arguments are sent as binary-safe bulk strings.
type resp struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, addr string) *resp {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &resp{t: t, conn: c, r: bufio.NewReader(c)}
}

// do sends a command; a reply that is an error comes back as a respError.
func (c *resp) do(args ...string) (any, error) {
	c.t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	c.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.conn.Write(b.Bytes()); err != nil {
		c.t.Fatalf("%s: %v", args[0], err)
	}
	v, err := c.read()
	var re respError
	if err != nil && !errors.As(err, &re) {
		c.t.Fatalf("%s: %v", args[0], err)
	}
	return v, err
}

// must sends a command that has to succeed.
func (c *resp) must(args ...string) any {
	c.t.Helper()
	v, err := c.do(args...)
	if err != nil {
		c.t.Fatalf("%s: %v", args[0], err)
	}
	return v
}

func (c *resp) read() (any, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, fmt.Errorf("empty reply line")
	}
	switch body := line[1:]; line[0] {
	case '+':
		return body, nil
	case '-':
		return nil, respError(body)
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		vs := make([]any, n)
		for i := range vs {
			if vs[i], err = c.read(); err != nil {
				return nil, err
			}
		}
		return vs, nil
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}

// strs turns an array reply of strings into a []string.
func strs(t *testing.T, v any) []string {
	t.Helper()
	vs, ok := v.([]any)
	if !ok {
		t.Fatalf("want an array reply, got %#v", v)
	}
	out := make([]string, len(vs))
	for i, x := range vs {
		s, ok := x.(string)
		if !ok {
			t.Fatalf("want strings in the array reply, got %#v", v)
		}
		out[i] = s
	}
	return out
}

// fields turns an INFO reply into key -> value.
func fields(t *testing.T, v any) map[string]string {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("want a bulk reply, got %#v", v)
	}
	m := map[string]string{}
	for _, l := range strings.Split(s, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && !strings.HasPrefix(l, "#") {
			m[k] = v
		}
	}
	return m
}

// wantError checks that the reply to a command is an error of the given kind.
func wantError(t *testing.T, c *resp, prefix string, args ...string) {
	t.Helper()
	v, err := c.do(args...)
	var re respError
	if !errors.As(err, &re) || !strings.HasPrefix(string(re), prefix) {
		t.Errorf("%s: got %#v, %v; want a %s error", args[0], v, err, prefix)
	}
}

// testRedis renders the redis.conf of inv's host i (a replica follows
// masterPort on loopback), adjusted to run unprivileged in dir on a free
// loopback port, starts redis-server on it and returns the server.
func testRedis(t *testing.T, bin string, inv *inventory.Inventory, i int, masterPort int, dir string) (*server, RedisConf) {
	t.Helper()
	h := &inv.Hosts[i]
	masterAddr := inv.Master().Address
	c, err := NewRedisConf(inv, h, masterAddr, InitSysV)
	if err != nil {
		t.Fatal(err)
	}
	c.Path = filepath.Join(dir, "redis.conf")
	c.Port = freePort(t)
	c.Bind = []string{"127.0.0.1"}
	c.Daemonize = false
	c.PidFile = filepath.Join(dir, "redis.pid")
	c.LogFile = filepath.Join(dir, "redis.log")
	c.Dir = dir
	if c.ReplicaOf != nil {
		c.ReplicaOf = &Addr{Host: "127.0.0.1", Port: masterPort}
	}
	data, err := RenderRedisConf(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.Path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	return startServer(t, bin, c.Port, c.LogFile, c.Path), c
}

func TestRedisServerOnRenderedConfig(t *testing.T) {
	bin := redisServer(t)
	t.Logf("redis-server %s (%s)", redisVersion(t, bin), bin)

	inv := testInventory(tricky, "10.231.0.11", "10.231.0.12", "10.231.0.13")
	inv.Redis.Config = append(inv.Redis.Config,
		inventory.Directive{Name: "save", Value: `""`},
		inventory.Directive{Name: "client-output-buffer-limit", Value: `"replica 256mb 64mb 60"`},
		inventory.Directive{Name: "maxmemory-policy", Value: "allkeys-lru"},
		inventory.Directive{Name: "repl-diskless-sync-delay", Value: "0"}, // sync at once
	)
	masterDir, replicaDir := t.TempDir(), t.TempDir()
	master, mc := testRedis(t, bin, inv, 0, 0, masterDir)

	c := dial(t, master.addr)
	wantError(t, c, "NOAUTH", "PING")
	wantError(t, c, "WRONGPASS", "AUTH", "p@ss")
	wantError(t, c, "WRONGPASS", "AUTH", tricky+" ")
	if v := c.must("AUTH", tricky); v != "OK" {
		t.Fatalf("AUTH: %v", v)
	}
	if v := c.must("PING"); v != "PONG" {
		t.Fatalf("PING: %v", v)
	}
	for _, d := range []string{"requirepass", "masterauth"} {
		if got := strs(t, c.must("CONFIG", "GET", d)); !slices.Equal(got, []string{d, tricky}) {
			t.Errorf("CONFIG GET %s = %q", d, got)
		}
	}
	want := []string{"client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"}
	if got := strs(t, c.must("CONFIG", "GET", "client-output-buffer-limit")); !slices.Equal(got, want) {
		t.Errorf("CONFIG GET client-output-buffer-limit = %q, want %q", got, want)
	}
	if got := strs(t, c.must("CONFIG", "GET", "save")); !slices.Equal(got, []string{"save", ""}) {
		t.Errorf("CONFIG GET save = %q", got)
	}
	// Two replicas in the inventory: sync as soon as both wait. The setting
	// changes live (up applies a new host count with CONFIG SET).
	if got := strs(t, c.must("CONFIG", "GET", "repl-diskless-sync-max-replicas")); !slices.Equal(got, []string{"repl-diskless-sync-max-replicas", "2"}) {
		t.Errorf("CONFIG GET repl-diskless-sync-max-replicas = %q", got)
	}
	if v := c.must("CONFIG", "SET", "repl-diskless-sync-max-replicas", "2"); v != "OK" {
		t.Errorf("CONFIG SET repl-diskless-sync-max-replicas: %v", v)
	}
	pid, err := os.ReadFile(mc.PidFile)
	if err != nil || strings.TrimSpace(string(pid)) != strconv.Itoa(master.cmd.Process.Pid) {
		t.Errorf("pid file %s: %q, %v; want %d", mc.PidFile, pid, err, master.cmd.Process.Pid)
	}

	// A replica authenticates to the master with masterauth.
	replica, _ := testRedis(t, bin, inv, 1, mc.Port, replicaDir)
	rc := dial(t, replica.addr)
	rc.must("AUTH", tricky)
	deadline := time.Now().Add(10 * time.Second)
	for {
		info := fields(t, rc.must("INFO", "replication"))
		if info["role"] == "slave" && info["master_link_status"] == "up" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica not in sync after 10s: role %q, master_link_status %q\n%s",
				info["role"], info["master_link_status"], replica.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	wantError(t, rc, "READONLY", "SET", "k", "v")

	// Redis rewrites the file (as Sentinel makes it do in a failover); the
	// result still reads back with the same password.
	if v := c.must("CONFIG", "REWRITE"); v != "OK" {
		t.Fatalf("CONFIG REWRITE: %v", v)
	}
	data, err := os.ReadFile(mc.Path)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := ParseConfig(data)
	if err != nil {
		t.Fatalf("rewritten redis.conf: %v\n%s", err, data)
	}
	for _, d := range []string{"requirepass", "masterauth"} {
		if got := argsOf(lines, d); !slices.Equal(got, []string{tricky}) {
			t.Errorf("rewritten redis.conf: %s reads back as %q", d, got)
		}
	}
}

// TestSentinelOnRenderedConfig starts a Sentinel on a rendered sentinel.conf
// monitoring a real master, for passwords of increasing difficulty, and
// checks how the file Sentinel rewrites reads back.
func TestSentinelOnRenderedConfig(t *testing.T) {
	bin := redisServer(t)
	version := redisVersion(t, bin)
	t.Logf("redis-server %s (%s)", version, bin)

	for _, pw := range []string{
		"s3cret-Pa55",
		`h#$h\x`, // quoted by Quote, but reads back the same unquoted
		tricky,
		"pass word",   // a blank: one argument too many
		`"in quotes"`, // reads back without its quotes
	} {
		t.Run(pw, func(t *testing.T) {
			inv := testInventory(pw, "10.231.0.11", "10.231.0.12", "10.231.0.13")
			_, mc := testRedis(t, bin, inv, 0, 0, t.TempDir())

			dir := t.TempDir()
			sc, err := NewSentinelConf(inv, &inv.Hosts[0], "127.0.0.1", InitSysV)
			if err != nil {
				t.Fatal(err)
			}
			sc.Path = filepath.Join(dir, "sentinel.conf")
			sc.Port = freePort(t)
			sc.Bind = []string{"127.0.0.1"}
			sc.Daemonize = false
			sc.PidFile = filepath.Join(dir, "sentinel.pid")
			sc.LogFile = filepath.Join(dir, "sentinel.log")
			sc.Dir = dir
			sc.Master.Port = mc.Port
			rendered, err := RenderSentinelConf(sc)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(sc.Path, rendered, 0o640); err != nil {
				t.Fatal(err)
			}
			s := startServer(t, bin, sc.Port, sc.LogFile, sc.Path, "--sentinel")

			c := dial(t, s.addr)
			wantError(t, c, "NOAUTH", "PING")
			wantError(t, c, "WRONGPASS", "AUTH", "wrong")
			if v := c.must("AUTH", pw); v != "OK" {
				t.Fatalf("AUTH: %v", v)
			}
			got := strs(t, c.must("SENTINEL", "GET-MASTER-ADDR-BY-NAME", inv.Name))
			if want := []string{"127.0.0.1", strconv.Itoa(mc.Port)}; !slices.Equal(got, want) {
				t.Errorf("get-master-addr-by-name = %q, want %q", got, want)
			}
			// auth-pass works: Sentinel's INFO to the master succeeds.
			deadline := time.Now().Add(15 * time.Second)
			for {
				m := pairs(strs(t, c.must("SENTINEL", "MASTER", inv.Name)))
				refresh, _ := strconv.Atoi(m["info-refresh"])
				if m["role-reported"] == "master" && refresh < 11000 && m["flags"] == "master" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("sentinel never got INFO from the master (auth-pass?): %v\n%s", m, s.output())
				}
				time.Sleep(100 * time.Millisecond)
			}

			// Sentinel rewrites its file as soon as it starts (it adds its id).
			var rewritten []byte
			deadline = time.Now().Add(10 * time.Second)
			for {
				rewritten, err = os.ReadFile(sc.Path)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(rewritten, []byte("\nsentinel myid ")) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("sentinel did not rewrite %s within 10s\n%s", sc.Path, s.output())
				}
				time.Sleep(100 * time.Millisecond)
			}

			checkErr := CheckSentinelConf(rewritten, inv.Name, pw)
			if SentinelRewriteSafe(pw) {
				if checkErr != nil {
					t.Fatalf("rewritten sentinel.conf: %v\n%s", checkErr, rewritten)
				}
				lines, _ := ParseConfig(rewritten)
				if id := Find(lines, "sentinel", "myid"); len(id) != 1 || len(id[0].Args) != 3 || len(id[0].Args[2]) != 40 {
					t.Errorf("rewritten sentinel.conf: sentinel myid lines %v", id)
				}
				return
			}
			if checkErr == nil {
				t.Logf("redis %s writes a password that needs quoting back correctly", version)
				return
			}
			// Sentinel 7.0 writes auth-pass and sentinel-pass back unquoted.
			// Record exactly what it wrote and what a restart makes of it.
			var written []string
			for _, l := range strings.Split(string(rewritten), "\n") {
				if strings.HasPrefix(l, "requirepass ") || strings.HasPrefix(l, "sentinel auth-pass ") ||
					strings.HasPrefix(l, "sentinel sentinel-pass ") {
					written = append(written, "    "+l)
				}
			}
			s.stop()
			// A file that still parses may start, with another password: give
			// it 3 s, then call it started.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			restart := exec.CommandContext(ctx, bin, sc.Path, "--sentinel")
			out, err := restart.CombinedOutput()
			outcome := fmt.Sprintf("exits: %v", err)
			if ctx.Err() != nil {
				outcome = "starts, with a password that is not the cluster's"
			}
			t.Logf("KNOWN PROBLEM, redis %s: Sentinel rewrote %s so that it no longer reads back: %v\n"+
				"  password lines as rewritten:\n%s\n  restarting Sentinel on it %s\n%s",
				version, filepath.Base(sc.Path), checkErr, strings.Join(written, "\n"), outcome, indent(string(out)))
		})
	}
}

// pairs turns a flat field/value list (SENTINEL MASTER) into a map.
func pairs(kv []string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// TestSentinelsOnRenderedIdentity starts a master, two replicas and three
// sentinels whose first config files carry the ids and peers redisctl
// plans (all on loopback, on free ports): each sentinel must report its
// planned id and know the two others, by those ids, and both replicas from
// its first second, keep exactly that after the hello messages, and write
// the same ids back when it rewrites its file.
func TestSentinelsOnRenderedIdentity(t *testing.T) {
	bin := redisServer(t)
	t.Logf("redis-server %s (%s)", redisVersion(t, bin), bin)
	const pw = "s3cret-Pa55"
	inv := testInventory(pw, "10.231.0.11", "10.231.0.12", "10.231.0.13")
	inv.Sentinel.DownAfterMS = 2000
	_, mc := testRedis(t, bin, inv, 0, 0, t.TempDir())
	var replicas []Addr
	for i := 1; i < 3; i++ {
		_, rc := testRedis(t, bin, inv, i, mc.Port, t.TempDir())
		replicas = append(replicas, Addr{Host: "127.0.0.1", Port: rc.Port})
	}

	var sentinels []Addr
	var files []SentinelFile
	for range 3 {
		a := Addr{Host: "127.0.0.1", Port: freePort(t)}
		sentinels = append(sentinels, a)
		files = append(files, SentinelFile{Addr: a})
	}
	ids, err := PlanSentinelIDs(inv.Name, files, NewSentinelID)
	if err != nil {
		t.Fatal(err)
	}
	var conns []*resp
	var paths []string
	for i := range sentinels {
		dir := t.TempDir()
		sc, err := NewSentinelConf(inv, &inv.Hosts[i], "127.0.0.1", InitSysV)
		if err != nil {
			t.Fatal(err)
		}
		sc.Path = filepath.Join(dir, "sentinel.conf")
		sc.Port = sentinels[i].Port
		sc.Bind = []string{"127.0.0.1"}
		sc.Daemonize = false
		sc.PidFile = filepath.Join(dir, "sentinel.pid")
		sc.LogFile = filepath.Join(dir, "sentinel.log")
		sc.Dir = dir
		sc.Master.Port = mc.Port
		if sc.Identity, err = NewSentinelIdentity(i, sentinels, ids, replicas); err != nil {
			t.Fatal(err)
		}
		data, err := RenderSentinelConf(sc)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(sc.Path, data, 0o640); err != nil {
			t.Fatal(err)
		}
		s := startServer(t, bin, sc.Port, sc.LogFile, sc.Path, "--sentinel")
		c := dial(t, s.addr)
		c.must("AUTH", pw)
		conns = append(conns, c)
		paths = append(paths, sc.Path)
	}

	// peersOf returns the ids of the sentinels c knows and how many replicas.
	peersOf := func(c *resp) (peers []string, replicaCount int) {
		for _, v := range c.must("SENTINEL", "SENTINELS", inv.Name).([]any) {
			peers = append(peers, pairs(strs(t, v))["runid"])
		}
		slices.Sort(peers)
		return peers, len(c.must("SENTINEL", "REPLICAS", inv.Name).([]any))
	}
	others := func(i int) []string {
		var o []string
		for j, id := range ids {
			if j != i {
				o = append(o, id)
			}
		}
		slices.Sort(o)
		return o
	}
	check := func(when string) {
		for i, c := range conns {
			if got := c.must("SENTINEL", "MYID"); got != ids[i] {
				t.Errorf("%s: sentinel %d: SENTINEL MYID %v, want %s", when, i, got, ids[i])
			}
			peers, n := peersOf(c)
			if !slices.Equal(peers, others(i)) || n != 2 {
				t.Errorf("%s: sentinel %d knows sentinels %q and %d replicas, want %q and 2", when, i, peers, n, others(i))
			}
		}
	}
	// Before any hello message (every 2 s) could have told them.
	check("at start")

	// The hellos match the entries: all reachable, and still no others.
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok := true
		for _, c := range conns {
			for _, v := range c.must("SENTINEL", "SENTINELS", inv.Name).([]any) {
				if p := pairs(strs(t, v)); p["flags"] != "sentinel" {
					ok = false
				}
			}
			// NOQUORUM is an error reply: not yet.
			if v, err := c.do("SENTINEL", "CKQUORUM", inv.Name); err != nil || !strings.HasPrefix(fmt.Sprint(v), "OK") {
				ok = false
			}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sentinels did not all reach each other within 15s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2500 * time.Millisecond) // at least one round of hellos
	check("after the hellos")

	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := ParseConfig(data)
		if err != nil {
			t.Fatalf("sentinel %d: rewritten file: %v", i, err)
		}
		if my := Find(lines, "sentinel", "myid"); len(my) != 1 || my[0].Args[2] != ids[i] {
			t.Errorf("sentinel %d: rewritten file: myid lines %v, want %s", i, my, ids[i])
		}
		var known []string
		for _, l := range Find(lines, "sentinel", "known-sentinel") {
			known = append(known, l.Args[len(l.Args)-1])
		}
		slices.Sort(known)
		if !slices.Equal(known, others(i)) {
			t.Errorf("sentinel %d: rewritten file knows sentinels %q, want %q", i, known, others(i))
		}
	}
}
