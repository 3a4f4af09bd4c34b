package redisx

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redisctl/redisctl/provision/tlsca"
)

// testCA is a CA that is never saved, for certificates made in the test.
func testCA(t *testing.T, name string) *tlsca.CA {
	t.Helper()
	ca, err := tlsca.StandInCA(name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// issue is ca.Issue that must succeed, as a tls.Certificate with its leaf.
func issue(t *testing.T, ca *tlsca.CA, host string, addrs ...string) tls.Certificate {
	t.Helper()
	certPEM, keyPEM, err := ca.Issue(host, addrs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// clientConfig trusts ca only, as redisctl's connections do.
func clientConfig(t *testing.T, ca *tlsca.CA, certs ...tls.Certificate) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca.CertPEM) {
		t.Fatal("the CA's PEM holds no certificate")
	}
	return &tls.Config{RootCAs: pool, Certificates: certs, MinVersion: tls.VersionTLS12}
}

// tlsServer is a TLS listener on 127.0.0.1 that handshakes every
// connection it accepts, records the handshake's result, and then runs
// serve (when not nil) on the connection.
type tlsServer struct {
	addr string // 127.0.0.1:port

	mu     sync.Mutex
	states []tls.ConnectionState // of handshakes that succeeded
	errs   []error               // of handshakes that failed
}

func startTLSServer(t *testing.T, cfg *tls.Config, serve func(net.Conn)) *tlsServer {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &tlsServer{addr: l.Addr().String()}
	var wg sync.WaitGroup
	var connsMu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed at cleanup
			}
			connsMu.Lock()
			conns = append(conns, c)
			connsMu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				tc := c.(*tls.Conn)
				tc.SetDeadline(time.Now().Add(5 * time.Second))
				err := tc.Handshake()
				s.mu.Lock()
				if err != nil {
					s.errs = append(s.errs, err)
				} else {
					s.states = append(s.states, tc.ConnectionState())
				}
				s.mu.Unlock()
				if err == nil && serve != nil {
					serve(tc)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		connsMu.Lock()
		for _, c := range conns {
			c.Close()
		}
		connsMu.Unlock()
		wg.Wait()
	})
	return s
}

// closeCounter is a net.Conn that counts its Close calls.
type closeCounter struct {
	net.Conn
	mu     sync.Mutex
	closed int
}

func (c *closeCounter) Close() error {
	c.mu.Lock()
	c.closed++
	c.mu.Unlock()
	return c.Conn.Close()
}

func (c *closeCounter) Closes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// toServer is a Dialer that reaches s whatever address it is given, as an
// SSH connection reaches the address on the host's side, recording the
// addresses asked for and the connections it opened.
type toServer struct {
	s *tlsServer

	mu    sync.Mutex
	addrs []string
	conns []*closeCounter
}

func (d *toServer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, d.s.addr)
	if err != nil {
		return nil, err
	}
	cc := &closeCounter{Conn: c}
	d.mu.Lock()
	d.addrs = append(d.addrs, addr)
	d.conns = append(d.conns, cc)
	d.mu.Unlock()
	return cc, nil
}

// seenLog records what TLS's seen is told.
type seenLog struct {
	mu    sync.Mutex
	addrs []string
	ends  []time.Time
}

func (l *seenLog) seen(addr string, st tls.ConnectionState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.addrs = append(l.addrs, addr)
	if len(st.PeerCertificates) > 0 {
		l.ends = append(l.ends, st.PeerCertificates[0].NotAfter)
	} else {
		l.ends = append(l.ends, time.Time{})
	}
}

