// Package sshtest runs an SSH server on 127.0.0.1 for tests: public-key
// authentication, "exec" requests run locally with `sh -c` as the test's own
// user, the "sftp" subsystem, "direct-tcpip" channels, keepalives and
// "signal" requests (delivered to the command's process group, as sshd does).
//
// It is a test helper: nothing in it is hardened, and every login user runs
// commands as the user running the tests.
package sshtest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// Options configures a Server. The zero value plus AuthorizedKeys works.
type Options struct {
	AuthorizedKeys []ssh.PublicKey // keys any user may log in with
	HostKeys       []ssh.Signer    // default: one new ed25519 key
	Dir            string          // working directory of commands and SFTP; default a temp dir
	Env            []string        // added to the environment of commands

	// FakeSudo puts a `sudo` first in PATH that drops "-n" and "--" and runs
	// the rest as the test user; with SudoNeedsPassword it refuses like a
	// sudo that wants a password.
	FakeSudo          bool
	SudoNeedsPassword bool

	IgnoreKeepalives bool // never answer keepalive@openssh.com, like a dead peer
	IgnoreSignals    bool // accept "signal" requests but do nothing, like an old sshd
}

// Exec is one command the server was asked to run.
type Exec struct {
	User    string
	Command string
}

// Server is a running test SSH server; t.Cleanup stops it.
type Server struct {
	Addr     string // "127.0.0.1:port"
	Port     int
	HostKeys []ssh.Signer
	Dir      string

	opts Options
	cfg  *ssh.ServerConfig
	ln   net.Listener
	env  []string

	mu         sync.Mutex
	execs      []Exec
	keepalives int
	conns      map[*ssh.ServerConn]bool
	procs      map[*os.Process]bool
	wg         sync.WaitGroup
}

// New starts a server on 127.0.0.1:0.
func New(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{opts: o, HostKeys: o.HostKeys, Dir: o.Dir,
		conns: map[*ssh.ServerConn]bool{}, procs: map[*os.Process]bool{}}
	if len(s.HostKeys) == 0 {
		s.HostKeys = []ssh.Signer{NewKey(t, "ed25519")}
	}
	if s.Dir == "" {
		s.Dir = t.TempDir()
	}
	s.env = append(os.Environ(), o.Env...)
	if o.FakeSudo {
		bin := t.TempDir()
		script := "#!/bin/sh\n"
		if o.SudoNeedsPassword {
			script += "echo 'sudo: a password is required' >&2\nexit 1\n"
		}
		script += "[ \"$1\" = -n ] && shift\n[ \"$1\" = -- ] && shift\nexec \"$@\"\n"
		if err := os.WriteFile(filepath.Join(bin, "sudo"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		s.env = append(s.env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	}

	s.cfg = &ssh.ServerConfig{
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			for _, k := range o.AuthorizedKeys {
				if string(k.Marshal()) == string(key.Marshal()) {
					return &ssh.Permissions{}, nil
				}
			}
			return nil, fmt.Errorf("key %s not authorized for %s", ssh.FingerprintSHA256(key), c.User())
		},
	}
	for _, k := range s.HostKeys {
		s.cfg.AddHostKey(k)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	s.Addr = ln.Addr().String()
	s.Port = ln.Addr().(*net.TCPAddr).Port
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// Close stops listening, drops every connection and kills running commands.
func (s *Server) Close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	for p := range s.procs {
		_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Execs returns the commands run so far.
func (s *Server) Execs() []Exec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Exec(nil), s.execs...)
}

// Keepalives returns how many keepalive@openssh.com requests arrived.
func (s *Server) Keepalives() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keepalives
}

// Connections returns how many SSH connections are open now.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// KnownHostsLine is the known_hosts line for key under this server's
// "[127.0.0.1]:port" name.
func (s *Server) KnownHostsLine(key ssh.PublicKey) string {
	return knownhosts.Line([]string{s.Addr}, key)
}

// NewKey returns a new private key: "ed25519", "ecdsa" (P-256) or "rsa".
func NewKey(t testing.TB, kind string) ssh.Signer {
	t.Helper()
	var priv any
	var err error
	switch kind {
	case "ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "ecdsa":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		err = fmt.Errorf("unknown key kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Key is a private key written to a file, as a user's ~/.ssh/id_* would be.
type Key struct {
	Path    string
	Signer  ssh.Signer
	Private ed25519.PrivateKey
}

// WriteKey writes a new ed25519 key in OpenSSH format to dir/name,
// encrypted when passphrase is not empty.
func WriteKey(t testing.TB, dir, name, passphrase string) Key {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "sshtest")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "sshtest", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return Key{Path: path, Signer: signer, Private: priv}
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handleConn(nc)
		}()
	}
}

func (s *Server) handleConn(nc net.Conn) {
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	sc, chans, reqs, err := ssh.NewServerConn(nc, s.cfg)
	if err != nil {
		nc.Close()
		return
	}
	_ = nc.SetDeadline(time.Time{})
	s.mu.Lock()
	s.conns[sc] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, sc)
		s.mu.Unlock()
	}()

	go func() {
		for req := range reqs {
			if req.Type == "keepalive@openssh.com" {
				s.mu.Lock()
				s.keepalives++
				s.mu.Unlock()
				if s.opts.IgnoreKeepalives {
					continue
				}
			}
			if req.WantReply {
				_ = req.Reply(false, nil) // what sshd answers to keepalives too
			}
		}
	}()

	var wg sync.WaitGroup
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			ch, creqs, err := nch.Accept()
			if err != nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.session(sc.User(), ch, creqs)
			}()
		case "direct-tcpip":
			wg.Add(1)
			go func() {
				defer wg.Done()
				forward(nch)
			}()
		default:
			_ = nch.Reject(ssh.UnknownChannelType, "not supported by sshtest")
		}
	}
	sc.Close()
	wg.Wait()
}

