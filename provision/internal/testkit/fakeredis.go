package testkit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redisctl/redisctl/provision/acl"
)

// FakeRedis is a tiny RESP2 server on 127.0.0.1 standing in for one Redis
// data node or one Sentinel. It checks AUTH against its password, answers
// PING, and answers every other command from replies the test sets by
// command name ("INFO", "SET", "SENTINEL MASTER"); anything else gets
// "-ERR unknown command", which is also how go-redis learns that HELLO is
// not supported and falls back to AUTH.
type FakeRedis struct {
	name     string
	password string
	ln       net.Listener

	mu      sync.Mutex
	replies map[string]any
	seen    []string // commands received, "AUTH" without its argument
	conns   map[net.Conn]bool
	closed  bool
	wg      sync.WaitGroup
}

// Status is a RESP simple string (+OK); RespError a RESP error (-ERR ...).
// A Go string is sent as a bulk string, an int as an integer, nil as a
// null bulk string, a []string or []any as an array.
type (
	Status    string
	RespError string
)

// NewFakeRedis starts a server that wants password; it stops at the end of
// the test.
func NewFakeRedis(t testing.TB, name, password string) *FakeRedis {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &FakeRedis{name: name, password: password, ln: ln, replies: map[string]any{}, conns: map[net.Conn]bool{}}
	// The default user, as a server started with requirepass lists it.
	s.replies["ACL LIST"] = []string{"user default on #" + acl.HashPassword(password) + " ~* &* +@all"}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// Name returns the name the server was started with ("node1 redis").
func (s *FakeRedis) Name() string { return s.name }

// Reply sets the answer to a command: "INFO", "SET", or a SENTINEL
// subcommand such as "SENTINEL SENTINELS". v may be a func([]string) any to
// answer from the arguments.
func (s *FakeRedis) Reply(cmd string, v any) *FakeRedis {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies[strings.ToUpper(cmd)] = v
	return s
}

// Unset removes the answer to a command, which then gets "-ERR unknown
// command" as a server that does not know it answers (a Sentinel before
// 6.2 and "ACL LIST", say).
func (s *FakeRedis) Unset(cmd string) *FakeRedis {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.replies, strings.ToUpper(cmd))
	return s
}

// Commands returns the commands received so far, by the name their reply
// is looked up under: "AUTH", "SET", "SENTINEL MASTER".
func (s *FakeRedis) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func (s *FakeRedis) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handle(c)
	}
}

// Close stops the server: its connections close and it accepts no more.
// NewFakeRedis registers it with the test's cleanup.
func (s *FakeRedis) Close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

func (s *FakeRedis) handle(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	authed := s.password == ""
	for {
		args, err := ReadCommand(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				WriteReply(w, RespError("ERR protocol error: "+err.Error()))
				w.Flush()
			}
			return
		}
		if len(args) == 0 {
			continue
		}
		var out any
		cmd := strings.ToUpper(args[0])
		switch {
		case cmd == "AUTH":
			s.record("AUTH")
			pw := args[len(args)-1]
			if len(args) < 2 || len(args) > 3 {
				out = RespError("ERR wrong number of arguments for 'auth' command")
			} else if s.password == "" {
				out = RespError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
			} else if pw != s.password {
				out = RespError("WRONGPASS invalid username-password pair or user is disabled.")
			} else {
				authed = true
				out = Status("OK")
			}
		case !authed && cmd != "HELLO":
			s.record(cmd)
			out = RespError("NOAUTH Authentication required.")
		case cmd == "PING":
			s.record(cmd)
			out = Status("PONG")
		default:
			out = s.lookup(args)
		}
		WriteReply(w, out)
		if err := w.Flush(); err != nil {
			return
		}
	}
}

func (s *FakeRedis) record(cmd string) {
	s.mu.Lock()
	s.seen = append(s.seen, cmd)
	s.mu.Unlock()
}

// lookup answers from the replies: "SENTINEL MASTER" before "SENTINEL".
func (s *FakeRedis) lookup(args []string) any {
	key := strings.ToUpper(args[0])
	if len(args) > 1 {
		key2 := key + " " + strings.ToUpper(args[1])
		s.mu.Lock()
		_, ok := s.replies[key2]
		s.mu.Unlock()
		if ok {
			key = key2
		}
	}
	s.mu.Lock()
	s.seen = append(s.seen, key)
	v, ok := s.replies[key]
	s.mu.Unlock()
	if !ok {
		return RespError(fmt.Sprintf("ERR unknown command '%s' (fake %s)", args[0], s.name))
	}
	if f, ok := v.(func([]string) any); ok {
		return f(args)
	}
	return v
}

// ReadCommand reads one RESP array of bulk strings, as clients send.
func ReadCommand(r *bufio.Reader) ([]string, error) {
	line, err := readLine(r)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("want an array, got %q", line)
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil || n < 0 {
		return nil, fmt.Errorf("bad array length %q", line)
	}
	args := make([]string, n)
	for i := range args {
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(line, "$") {
			return nil, fmt.Errorf("want a bulk string, got %q", line)
		}
		size, err := strconv.Atoi(line[1:])
		if err != nil || size < 0 {
			return nil, fmt.Errorf("bad bulk length %q", line)
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:size])
	}
	return args, nil
}

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// WriteReply writes v in RESP2 (see Status for the Go types it sends); it
// panics on any other type. The caller flushes w.
func WriteReply(w *bufio.Writer, v any) {
	switch v := v.(type) {
	case nil:
		w.WriteString("$-1\r\n")
	case Status:
		fmt.Fprintf(w, "+%s\r\n", v)
	case RespError:
		fmt.Fprintf(w, "-%s\r\n", v)
	case int:
		fmt.Fprintf(w, ":%d\r\n", v)
	case string:
		fmt.Fprintf(w, "$%d\r\n%s\r\n", len(v), v)
	case []string:
		fmt.Fprintf(w, "*%d\r\n", len(v))
		for _, e := range v {
			WriteReply(w, e)
		}
	case []any:
		fmt.Fprintf(w, "*%d\r\n", len(v))
		for _, e := range v {
			WriteReply(w, e)
		}
	default:
		panic(fmt.Sprintf("FakeRedis: cannot send %T", v))
	}
}

// DialTable returns a Dial for fake hosts that connects an address such as
// "10.0.0.1:7000" to the fake server standing in for it; any other address
// is refused, as an SSH tunnel to a closed port would be.
func DialTable(servers map[string]*FakeRedis) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		s, ok := servers[addr]
		if !ok {
			return nil, fmt.Errorf("dial %s: connection refused", addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", s.ln.Addr().String())
	}
}