func TestTLSDial(t *testing.T) {
	ca := testCA(t, "prod")
	other := testCA(t, "other")
	local := issue(t, ca, "node1", "127.0.0.1")
	tests := []struct {
		name    string
		server  tls.Certificate
		addr    string   // dialled; the connection reaches the server whatever it is
		wantErr []string // "" in none: the handshake succeeds
	}{
		{name: "certificate names 127.0.0.1", server: local},
		{name: "by host name", server: local, addr: "node1:7000"},
		{name: "by host name, any case", server: local, addr: "NODE1:7000"},
		{name: "an address forwarded by SSH", server: issue(t, ca, "node2", "10.0.0.2"), addr: "10.0.0.2:7000"},
		{name: "IPv6 address", server: issue(t, ca, "node6", "fd00::6"), addr: "[fd00::6]:7000"},
		{
			name: "certificate names only 10.99.99.99", server: issue(t, ca, "node9", "10.99.99.99"),
			wantErr: []string{"TLS handshake with 127.0.0.1:", "certificate is valid for 10.99.99.99", "not 127.0.0.1"},
		},
		{
			name: "certificate names another host", server: local, addr: "node2:7000",
			wantErr: []string{"TLS handshake with node2:7000", "certificate is valid for", "not node2"},
		},
		{
			name: "certificate from another CA", server: issue(t, other, "node1", "127.0.0.1"),
			wantErr: []string{"TLS handshake with 127.0.0.1:", "certificate signed by unknown authority"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startTLSServer(t, &tls.Config{Certificates: []tls.Certificate{tt.server}}, nil)
			addr := tt.addr
			if addr == "" {
				addr = s.addr
			}
			d := &toServer{s: s}
			var log seenLog
			cfg := clientConfig(t, ca)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			conn, err := TLS(d.dial, cfg, log.seen)(ctx, "tcp", addr)
			if cfg.ServerName != "" {
				t.Errorf("TLS changed the caller's config: ServerName %q", cfg.ServerName)
			}
			if len(d.addrs) != 1 || d.addrs[0] != addr {
				t.Fatalf("the wrapped dialer was asked for %q, want [%s]", d.addrs, addr)
			}
			raw := d.conns[0]
			if tt.wantErr != nil {
				if err == nil {
					conn.Close()
					t.Fatalf("the handshake succeeded; want an error saying %q", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				var verr *tls.CertificateVerificationError
				if !errors.As(err, &verr) {
					t.Errorf("error %q does not wrap a *tls.CertificateVerificationError", err)
				}
				if len(log.addrs) != 0 {
					t.Errorf("seen was told of a failed handshake: %q", log.addrs)
				}
				if raw.Closes() == 0 {
					t.Errorf("the connection of a failed handshake was left open")
				}
				return
			}
			if err != nil {
				t.Fatalf("dial %s: %v", addr, err)
			}
			defer conn.Close()
			tc, ok := conn.(*tls.Conn)
			if !ok {
				t.Fatalf("dial returned a %T, want a *tls.Conn", conn)
			}
			if st := tc.ConnectionState(); !st.HandshakeComplete {
				t.Errorf("the handshake is not complete")
			}
			if raw.Closes() != 0 {
				t.Errorf("the connection under a good handshake was closed")
			}
			wantEnd := tt.server.Leaf.NotAfter
			if len(log.addrs) != 1 || log.addrs[0] != addr || !log.ends[0].Equal(wantEnd) {
				t.Errorf("seen told of (addr, certificate end) %q %v; want once %s, %v", log.addrs, log.ends, addr, wantEnd)
			}
		})
	}
}

// seen may be nil.
func TestTLSDialWithoutSeen(t *testing.T) {
	ca := testCA(t, "prod")
	s := startTLSServer(t, &tls.Config{Certificates: []tls.Certificate{issue(t, ca, "node1", "127.0.0.1")}}, nil)
	d := &toServer{s: s}
	conn, err := TLS(d.dial, clientConfig(t, ca), nil)(t.Context(), "tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
}

// An address without a port is refused before anything is dialled, and
// the wrapped dialer's error comes back as it is.
func TestTLSDialErrors(t *testing.T) {
	ca := testCA(t, "prod")
	calls := 0
	failing := errors.New("ssh: no route")
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		calls++
		return nil, failing
	}
	if _, err := TLS(dial, clientConfig(t, ca), nil)(t.Context(), "tcp", "10.0.0.1"); err == nil || !strings.Contains(err.Error(), "missing port") {
		t.Errorf("address without a port: error %v, want one saying missing port", err)
	}
	if calls != 0 {
		t.Errorf("dialled %d times for an address without a port", calls)
	}
	if _, err := TLS(dial, clientConfig(t, ca), nil)(t.Context(), "tcp", "10.0.0.1:7000"); !errors.Is(err, failing) {
		t.Errorf("dial error: got %v, want %v", err, failing)
	}
}

// The config's client certificate is presented: a server that requires
// one from the CA (tls-auth-clients yes) sees redisctl's.
func TestTLSDialPresentsClientCertificate(t *testing.T) {
	ca := testCA(t, "prod")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	s := startTLSServer(t, &tls.Config{
		Certificates: []tls.Certificate{issue(t, ca, "node1", "127.0.0.1")},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}, func(c net.Conn) { io.Copy(io.Discard, c) })
	d := &toServer{s: s}
	conn, err := TLS(d.dial, clientConfig(t, ca, issue(t, ca, "redisctl")), nil)(t.Context(), "tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	// TLS 1.3 finishes the client's handshake before the server checks
	// the client's certificate: write, and wait for the server's side.
	if _, err := conn.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		n, errs := len(s.states), s.errs
		var peer []*x509.Certificate
		if n > 0 {
			peer = s.states[0].PeerCertificates
		}
		s.mu.Unlock()
		if len(errs) > 0 {
			t.Fatalf("the server refused the client: %v", errs)
		}
		if n > 0 {
			if len(peer) == 0 || peer[0].Subject.CommonName != "redisctl" {
				t.Errorf("the server saw client certificates %v, want redisctl's", peer)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server's handshake did not end")
		}
		time.Sleep(5 * time.Millisecond)
	}
	conn.Close()
}

// fakePONG answers RESP commands: PING with +PONG, anything else (HELLO
// included, as Redis before 6 does) with an error.
func fakePONG(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		reply := fmt.Sprintf("-ERR unknown command '%s'\r\n", args[0])
		if strings.EqualFold(args[0], "PING") {
			reply = "+PONG\r\n"
		}
		if _, err := io.WriteString(c, reply); err != nil {
			return
		}
	}
}

// readCommand reads one RESP array of bulk strings.
func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("not an array: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("bad array length: %q", line)
	}
	args := make([]string, n)
	for i := range args {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "$")))
		if err != nil || size < 0 {
			return nil, fmt.Errorf("bad bulk length: %q", line)
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:size])
	}
	return args, nil
}

