package sshhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/redisctl/redisctl/provision/remote"
)

// Host is one SSH connection to a machine; it implements remote.Host.
// Its methods may be called from several goroutines.
type Host struct {
	name   string
	ep     endpoint
	client *ssh.Client
	jump   *ssh.Client // nil without a jump host

	done      chan struct{}
	closeOnce sync.Once

	sftpMu sync.Mutex
	sftp   *sftp.Client

	// sessions holds a slot for each command running (Run): sshd refuses
	// sessions past its MaxSessions (10 by default) on one connection, and
	// the SFTP subsystem and a kill (stop) need one each besides.
	sessions chan struct{}
}

// maxRunSessions is how many commands Run runs at once on one host.
const maxRunSessions = 6

var _ remote.Host = (*Host)(nil)

// Connect opens the SSH connection described by c. Its errors start with
// the host's name; see UnknownHostError, HostKeyChangedError and ErrAuth.
func Connect(ctx context.Context, c Config) (*Host, error) {
	return connect(ctx, c, newKeyring())
}

// maxParallelConnects bounds the handshakes ConnectAll runs at once.
const maxParallelConnects = 16

// ConnectAll connects to every host in parallel. If any fails it closes
// the others and returns every failure joined, each prefixed with its
// host's name (errors.Is and errors.As see through the join).
func ConnectAll(ctx context.Context, cs []Config) ([]*Host, error) {
	ring := newKeyring() // one passphrase prompt per key file for all hosts
	hosts := make([]*Host, len(cs))
	errs := make([]error, len(cs))
	sem := make(chan struct{}, maxParallelConnects)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			hosts[i], errs[i] = connect(ctx, c, ring)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, h := range hosts {
			if h != nil {
				h.Close()
			}
		}
		return nil, err
	}
	return hosts, nil
}

func connect(ctx context.Context, c Config, ring *keyring) (*Host, error) {
	name := c.Name
	if name == "" {
		name = c.Address
	}
	h, err := dialHost(ctx, c, ring)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	h.name = name
	interval := c.keepalive
	if interval <= 0 {
		interval = keepaliveInterval
	}
	go h.keepalive(interval, keepaliveMaxMissed)
	return h, nil
}

func dialHost(ctx context.Context, c Config, ring *keyring) (*Host, error) {
	sc, err := loadSSHConfig(c.SSHConfigFile)
	if err != nil {
		return nil, err
	}
	ep, err := resolve(c, sc)
	if err != nil {
		return nil, err
	}
	note(c, sc, ep)
	keys, err := loadHostKeys(ep, c.AcceptNew)
	if err != nil {
		return nil, err
	}
	timeout := c.ConnectTimeout
	if timeout <= 0 {
		timeout = defaultConnectTimeout
	}
	d := dialer{keys: keys, ring: ring, ask: c.Passphrase, timeout: timeout, name: ep.name}

	var jump *ssh.Client
	if ep.jump != "" {
		ju, jh, jp, err := parseJump(ep.jump)
		if err != nil {
			return nil, err
		}
		jc := c
		jc.Name, jc.Address, jc.User, jc.Port, jc.Jump = jh, jh, ju, jp, ""
		jep, err := resolve(jc, sc)
		if err != nil {
			return nil, fmt.Errorf("jump host %s: %w", ep.jump, err)
		}
		if jep.jump != "" {
			return nil, fmt.Errorf("jump host %s needs a jump host itself (%s): chains are not supported", ep.jump, jep.jump)
		}
		note(c, sc, jep)
		jd := d
		jd.name = jep.name
		if jd.keys, err = loadHostKeys(jep, c.AcceptNew); err != nil {
			return nil, fmt.Errorf("jump host %s: %w", ep.jump, err)
		}
		if jump, err = jd.dial(ctx, jep, nil); err != nil {
			return nil, fmt.Errorf("jump host %s: %w", ep.jump, err)
		}
	}
	client, err := d.dial(ctx, ep, jump)
	if err != nil {
		if jump != nil {
			jump.Close()
			err = fmt.Errorf("%w (through jump host %s)", err, ep.jump)
		}
		return nil, err
	}
	return &Host{ep: ep, client: client, jump: jump, done: make(chan struct{}), sessions: make(chan struct{}, maxRunSessions)}, nil
}

// note tells c.Note which ~/.ssh/config options ep's settings ignored.
func note(c Config, sc *sshConfig, ep endpoint) {
	if c.Note != nil && len(ep.ignored) > 0 {
		c.Note(fmt.Sprintf("%s: ignoring %s (redisctl reads only %s)",
			sc.file, strings.Join(ep.ignored, ", "), strings.Join(readOptions, ", ")))
	}
}

// dialer opens SSH connections with one set of keys and known_hosts.
type dialer struct {
	keys    *hostKeys
	ring    *keyring
	ask     func(string) ([]byte, error)
	timeout time.Duration
	name    string
}

// dial connects to ep, directly or through via. If known_hosts lists only
// key types the server no longer offers, it retries without restricting the
// types, so the check reports the changed key.
func (d dialer) dial(ctx context.Context, ep endpoint, via *ssh.Client) (*ssh.Client, error) {
	algos := d.keys.algorithms(ep)
	client, err := d.dialOnce(ctx, ep, via, algos)
	var ane *ssh.AlgorithmNegotiationError
	if algos != nil && errors.As(err, &ane) && ane.What == "host key" {
		client, err = d.dialOnce(ctx, ep, via, nil)
	}
	return client, err
}