func forward(nch ssh.NewChannel) {
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &p); err != nil {
		_ = nch.Reject(ssh.ConnectionFailed, "bad payload")
		return
	}
	c, err := net.Dial("tcp", net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port))))
	if err != nil {
		_ = nch.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		c.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(c, ch); _ = c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { _, _ = io.Copy(ch, c); _ = ch.CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
	ch.Close()
	c.Close()
}

func (s *Server) session(user string, ch ssh.Channel, reqs <-chan *ssh.Request) {
	var cmd *exec.Cmd
	var exited sync.WaitGroup
	defer func() {
		exited.Wait()
		ch.Close()
	}()
	for req := range reqs {
		switch req.Type {
		case "exec":
			var p struct{ Command string }
			if cmd != nil || ssh.Unmarshal(req.Payload, &p) != nil {
				_ = req.Reply(false, nil)
				continue
			}
			s.mu.Lock()
			s.execs = append(s.execs, Exec{User: user, Command: p.Command})
			s.mu.Unlock()
			cmd = exec.Command("sh", "-c", p.Command)
			if err := s.start(cmd, ch); err != nil {
				_ = req.Reply(false, nil)
				return
			}
			_ = req.Reply(true, nil)
			exited.Add(1)
			go func() {
				defer exited.Done()
				s.finish(cmd, ch)
			}()
		case "subsystem":
			var p struct{ Name string }
			if cmd != nil || ssh.Unmarshal(req.Payload, &p) != nil || p.Name != "sftp" {
				_ = req.Reply(false, nil)
				continue
			}
			srv, err := sftp.NewServer(ch, sftp.WithServerWorkingDirectory(s.Dir))
			if err != nil {
				_ = req.Reply(false, nil)
				return
			}
			_ = req.Reply(true, nil)
			exited.Add(1)
			go func() {
				defer exited.Done()
				_ = srv.Serve()
				srv.Close()
			}()
		case "signal":
			var p struct{ Signal string }
			if ssh.Unmarshal(req.Payload, &p) == nil && cmd != nil && cmd.Process != nil && !s.opts.IgnoreSignals {
				if sig, ok := signals[p.Signal]; ok {
					_ = syscall.Kill(-cmd.Process.Pid, sig)
				}
			}
			if req.WantReply {
				_ = req.Reply(true, nil)
			}
		default:
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
		}
	}
}

func (s *Server) start(cmd *exec.Cmd, ch ssh.Channel) error {
	cmd.Dir = s.Dir
	cmd.Env = s.env
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a process group, as sshd's setsid gives
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.mu.Lock()
	s.procs[cmd.Process] = true
	s.mu.Unlock()
	go func() {
		_, _ = io.Copy(stdin, ch)
		stdin.Close()
	}()
	return nil
}

func (s *Server) finish(cmd *exec.Cmd, ch ssh.Channel) {
	err := cmd.Wait()
	s.mu.Lock()
	delete(s.procs, cmd.Process)
	s.mu.Unlock()
	var ee *exec.ExitError
	switch {
	case err == nil:
		_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
	case errors.As(err, &ee):
		ws, ok := ee.Sys().(syscall.WaitStatus)
		if ok && ws.Signaled() {
			name := signalName(ws.Signal())
			_, _ = ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
				Signal     string
				CoreDumped bool
				Error      string
				Lang       string
			}{Signal: name}))
		} else {
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(ee.ExitCode())}))
		}
	}
	_ = ch.CloseWrite()
	ch.Close()
}

var signals = map[string]syscall.Signal{
	"ABRT": syscall.SIGABRT, "ALRM": syscall.SIGALRM, "FPE": syscall.SIGFPE,
	"HUP": syscall.SIGHUP, "ILL": syscall.SIGILL, "INT": syscall.SIGINT,
	"KILL": syscall.SIGKILL, "PIPE": syscall.SIGPIPE, "QUIT": syscall.SIGQUIT,
	"SEGV": syscall.SIGSEGV, "TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2,
}

func signalName(sig syscall.Signal) string {
	for name, s := range signals {
		if s == sig {
			return name
		}
	}
	return strconv.Itoa(int(sig))
}
