package acl

import (
	"bufio"
	"bytes"
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
)

// These tests load rendered ACL files into a real redis-server on
// loopback. They find the binary as provision/render's tests do: in
// $REDISCTL_REDIS_SERVER, else $REDISCTL_CACHE/redis-*/src/ (built by
// testdata/redis-bin.sh), else on PATH; without one they are skipped,
// loudly.

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
		cache = filepath.Join("..", "..", ".cache")
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
	t.Skip("!!! SKIPPED: no redis-server binary, so rendered ACL files were NOT tried on a real server.\n" +
		"!!! Build one with `bash testdata/redis-bin.sh`, or set REDISCTL_REDIS_SERVER.")
	return ""
}

// server is a redis-server started by a test on a free loopback port,
// with the ACL file aclFile (written by the caller) in its directory.
type server struct {
	t        *testing.T
	addr     string
	dir      string
	aclFile  string
	confFile string
	cmd      *exec.Cmd
	out      bytes.Buffer
	done     chan struct{}
}

// startServer writes acl as the server's ACL file and starts it; it fails
// the test if the server does not come up. extra lines go into its config.
func startServer(t *testing.T, acl []byte, extra ...string) *server {
	t.Helper()
	s, err := tryServer(t, acl, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tryServer is startServer returning the reason a server would not start.
func tryServer(t *testing.T, acl []byte, extra ...string) (*server, error) {
	t.Helper()
	s := newServer(t)
	s.aclFile = filepath.Join(s.dir, "users.acl")
	if err := os.WriteFile(s.aclFile, acl, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := []string{"aclfile " + s.aclFile, `save ""`, "appendonly no",
		// PSYNC answers at once instead of after the 5 s wait for more
		// replicas.
		"repl-diskless-sync-delay 0"}
	return s, s.launch(append(conf, extra...))
}

// startSentinel starts redis-server in sentinel mode with conf.
func startSentinel(t *testing.T, conf ...string) *server {
	t.Helper()
	s := newServer(t)
	if err := s.launch(conf, "--sentinel"); err != nil {
		t.Fatal(err)
	}
	return s
}

// newServer picks a free loopback port and a directory.
func newServer(t *testing.T) *server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return &server{t: t, dir: t.TempDir(), addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), done: make(chan struct{})}
}

// launch writes the config file (port, address, directory and log first)
// and starts the server, waiting until it accepts connections.
func (s *server) launch(conf []string, args ...string) error {
	t := s.t
	t.Helper()
	bin := redisServer(t)
	_, port, _ := net.SplitHostPort(s.addr)
	head := []string{"port " + port, "bind 127.0.0.1", "dir " + s.dir, "logfile " + filepath.Join(s.dir, "redis.log")}
	s.confFile = filepath.Join(s.dir, "redis.conf")
	if err := os.WriteFile(s.confFile, []byte(strings.Join(append(head, conf...), "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, append([]string{s.confFile}, args...)...)
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s.answers() {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("redis-server exited (%v): %s", s.cmd.ProcessState, s.log())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after 10s: %s", s.addr, s.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// answers says whether the server replies to PING (NOAUTH is a reply).
// Accepting a connection is not enough: Redis listens before it loads its
// ACL file, and a server about to exit on a bad file accepts for a moment.
func (s *server) answers() bool {
	c, err := net.DialTimeout("tcp", s.addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && (line[0] == '+' || line[0] == '-')
}

func (s *server) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	return s.out.String() + string(b)
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

// conn is one connection speaking the Redis protocol, kept open as long as
// a test wants: go-redis's pool would hide whether a connection survived.
type conn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func (s *server) dial() *conn {
	s.t.Helper()
	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	return &conn{t: s.t, c: c, r: bufio.NewReader(c)}
}

// login dials and authenticates as user.
func (s *server) login(user, password string) *conn {
	s.t.Helper()
	c := s.dial()
	c.ok("AUTH", user, password)
	return c
}

// do sends a command; an error reply comes back as a respError, a broken
// connection as another error.
func (c *conn) do(args ...string) (any, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	c.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.c.Write(b.Bytes()); err != nil {
		return nil, err
	}
	return c.read()
}

func (c *conn) read() (any, error) {
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

// ok sends a command that must succeed.
func (c *conn) ok(args ...string) any {
	c.t.Helper()
	v, err := c.do(args...)
	if err != nil {
		c.t.Fatalf("%s: %v", strings.Join(redact(args), " "), err)
	}
	return v
}

// refused sends a command that must get an error reply starting with
// prefix (NOPERM, WRONGPASS, NOAUTH).
func (c *conn) refused(prefix string, args ...string) {
	c.t.Helper()
	v, err := c.do(args...)
	var re respError
	if !errors.As(err, &re) || !strings.HasPrefix(string(re), prefix) {
		c.t.Errorf("%s: got %#v, %v; want a %s error", strings.Join(redact(args), " "), v, err, prefix)
	}
}

// redact keeps passwords out of test failures, as redisctl keeps them out
// of its output.
func redact(args []string) []string {
	if len(args) > 0 && strings.EqualFold(args[0], "AUTH") {
		return []string{"AUTH", "…"}
	}
	return args
}

// Made-up passwords of the test users.
const (
	pwAdmin = "admin-secret"
	pwRepl  = "replication-secret"
	pwSent  = "sentinel-secret"
	pwApp   = "app-secret"
	pwPub   = "pub-secret"
)

func serverUsers(t *testing.T) []User {
	t.Helper()
	app, err := NewAppUser("app", "~app:* &app:* +@read +@write -@dangerous", HashPassword(pwApp))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := NewAppUser("pub", "&app:* +publish +subscribe +ping", HashPassword(pwPub))
	if err != nil {
		t.Fatal(err)
	}
	return []User{
		DefaultUser(false), AdminUser(HashPassword(pwAdmin)),
		ReplicationUser(HashPassword(pwRepl)), SentinelUser(HashPassword(pwSent)), app, pub,
	}
}

// TestServerRights loads the rendered users and checks each can do its
// job and is refused what issue 14 says it must be refused.
func TestServerRights(t *testing.T) {
	users := serverUsers(t)
	file, err := Render(users)
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, file)

	// The default user is off: a client that sends no user name can do
	// nothing, whatever password it tries.
	anon := s.dial()
	anon.refused("NOAUTH", "PING")
	anon.refused("WRONGPASS", "AUTH", "anything")
	anon.refused("WRONGPASS", "AUTH", "default", "")

	admin := s.login(Admin, pwAdmin)
	// Redis hashes passwords as HashPassword does.
	got := admin.ok("ACL", "GETUSER", Admin).([]any)
	if i := slices.Index(got, any("passwords")); i < 0 || !reflect_equal(got[i+1], []any{HashPassword(pwAdmin)}) {
		t.Errorf("ACL GETUSER admin passwords: %#v, want [%s]", got, HashPassword(pwAdmin))
	}
	admin.ok("CONFIG", "SET", "maxmemory-policy", "noeviction")
	admin.ok("SET", "other", "1")

	repl := s.login(Replication, pwRepl)
	repl.ok("PING")
	repl.ok("REPLCONF", "listening-port", "6399")
	repl.ok("REPLCONF", "capa", "eof", "capa", "psync2")
	for _, args := range [][]string{{"FLUSHALL"}, {"CONFIG", "SET", "maxmemory", "1"}, {"CONFIG", "GET", "masterauth"}, {"GET", "other"}, {"INFO"}, {"ACL", "LIST"}} {
		repl.refused("NOPERM", args...)
	}
	// PSYNC is allowed: the master starts a full sync on this connection.
	sync := s.login(Replication, pwRepl)
	if v, err := sync.do("PSYNC", "?", "-1"); err != nil || !strings.HasPrefix(fmt.Sprint(v), "FULLRESYNC") {
		t.Errorf("PSYNC as replication: %#v, %v; want +FULLRESYNC", v, err)
	}

	sent := s.login(Sentinel, pwSent)
	sent.ok("PING")
	sent.ok("INFO")
	sent.ok("ROLE")
	sent.ok("CLIENT", "SETNAME", "sentinel-test")
	sent.ok("PUBLISH", "__sentinel__:hello", "x")
	sent.ok("MULTI")
	sent.ok("EXEC")
	for _, args := range [][]string{{"FLUSHALL"}, {"CONFIG", "SET", "maxmemory", "1"}, {"CONFIG", "GET", "masterauth"}, {"SET", "k", "v"}, {"GET", "other"}, {"ACL", "LIST"}, {"SHUTDOWN"}} {
		sent.refused("NOPERM", args...)
	}
	sub := s.login(Sentinel, pwSent)
	if v, err := sub.do("SUBSCRIBE", "__sentinel__:hello"); err != nil {
		t.Errorf("SUBSCRIBE as sentinel: %#v, %v", v, err)
	}

	app := s.login("app", pwApp)
	app.ok("SET", "app:x", "1")
	if v := app.ok("GET", "app:x"); v != "1" {
		t.Errorf("GET app:x = %#v", v)
	}
	// Issue 14's example rules give neither PING (@connection) nor
	// PUBLISH (@pubsub), although they name channels: a client that pings
	// its connections needs +ping added.
	for _, args := range [][]string{{"PING"}, {"PUBLISH", "app:events", "x"}, {"SET", "other", "2"}, {"GET", "other"}, {"FLUSHALL"}, {"FLUSHDB"}, {"KEYS", "*"}, {"CONFIG", "SET", "maxmemory", "1"}, {"CONFIG", "GET", "requirepass"}, {"ACL", "LIST"}} {
		app.refused("NOPERM", args...)
	}

	pub := s.login("pub", pwPub)
	pub.ok("PING")
	pub.ok("PUBLISH", "app:events", "x")
	pub.refused("NOPERM", "PUBLISH", "other", "x")
	pub.refused("NOPERM", "SUBSCRIBE", "other")
	pub.refused("NOPERM", "GET", "app:x")

	// What ACL SAVE writes reads back as what was loaded, except the app
	// user's category rules, which Redis rewords.
	admin.ok("ACL", "SAVE")
	saved, err := os.ReadFile(s.aclFile)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(saved)
	if err != nil {
		t.Fatalf("parsing what ACL SAVE wrote: %v\n%s", err, saved)
	}
	d := Compare(back, users)
	want := []Difference{{User: "app", Fields: []string{"commands"}, MaybeReworded: true}}
	if !reflect_equal(d, want) {
		t.Errorf("Compare(ACL SAVE's file, rendered users) = %v, want %v\nsaved:\n%s", d, want, saved)
	}
	t.Logf("ACL SAVE wrote:\n%s", saved)
}

func reflect_equal(a, b any) bool { return fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b) }

// TestServerRotation is the rotation's ACL part on one server: the new
// password added beside the old, the old removed, with connections opened
// under the old one kept working throughout, both by hash (as NextSteps's
// steps do it) and in clear (ACL SETUSER u >new, <old).
func TestServerRotation(t *testing.T) {
	file, err := Render(serverUsers(t))
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, file)
	admin := s.login(Admin, pwAdmin)

	for _, tc := range []struct {
		name        string
		old, new    string
		add, remove func(old, new string) []string
	}{
		{"by hash", pwApp, "app-secret-2",
			func(_, new string) []string { return []string{"ACL", "SETUSER", "app", "#" + HashPassword(new)} },
			func(old, _ string) []string { return []string{"ACL", "SETUSER", "app", "!" + HashPassword(old)} }},
		{"in clear", "app-secret-2", "app-secret-3",
			func(_, new string) []string { return []string{"ACL", "SETUSER", "app", ">" + new} },
			func(old, _ string) []string { return []string{"ACL", "SETUSER", "app", "<" + old} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			held := s.login("app", tc.old)
			held.ok("SET", "app:k", "before")

			admin.ok(tc.add(tc.old, tc.new)...)
			s.login("app", tc.old).ok("GET", "app:k")
			s.login("app", tc.new).ok("GET", "app:k")
			held.ok("SET", "app:k", "between")

			admin.ok(tc.remove(tc.old, tc.new)...)
			s.dial().refused("WRONGPASS", "AUTH", "app", tc.old)
			s.login("app", tc.new).ok("SET", "app:k", "after")
			// The connection that logged in with the old password goes on.
			if v := held.ok("GET", "app:k"); v != "after" {
				t.Errorf("GET app:k on the connection kept = %#v", v)
			}

			admin.ok("ACL", "SAVE")
			saved, err := os.ReadFile(s.aclFile)
			if err != nil {
				t.Fatal(err)
			}
			users, err := Parse(saved)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(users, func(u User) bool { return u.Name == "app" })
			if i < 0 || !slices.Equal(users[i].Passwords, []string{HashPassword(tc.new)}) {
				t.Errorf("after ACL SAVE the app user has %d passwords, want only the new one", len(users[i].Passwords))
			}
			if bytes.Contains(saved, []byte(tc.new)) || bytes.Contains(saved, []byte(tc.old)) {
				t.Errorf("ACL SAVE wrote a password in clear")
			}
		})
	}
}

// TestServerFacts pins what Redis 7.0.15 does that this package relies on
// or warns about.
func TestServerFacts(t *testing.T) {
	admin := AdminUser(HashPassword(pwAdmin))

	t.Run("a file without the default user opens the server to anyone", func(t *testing.T) {
		s := startServer(t, []byte(admin.Line()+"\n"))
		c := s.dial()
		c.ok("PING")
		c.ok("FLUSHALL")
		if _, err := Render([]User{admin}); err == nil {
			t.Error("Render wrote such a file")
		}
	})

	t.Run("a comment line stops the server", func(t *testing.T) {
		_, err := tryServer(t, []byte("# users\n"+DefaultUser(false).Line()+"\n"+admin.Line()+"\n"))
		if err == nil || !strings.Contains(err.Error(), "should start with user keyword") {
			t.Errorf("got %v, want the server to refuse the comment", err)
		}
	})

	t.Run("an unknown category stops the server", func(t *testing.T) {
		// ParseRules takes Redis 8's module categories; Redis 7.0 does not.
		r, err := ParseRules("+@json")
		if err != nil {
			t.Fatal(err)
		}
		u := User{Name: "j", Enabled: true, Rules: r}
		_, err = tryServer(t, []byte(DefaultUser(false).Line()+"\n"+u.Line()+"\n"))
		if err == nil {
			t.Errorf("Redis 7.0 loaded +@json")
		}
	})

	t.Run("ACL LOAD closes connections already open", func(t *testing.T) {
		// So a live server's users change with ACL SETUSER, then ACL SAVE,
		// never by writing the file and ACL LOAD.
		file, err := Render(serverUsers(t))
		if err != nil {
			t.Fatal(err)
		}
		s := startServer(t, file)
		held := s.login("app", pwApp)
		held.ok("GET", "app:x")
		admin := s.login(Admin, pwAdmin)
		version := fields(admin.ok("INFO", "server").(string))["redis_version"]
		admin.ok("ACL", "LOAD")
		_, err = held.do("GET", "app:x")
		t.Logf("Redis %s: after ACL LOAD of the same file, a connection of a user in it: %v", version, err)
		if strings.HasPrefix(version, "7.0.") && err == nil {
			t.Errorf("Redis %s kept the connection open across ACL LOAD", version)
		}
	})

	t.Run("two processes save the same users alike", func(t *testing.T) {
		users := serverUsers(t)
		file, err := Render(users)
		if err != nil {
			t.Fatal(err)
		}
		var saved [2][]User
		for i := range saved {
			s := startServer(t, file)
			s.login(Admin, pwAdmin).ok("ACL", "SAVE")
			data, err := os.ReadFile(s.aclFile)
			if err != nil {
				t.Fatal(err)
			}
			if saved[i], err = Parse(data); err != nil {
				t.Fatal(err)
			}
			s.stop()
		}
		if d := Compare(saved[0], saved[1]); len(d) > 0 {
			t.Errorf("two saves differ: %v", d)
		}
	})
}

// fields turns an INFO reply into key -> value.
func fields(info string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(info, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = v
		}
	}
	return m
}

// TestServerSentinelAndReplica gives the replication and sentinel users
// their real jobs: a replica syncs as replication; a sentinel monitors both
// nodes as sentinel and moves the master (SENTINEL FAILOVER: SLAVEOF, CONFIG
// REWRITE and CLIENT KILL inside MULTI on the nodes), after which the old
// master syncs from the new one; and no node denied them anything (ACL LOG
// stays empty).
func TestServerSentinelAndReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("a failover takes a few seconds")
	}
	file, err := Render(serverUsers(t))
	if err != nil {
		t.Fatal(err)
	}
	auth := []string{"masteruser " + Replication, "masterauth " + pwRepl}
	m := startServer(t, file, auth...)
	mHost, mPort, _ := net.SplitHostPort(m.addr)
	r := startServer(t, file, append(auth, "replicaof "+mHost+" "+mPort)...)
	// Sentinel closes normal clients' connections when it reconfigures a
	// node (CLIENT KILL TYPE normal), so each look is a new connection, and
	// a look whose connection was closed under it is polled again.
	admin := func(s *server) *conn { return s.login(Admin, pwAdmin) }
	look := func(s *server, args ...string) (any, error) {
		c := s.dial()
		if v, err := c.do("AUTH", Admin, pwAdmin); err != nil || v != "OK" {
			return nil, fmt.Errorf("AUTH: %v %v", v, err)
		}
		return c.do(args...)
	}

	linkUp := func(s *server) func() (bool, string) {
		return func() (bool, string) {
			v, err := look(s, "INFO", "replication")
			info, _ := v.(string)
			if err != nil || info == "" {
				return false, fmt.Sprintf("INFO: %v %v", v, err)
			}
			f := fields(info)
			return f["role"] == "slave" && f["master_link_status"] == "up", fmt.Sprintf("role:%s master_link_status:%s", f["role"], f["master_link_status"])
		}
	}
	waitFor(t, "the replica in sync as user replication", linkUp(r))

	s := startSentinel(t,
		"sentinel monitor mymaster "+mHost+" "+mPort+" 1",
		"sentinel auth-user mymaster "+Sentinel,
		"sentinel auth-pass mymaster "+pwSent,
		"sentinel down-after-milliseconds mymaster 2000",
		"sentinel failover-timeout mymaster 10000")
	sc := s.dial()
	waitFor(t, "the sentinel to see the master and the replica", func() (bool, string) {
		master := pairs(sc.ok("SENTINEL", "MASTER", "mymaster"))
		reps, _ := sc.ok("SENTINEL", "REPLICAS", "mymaster").([]any)
		var rf string
		if len(reps) == 1 {
			rf = pairs(reps[0])["flags"] + " link " + pairs(reps[0])["master-link-status"]
		}
		return master["flags"] == "master" && rf == "slave link ok", "master " + master["flags"] + ", replica " + rf
	})

	sc.ok("SENTINEL", "FAILOVER", "mymaster")
	waitFor(t, "the replica promoted", func() (bool, string) {
		v, err := look(r, "ROLE")
		if err != nil {
			return false, "ROLE: " + err.Error()
		}
		role, _ := v.([]any)
		return len(role) > 0 && role[0] == "master", fmt.Sprintf("role %v", role[:min(1, len(role))])
	})
	waitFor(t, "the old master replicating from the new one", linkUp(m))
	// The sentinel's CONFIG REWRITE reached the promoted node's file.
	conf, err := os.ReadFile(r.confFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(conf), "\nreplicaof ") {
		t.Errorf("the promoted node's config still has its replicaof line: CONFIG REWRITE did not run\n%s", conf)
	}
	for name, s := range map[string]*server{"old master": m, "new master": r} {
		if entries, _ := admin(s).ok("ACL", "LOG").([]any); len(entries) > 0 {
			t.Errorf("%s denied something: %v", name, entries)
		}
	}
}

// waitFor polls cond for up to 30 s; cond says whether it holds and what
// it saw, for the failure message.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	for {
		ok, saw := cond()
		if ok {
			t.Logf("%s after %v", what, time.Since(start).Round(10*time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 30s for %s; last saw %s", what, saw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pairs turns a flat [key value ...] array reply into a map.
func pairs(v any) map[string]string {
	m := map[string]string{}
	vs, _ := v.([]any)
	for i := 0; i+1 < len(vs); i += 2 {
		m[fmt.Sprint(vs[i])] = fmt.Sprint(vs[i+1])
	}
	return m
}