// go-redis uses the wrapped dialer as is: a PING through Data reaches the
// server over TLS, and a server it cannot verify is never sent a command.
func TestTLSThroughGoRedis(t *testing.T) {
	ca := testCA(t, "prod")
	good := startTLSServer(t, &tls.Config{Certificates: []tls.Certificate{issue(t, ca, "node1", "127.0.0.1")}}, fakePONG)
	var log seenLog
	rdb := Data(TLS((&toServer{s: good}).dial, clientConfig(t, ca), log.seen), good.addr, "", "")
	defer rdb.Close()
	if got, err := rdb.Ping(t.Context()).Result(); err != nil || got != "PONG" {
		t.Fatalf("PING over TLS: %q, %v; want PONG", got, err)
	}
	log.mu.Lock()
	if len(log.addrs) == 0 || log.addrs[0] != good.addr {
		t.Errorf("seen was told of %q, want %s", log.addrs, good.addr)
	}
	log.mu.Unlock()

	wrong := startTLSServer(t, &tls.Config{Certificates: []tls.Certificate{issue(t, ca, "node9", "10.99.99.99")}}, fakePONG)
	rdb2 := Data(TLS((&toServer{s: wrong}).dial, clientConfig(t, ca), nil), wrong.addr, "", "")
	defer rdb2.Close()
	err := rdb2.Ping(t.Context()).Err()
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("PING to a server whose certificate names 10.99.99.99: error %v, want one about its certificate", err)
	}
	wrong.mu.Lock()
	if len(wrong.states) > 0 {
		t.Errorf("the server finished %d handshakes with a client that cannot verify it", len(wrong.states))
	}
	wrong.mu.Unlock()
}