func (d dialer) dialOnce(ctx context.Context, ep endpoint, via *ssh.Client, algos []string) (*ssh.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, d.timeout)
	var conn net.Conn
	var err error
	if via != nil {
		conn, err = via.DialContext(dctx, "tcp", ep.addr())
	} else {
		conn, err = (&net.Dialer{}).DialContext(dctx, "tcp", ep.addr())
	}
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect to %s: %w", ep.addr(), ctx.Err())
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("connect to %s: timed out after %s", ep.addr(), d.timeout)
		}
		return nil, fmt.Errorf("connect to %s: %w", ep.addr(), err)
	}

	// The handshake gets its own deadline, paused while a passphrase is
	// asked; closing the connection is what interrupts it.
	var timedOut atomic.Bool
	timer := time.AfterFunc(d.timeout, func() { timedOut.Store(true); conn.Close() })
	stopCancel := context.AfterFunc(ctx, func() { conn.Close() })
	pause := func(stop bool) {
		if stop {
			timer.Stop()
		} else {
			timer.Reset(d.timeout)
		}
	}
	a, err := newAuth(ep, d.ring, d.ask, pause)
	if err != nil {
		timer.Stop()
		stopCancel()
		conn.Close()
		return nil, err
	}
	defer a.close()

	var keyErr error
	cfg := &ssh.ClientConfig{
		User:              ep.user,
		Auth:              a.methods(),
		HostKeyCallback:   d.keys.callback(d.name, ep, &keyErr),
		HostKeyAlgorithms: algos,
	}
	sconn, chans, reqs, err := ssh.NewClientConn(conn, ep.addr(), cfg)
	timer.Stop()
	notCancelled := stopCancel()
	if err == nil && notCancelled && !timedOut.Load() {
		return ssh.NewClient(sconn, chans, reqs), nil
	}
	if err == nil {
		sconn.Close()
	}
	conn.Close()
	switch {
	case keyErr != nil:
		return nil, keyErr
	case ctx.Err() != nil:
		return nil, fmt.Errorf("SSH handshake with %s: %w", ep.addr(), ctx.Err())
	case timedOut.Load():
		return nil, fmt.Errorf("SSH handshake with %s: timed out after %s", ep.addr(), d.timeout)
	case a.unlockErr != nil, strings.Contains(err.Error(), "unable to authenticate"):
		return nil, a.failure(ep)
	}
	return nil, fmt.Errorf("SSH handshake with %s: %w", ep.addr(), err)
}

// keepalive sends keepalive@openssh.com every interval and closes the
// connection once max of them in a row go unanswered, so a dead peer fails
// every pending call instead of hanging it.
func (h *Host) keepalive(interval time.Duration, max int) {
	t := time.NewTicker(interval)
	defer t.Stop()
	replies := make(chan error, 1)
	pending, missed := false, 0
	for {
		select {
		case <-h.done:
			return
		case err := <-replies:
			if err != nil {
				return // connection gone
			}
			pending, missed = false, 0
		case <-t.C:
			if pending {
				if missed++; missed >= max {
					h.client.Close()
					return
				}
				continue
			}
			pending = true
			go func() {
				_, _, err := h.client.SendRequest("keepalive@openssh.com", true, nil)
				replies <- err
			}()
		}
	}
}

// Name is the inventory name of the host.
func (h *Host) Name() string { return h.name }

// User is the login user on the host.
func (h *Host) User() string { return h.ep.user }

// IsRoot reports whether the login user is root, so commands need no sudo.
func (h *Host) IsRoot() bool { return h.ep.user == "root" }

// Dial opens a TCP connection from the host to addr through the SSH
// connection (a direct-tcpip channel). Only "tcp", "tcp4" and "tcp6" work.
func (h *Host) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := h.client.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("%s: connect to %s from the host: %w", h.name, addr, err)
	}
	return withDeadlines(c, dialedAddr{network, addr}), nil
}

// dialedAddr is the address a channel was opened to: the channel itself
// reports none, and Sentinel-aware clients tell connections to the old
// master from connections to the new one by RemoteAddr.
type dialedAddr struct{ network, addr string }

func (a dialedAddr) Network() string { return a.network }
func (a dialedAddr) String() string  { return a.addr }

// withDeadlines gives an SSH channel the deadlines net.Conn promises (an
// ssh channel has none, and Redis clients rely on them for timeouts): the
// caller gets one end of a net.Pipe, which has deadlines, and two
// goroutines copy between its other end and the channel.
func withDeadlines(ch net.Conn, raddr net.Addr) net.Conn {
	local, inner := net.Pipe()
	go func() {
		io.Copy(inner, ch)
		inner.Close()
	}()
	go func() {
		io.Copy(ch, inner)
		ch.Close()
	}()
	return &pipeConn{Conn: local, remote: ch, raddr: raddr}
}

// pipeConn reports the channel's addresses and closes it with the pipe.
type pipeConn struct {
	net.Conn
	remote net.Conn
	raddr  net.Addr
}

func (p *pipeConn) LocalAddr() net.Addr  { return p.remote.LocalAddr() }
func (p *pipeConn) RemoteAddr() net.Addr { return p.raddr }
func (p *pipeConn) Close() error {
	err := p.Conn.Close()
	p.remote.Close()
	return err
}

// Close closes the SFTP session and the connection (and the jump host's).
func (h *Host) Close() error {
	var err error
	h.closeOnce.Do(func() {
		close(h.done)
		h.sftpMu.Lock()
		if h.sftp != nil {
			h.sftp.Close()
		}
		h.sftpMu.Unlock()
		err = h.client.Close()
		if h.jump != nil {
			h.jump.Close()
		}
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
	})
	return err
}
