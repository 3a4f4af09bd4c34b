package tlsca

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTLSRoundTrip runs a TLS handshake with mutual authentication between
// a tls.Server and a tls.Client over net.Pipe, as a replica connecting to
// its master (tls-auth-clients yes) does, with certificates from Issue, and
// sends a byte across. Certificates from another CA, for another name or
// expired must fail, in TLS 1.2 and 1.3 both (Redis accepts either).
func TestTLSRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ca, _, err := LoadOrCreateCA(dir, "prod")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := LoadOrCreateCA(dir, "other")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	master := issuePair(t, ca, "redis-1", []string{"10.0.0.1"}, now)
	replica := issuePair(t, ca, "redis-2", []string{"10.0.0.2"}, now)
	foreignMaster := issuePair(t, other, "redis-1", []string{"10.0.0.1"}, now)
	foreignReplica := issuePair(t, other, "redis-2", []string{"10.0.0.2"}, now)
	expiredMaster := issuePair(t, ca, "redis-1", []string{"10.0.0.1"}, now.Add(-HostValidity-time.Hour))
	roots, err := pool(ca.CertPEM)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name          string
		server        tls.Certificate
		client        *tls.Certificate // nil sends none
		serverName    string
		wantServerErr string // "" succeeds
		wantClientErr string
	}{
		{name: "by address", server: master, client: &replica, serverName: "10.0.0.1"},
		{name: "by host name", server: master, client: &replica, serverName: "redis-1"},
		{
			name: "client certificate from another CA", server: master, client: &foreignReplica, serverName: "10.0.0.1",
			wantServerErr: "unknown authority", wantClientErr: "remote error",
		},
		{
			name: "server certificate from another CA", server: foreignMaster, client: &replica, serverName: "10.0.0.1",
			wantServerErr: "remote error", wantClientErr: "unknown authority",
		},
		{
			name: "server reached by a name its certificate lacks", server: master, client: &replica, serverName: "10.0.0.2",
			wantServerErr: "remote error", wantClientErr: "not 10.0.0.2",
		},
		{
			name: "expired server certificate", server: expiredMaster, client: &replica, serverName: "10.0.0.1",
			wantServerErr: "remote error", wantClientErr: "expired",
		},
		{
			name: "no client certificate", server: master, serverName: "10.0.0.1",
			wantServerErr: "certificate", wantClientErr: "remote error",
		},
	}
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%s", tls.VersionName(version), tt.name), func(t *testing.T) {
				serverCfg := &tls.Config{
					Certificates: []tls.Certificate{tt.server},
					ClientAuth:   tls.RequireAndVerifyClientCert,
					ClientCAs:    roots,
					MinVersion:   version,
					MaxVersion:   version,
				}
				clientCfg := &tls.Config{
					RootCAs:    roots,
					ServerName: tt.serverName,
					MinVersion: version,
					MaxVersion: version,
				}
				if tt.client != nil {
					// Present the certificate whatever CAs the server
					// names, as Redis does: crypto/tls by itself sends
					// none that the server's CA list does not match.
					clientCfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
						return tt.client, nil
					}
				}
				peers, serverErr, clientErr := roundTrip(t, serverCfg, clientCfg)
				checkErr(t, "server", serverErr, tt.wantServerErr)
				checkErr(t, "client", clientErr, tt.wantClientErr)
				if tt.wantServerErr == "" && tt.wantClientErr == "" && peers != "redis-2 -> redis-1" {
					t.Errorf("peers %q, want redis-2 -> redis-1", peers)
				}
			})
		}
	}
}

// roundTrip runs one connection: the server, after its handshake, sends a
// byte the client reads, so that when the server refuses the client's
// certificate after the client's side of a TLS 1.3 handshake is done, the
// client is reading and gets the alert. Both ends of the pipe have a
// sendBuffer. Neither side closes its TLS connection: that would write a
// close_notify no one reads. peers is "client CN -> server CN" as each side
// saw the other.
func roundTrip(t *testing.T, serverCfg, clientCfg *tls.Config) (peers string, serverErr, clientErr error) {
	t.Helper()
	sp, cp := net.Pipe()
	deadline := time.Now().Add(10 * time.Second) // a hang fails, not stalls
	sp.SetDeadline(deadline)
	cp.SetDeadline(deadline)
	sc, cc := withSendBuffer(sp), withSendBuffer(cp)
	defer sc.Close()
	defer cc.Close()

	type result struct {
		err  error
		peer string
	}
	done := make(chan result, 1)
	go func() {
		s := tls.Server(sc, serverCfg)
		err := s.Handshake()
		if err == nil {
			_, err = s.Write([]byte{'+'})
		}
		done <- result{err, peerName(s)}
	}()

	c := tls.Client(cc, clientCfg)
	err := c.Handshake()
	if err == nil {
		b := make([]byte, 1)
		if _, err = c.Read(b); err == nil && b[0] != '+' {
			err = fmt.Errorf("read %q, want '+'", b)
		}
	}
	r := <-done
	return r.peer + " -> " + peerName(c), r.err, err
}

// sendBuffer stands in for a socket's send buffer, which net.Pipe lacks: a
// write returns at once and a goroutine delivers it. Without it, a TLS 1.2
// server that refuses the client's certificate on reading it writes its
// alert while the client is still writing the rest of its flight, and
// both wait for ever.
type sendBuffer struct {
	net.Conn
	mu     sync.Mutex
	closed bool
	queue  chan []byte
}

func withSendBuffer(c net.Conn) *sendBuffer {
	b := &sendBuffer{Conn: c, queue: make(chan []byte, 64)}
	go func() {
		for p := range b.queue {
			// An error means the pipe is closed: the rest is lost, as
			// on a socket that was reset.
			c.Write(p)
		}
	}()
	return b
}

func (b *sendBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, net.ErrClosed
	}
	b.queue <- bytes.Clone(p)
	return len(p), nil
}

func (b *sendBuffer) Close() error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	return b.Conn.Close()
}

// peerName is the common name of the certificate the other end presented.
func peerName(c *tls.Conn) string {
	if certs := c.ConnectionState().PeerCertificates; len(certs) > 0 {
		return certs[0].Subject.CommonName
	}
	return ""
}

func checkErr(t *testing.T, side string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: %v", side, err)
	case want != "" && err == nil:
		t.Errorf("%s succeeded; want an error saying %q", side, want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("%s: error %q, want %q", side, err, want)
	}
}

// issuePair issues a certificate and loads it with its key as crypto/tls
// does, which also shows that Issue's PEM is what TLS libraries read.
func issuePair(t *testing.T, ca *CA, host string, addrs []string, now time.Time) tls.Certificate {
	t.Helper()
	pair, err := tls.X509KeyPair(issueForTest(t, ca, host, addrs, now))
	if err != nil {
		t.Fatal(err)
	}
	return pair
}
