package sshhost

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/redisctl/redisctl/provision/remote"
	"github.com/redisctl/redisctl/provision/remote/sshhost/sshtest"
)

// isolate keeps the test away from the real ~/.ssh and ssh-agent.
func isolate(t *testing.T) string {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("SSH_AUTH_SOCK", "")
	return home
}

// setup starts a server that accepts a new key and returns a Config that
// trusts the server's first host key.
func setup(t *testing.T, o sshtest.Options) (*sshtest.Server, Config) {
	t.Helper()
	isolate(t)
	dir := t.TempDir()
	key := sshtest.WriteKey(t, dir, "id_ed25519", "")
	o.AuthorizedKeys = append(o.AuthorizedKeys, key.Signer.PublicKey())
	srv := sshtest.New(t, o)
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, srv.KnownHostsLine(srv.HostKeys[0].PublicKey())+"\n")
	return srv, Config{
		Name: "node1", Address: "127.0.0.1", Port: srv.Port, User: "root",
		IdentityFile: key.Path, KnownHosts: kh,
		SSHConfigFile: filepath.Join(dir, "no-ssh-config"),
	}
}

func dial(t *testing.T, c Config) *Host {
	t.Helper()
	h, err := Connect(context.Background(), c)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRunStdinStdoutStderr(t *testing.T) {
	srv, c := setup(t, sshtest.Options{})
	h := dial(t, c)
	var out, errOut bytes.Buffer
	err := h.Run(context.Background(), "cat; echo to-stderr >&2", strings.NewReader("hello\nworld\n"), &out, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "hello\nworld\n" || errOut.String() != "to-stderr\n" {
		t.Errorf("stdout %q, stderr %q", out.String(), errOut.String())
	}
	if err := h.Run(context.Background(), "true", nil, nil, nil); err != nil {
		t.Errorf("Run with nil streams: %v", err)
	}
	execs := srv.Execs()
	if len(execs) != 2 || execs[0].User != "root" || !strings.HasPrefix(execs[0].Command, "sh -c ") {
		t.Errorf("root login should run sh -c without sudo, server saw %q", execs)
	}
	if !h.IsRoot() || h.User() != "root" || h.Name() != "node1" {
		t.Errorf("IsRoot %v User %q Name %q", h.IsRoot(), h.User(), h.Name())
	}
}

func TestRunExitError(t *testing.T) {
	_, c := setup(t, sshtest.Options{})
	h := dial(t, c)
	var callerErr bytes.Buffer
	cmd := "echo one >&2; echo boom >&2; exit 3"
	err := h.Run(context.Background(), cmd, nil, nil, &callerErr)
	var x *remote.ExitError
	if !errors.As(err, &x) {
		t.Fatalf("want *remote.ExitError, got %T %v", err, err)
	}
	if x.Status != 3 || x.Host != "node1" || x.Cmd != cmd || x.Stderr != "one\nboom\n" || x.Signal != "" {
		t.Errorf("ExitError = %+v", *x)
	}
	if callerErr.String() != "one\nboom\n" {
		t.Errorf("caller's stderr got %q", callerErr.String())
	}
	if !remote.IsExit(err, 3) || !strings.Contains(err.Error(), "boom") {
		t.Errorf("error %q", err)
	}
}

func TestCommandLine(t *testing.T) {
	wrapped := `sh -c 'trap '\''kill -s KILL 0'\'' HUP INT TERM; exec 3<&0; sh -c "$1" <&3 3<&- & exec 3<&-; wait $!' redisctl-run-tok `
	tests := []struct {
		cmd  string
		root bool
		want string
	}{
		{"true", true, wrapped + "true"},
		{"true", false, "sudo -n -- " + wrapped + "true"},
		{"echo 'a b' $HOME", false, "sudo -n -- " + wrapped + `'echo '\''a b'\'' $HOME'`},
	}
	for _, tt := range tests {
		if got := command(tt.cmd, tt.root, "tok"); got != tt.want {
			t.Errorf("command(%q, %v)\n got %s\nwant %s", tt.cmd, tt.root, got, tt.want)
		}
	}

	// The wrapped line must mean the same to a shell as the command alone.
	cmd := `printf '%s|' "it's" '$HOME' "$((1+2))" \\; read x; echo "$x"; exit 4`
	run := func(line string) (string, int) {
		c := exec.Command("sh", "-c", line)
		c.Stdin = strings.NewReader("from stdin\n")
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		out, err := c.Output()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return string(out), c.ProcessState.ExitCode()
	}
	wantOut, wantCode := run(cmd)
	gotOut, gotCode := run(command(cmd, true, "tok"))
	if gotOut != wantOut || gotCode != wantCode || wantCode != 4 {
		t.Errorf("wrapped: %q status %d; plain: %q status %d", gotOut, gotCode, wantOut, wantCode)
	}
}

// TestWrapperKillsGroupOnTerm sends TERM to the wrapper alone, as sudo does
// when it relays a signal, and expects the command's children to die too.
func TestWrapperKillsGroupOnTerm(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	c := exec.Command("sh", "-c", runWrapper, runTag+"tok", "sleep 30 & echo $! > "+remote.Quote(pidFile)+"; wait")
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL) })
	pid := waitPID(t, pidFile)
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- c.Wait() }()
	select {
	case <-waited:
	case <-time.After(2 * time.Second):
		t.Fatal("wrapper still running 2s after TERM")
	}
	waitGone(t, pid)
}

// TestKillScriptMatchesOnlyItsToken runs killScript on this machine. It
// first runs it with echo in place of kill and stops unless exactly the
// target matched: a script that matched too much would TERM everything.
func TestKillScriptMatchesOnlyItsToken(t *testing.T) {
	token := newToken()
	start := func(args ...string) *exec.Cmd {
		c := exec.Command("sh", args...)
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill(); _, _ = c.Process.Wait() })
		return c
	}
	target := start("-c", "sleep 30", runTag+token)
	decoys := []*exec.Cmd{
		start("-c", "sleep 30; : "+runTag+token),   // the tag inside a longer argument
		start("-c", "sleep 30", runTag+token+"0"),  // a longer token
		start("-c", "sleep 30", runTag+newToken()), // another command's token
	}
	time.Sleep(100 * time.Millisecond)

	script := killScript(token)
	dry := strings.Replace(script, "kill -s TERM", "echo", 1)
	if dry == script {
		t.Fatal("cannot make a dry run of the kill script")
	}
	out, err := exec.Command("sh", "-c", dry).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(out)); len(got) != 1 || got[0] != strconv.Itoa(target.Process.Pid) {
		t.Fatalf("dry run matched %q, want only %d", got, target.Process.Pid)
	}
	for _, bad := range []string{"", "tok", "0123456789abcdeg", strings.ToUpper(token)} {
		if killScript(bad) != "true" {
			t.Errorf("killScript(%q) should do nothing", bad)
		}
	}

	if err := exec.Command("sh", "-c", script).Run(); err != nil {
		t.Fatal(err)
	}
	if err := target.Wait(); err == nil {
		t.Error("target not killed")
	}
	for _, d := range decoys {
		if err := d.Process.Signal(syscall.Signal(0)); err != nil {
			t.Errorf("decoy %v was killed", d.Args)
		}
	}
}

func waitPID(t *testing.T, file string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(file); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never written", file)
	return 0
}

// waitGone waits up to 2s for pid to exit (a zombie counts as gone).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("process %d still running", pid)
}

func TestRunCancel(t *testing.T) {
	// OpenSSH ignores "signal" requests on root logins: the second session
	// that kills by token must then do the job alone.
	for _, ignore := range []bool{false, true} {
		t.Run(fmt.Sprintf("server ignores signals=%v", ignore), func(t *testing.T) {
			srv, c := setup(t, sshtest.Options{IgnoreSignals: ignore})
			h := dial(t, c)
			pidFile := filepath.Join(srv.Dir, "pid")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				errc <- h.Run(ctx, "sleep 30 & echo $! > "+remote.Quote(pidFile)+"; wait", nil, nil, nil)
			}()
			pid := waitPID(t, pidFile)
			start := time.Now()
			cancel()
			select {
			case err := <-errc:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("want context.Canceled, got %v", err)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("Run did not return within 3s of cancel")
			}
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("Run took %s to return after cancel", d)
			}
			waitGone(t, pid)
			// The connection is still usable.
			if err := h.Run(context.Background(), "true", nil, nil, nil); err != nil {
				t.Errorf("Run after cancel: %v", err)
			}
		})
	}
}

func TestSudo(t *testing.T) {
	srv, c := setup(t, sshtest.Options{FakeSudo: true})
	c.User = "deploy"
	h := dial(t, c)
	if h.IsRoot() {
		t.Error("deploy is not root")
	}
	out, err := remote.Output(context.Background(), h, "echo 'it works'")
	if err != nil || out != "it works\n" {
		t.Fatalf("Output = %q, %v", out, err)
	}
	execs := srv.Execs()
	if len(execs) != 1 || execs[0].User != "deploy" {
		t.Fatalf("server saw %q", execs)
	}
	token := regexp.MustCompile(runTag + `([0-9a-f]{16}) `).FindStringSubmatch(execs[0].Command)
	if token == nil {
		t.Fatalf("no token in %q", execs[0].Command)
	}
	if want := "sudo -n -- " + command("echo 'it works'", true, token[1]); execs[0].Command != want {
		t.Errorf("server saw %q\nwant %q", execs[0].Command, want)
	}
}

func TestSudoNeedsPassword(t *testing.T) {
	srv, c := setup(t, sshtest.Options{FakeSudo: true, SudoNeedsPassword: true})
	c.User = "deploy"
	h := dial(t, c)
	err := h.Run(context.Background(), "true", nil, nil, nil)
	if !errors.Is(err, ErrSudoPassword) {
		t.Fatalf("want ErrSudoPassword, got %v", err)
	}
	var x *remote.ExitError
	if !errors.As(err, &x) || x.Cmd != "true" {
		t.Errorf("want the ExitError inside, got %v", err)
	}
	if !strings.Contains(err.Error(), "deploy") || !strings.HasPrefix(err.Error(), "node1: ") {
		t.Errorf("message %q", err)
	}
	err = h.PutFile(context.Background(), filepath.Join(t.TempDir(), "f"), []byte("x"), 0o600, "")
	if !errors.Is(err, ErrSudoPassword) {
		t.Errorf("PutFile: want ErrSudoPassword, got %v", err)
	}
	assertOnly(t, srv.Dir) // the staged copy is removed over SFTP
}

func TestAuthFailure(t *testing.T) {
	srv, c := setup(t, sshtest.Options{})
	other := sshtest.WriteKey(t, t.TempDir(), "id_other", "")
	c.IdentityFile = other.Path
	c.User = "deploy"
	_, err := Connect(context.Background(), c)
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("want ErrAuth, got %v", err)
	}
	for _, want := range []string{"node1: ", "deploy@127.0.0.1:" + strconv.Itoa(srv.Port), other.Path, "SSH_AUTH_SOCK"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestEncryptedKey(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	locked := sshtest.WriteKey(t, dir, "id_locked", "s3cret")
	srv := sshtest.New(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{locked.Signer.PublicKey()}})
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, srv.KnownHostsLine(srv.HostKeys[0].PublicKey())+"\n")
	base := Config{Name: "node1", Address: "127.0.0.1", Port: srv.Port, User: "root",
		IdentityFile: locked.Path, KnownHosts: kh, SSHConfigFile: filepath.Join(dir, "none")}

	asked := 0
	c := base
	c.Passphrase = func(file string) ([]byte, error) {
		asked++
		if file != locked.Path {
			t.Errorf("asked for %s", file)
		}
		return []byte("s3cret"), nil
	}
	hosts, err := ConnectAll(context.Background(), []Config{c, c})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		h.Close()
	}
	if asked != 1 {
		t.Errorf("passphrase asked %d times for two hosts, want once", asked)
	}

	c = base
	_, err = Connect(context.Background(), c)
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "encrypted") {
		t.Errorf("without a prompt: want ErrAuth mentioning the encrypted key, got %v", err)
	}

	c.Passphrase = func(string) ([]byte, error) { return []byte("wrong"), nil }
	_, err = Connect(context.Background(), c)
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), locked.Path) {
		t.Errorf("wrong passphrase: want ErrAuth naming the key, got %v", err)
	}

	// A key the server refuses is never unlocked.
	other := sshtest.New(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{sshtest.NewKey(t, "ed25519").PublicKey()}})
	writeFile(t, kh, other.KnownHostsLine(other.HostKeys[0].PublicKey())+"\n")
	c.Port = other.Port
	c.Passphrase = func(string) ([]byte, error) {
		t.Error("passphrase asked for a refused key")
		return nil, errors.New("no")
	}
	if _, err = Connect(context.Background(), c); !errors.Is(err, ErrAuth) {
		t.Errorf("want ErrAuth, got %v", err)
	}
}

func TestAgent(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	key := sshtest.WriteKey(t, dir, "id_agent", "")
	ring := agent.NewKeyring()
	if err := ring.Add(agent.AddedKey{PrivateKey: key.Private}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = agent.ServeAgent(ring, conn); conn.Close() }()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
	srv := sshtest.New(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{key.Signer.PublicKey()}})
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, srv.KnownHostsLine(srv.HostKeys[0].PublicKey())+"\n")
	dial(t, Config{Name: "node1", Address: "127.0.0.1", Port: srv.Port, User: "root", KnownHosts: kh,
		SSHConfigFile: filepath.Join(dir, "none")})
}

func TestSSHConfig(t *testing.T) {
	srv, c := setup(t, sshtest.Options{FakeSudo: true})
	cfgFile := filepath.Join(t.TempDir(), "config")
	writeFile(t, cfgFile, fmt.Sprintf("Host mynode\n  HostName 127.0.0.1\n  Port %d\n  User deploy\n  IdentityFile %s\n",
		srv.Port, c.IdentityFile))
	h := dial(t, Config{Name: "n1", Address: "mynode", KnownHosts: c.KnownHosts, SSHConfigFile: cfgFile})
	if h.User() != "deploy" {
		t.Errorf("User = %q, want deploy from ssh config", h.User())
	}
	if out, err := remote.Output(context.Background(), h, "echo ok"); err != nil || out != "ok\n" {
		t.Errorf("Output = %q, %v", out, err)
	}
}

func TestUnknownHost(t *testing.T) {
	srv, c := setup(t, sshtest.Options{})
	c.KnownHosts = filepath.Join(t.TempDir(), "missing", "known_hosts")
	_, err := Connect(context.Background(), c)
	var u *UnknownHostError
	if !errors.As(err, &u) {
		t.Fatalf("want *UnknownHostError, got %v", err)
	}
	key := srv.HostKeys[0].PublicKey()
	want := UnknownHostError{Host: "node1", Address: srv.Addr, KeyType: key.Type(),
		Fingerprint: ssh.FingerprintSHA256(key), KnownHostsFile: c.KnownHosts}
	if *u != want {
		t.Errorf("got %+v\nwant %+v", *u, want)
	}
	for _, s := range []string{"node1: ", want.Fingerprint, "--accept-new-host-keys", "ssh-keyscan -p " + strconv.Itoa(srv.Port)} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q lacks %q", err, s)
		}
	}
	if _, err := os.Stat(c.KnownHosts); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("known_hosts written without AcceptNew: %v", err)
	}
}

func TestAcceptNew(t *testing.T) {
	srv, c := setup(t, sshtest.Options{})
	c.KnownHosts = filepath.Join(t.TempDir(), "new", "known_hosts")
	c.AcceptNew = true
	h := dial(t, c)
	h.Close()
	b, err := os.ReadFile(c.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("[127.0.0.1]:%d %s\n", srv.Port,
		strings.TrimSpace(string(ssh.MarshalAuthorizedKey(srv.HostKeys[0].PublicKey()))))
	if string(b) != want {
		t.Errorf("known_hosts = %q, want %q", b, want)
	}
	if st, _ := os.Stat(c.KnownHosts); st.Mode().Perm() != 0o600 {
		t.Errorf("known_hosts mode %v", st.Mode())
	}
	c.AcceptNew = false
	dial(t, c)
}

func TestAppendKnownHostAddsMissingNewline(t *testing.T) {
	file := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, file, "example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl")
	key := sshtest.NewKey(t, "ed25519").PublicKey()
	if err := appendKnownHost(file, "10.0.0.1:22", key); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	lines := strings.Split(string(b), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "10.0.0.1 ssh-ed25519 ") || lines[2] != "" {
		t.Errorf("known_hosts = %q", b)
	}
}

func TestHostKeyChanged(t *testing.T) {
	srv, c := setup(t, sshtest.Options{})
	old := sshtest.NewKey(t, "ed25519").PublicKey()
	writeFile(t, c.KnownHosts, "example.com "+string(ssh.MarshalAuthorizedKey(old))+srv.KnownHostsLine(old)+"\n")
	for _, accept := range []bool{false, true} {
		c.AcceptNew = accept
		_, err := Connect(context.Background(), c)
		var ch *HostKeyChangedError
		if !errors.As(err, &ch) {
			t.Fatalf("AcceptNew=%v: want *HostKeyChangedError, got %v", accept, err)
		}
		if ch.KnownHostsFile != c.KnownHosts || ch.Line != 2 || ch.Fingerprint != ssh.FingerprintSHA256(srv.HostKeys[0].PublicKey()) {
			t.Errorf("got %+v", *ch)
		}
		for _, s := range []string{c.KnownHosts + ":2", "man-in-the-middle"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("message %q lacks %q", err, s)
			}
		}
	}
}

// TestHostKnownByOneKeyType: the server offers three key types and
// known_hosts has only one; Go's client would pick ECDSA first unless told.
func TestHostKnownByOneKeyType(t *testing.T) {
	keys := []ssh.Signer{sshtest.NewKey(t, "ecdsa"), sshtest.NewKey(t, "rsa"), sshtest.NewKey(t, "ed25519")}
	srv, c := setup(t, sshtest.Options{HostKeys: keys})
	for _, k := range keys {
		t.Run(k.PublicKey().Type(), func(t *testing.T) {
			writeFile(t, c.KnownHosts, srv.KnownHostsLine(k.PublicKey())+"\n")
			dial(t, c).Close()
		})
	}
}

// TestHostKeyTypeGone: known_hosts has an ECDSA key, the host now offers only
// ed25519. That is a changed key, not an algorithm negotiation failure.
func TestHostKeyTypeGone(t *testing.T) {
	srv, c := setup(t, sshtest.Options{})
	writeFile(t, c.KnownHosts, srv.KnownHostsLine(sshtest.NewKey(t, "ecdsa").PublicKey())+"\n")
	_, err := Connect(context.Background(), c)
	var ch *HostKeyChangedError
	if !errors.As(err, &ch) || ch.Line != 1 || ch.KnownKeyType != "ecdsa-sha2-nistp256" {
		t.Fatalf("want *HostKeyChangedError for line 1, got %v", err)
	}
}

func TestPutFile(t *testing.T) {
	srv, c := setup(t, sshtest.Options{})
	h := dial(t, c)
	ctx := context.Background()
	dir := t.TempDir()
	dest := filepath.Join(dir, "it's a file.conf")
	owner := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	writeFile(t, dest, "old content")

	secret := "requirepass hunter2-" + strconv.Itoa(os.Getpid()) + "\n"
	if err := h.PutFile(ctx, dest, []byte(secret), 0o640, owner); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dest)
	if err != nil || string(b) != secret {
		t.Fatalf("content %q, %v", b, err)
	}
	st, _ := os.Stat(dest)
	if st.Mode() != 0o640 {
		t.Errorf("mode %v, want 0640", st.Mode())
	}
	if sys := st.Sys().(*syscall.Stat_t); int(sys.Uid) != os.Getuid() || int(sys.Gid) != os.Getgid() {
		t.Errorf("owner %d:%d", sys.Uid, sys.Gid)
	}
	if os.Getuid() == 0 {
		if err := h.PutFile(ctx, dest, []byte(secret), 0o600, ""); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(dest)
		if sys := st.Sys().(*syscall.Stat_t); sys.Uid != 0 || sys.Gid != 0 || st.Mode() != 0o600 {
			t.Errorf("default owner: %d:%d mode %v", sys.Uid, sys.Gid, st.Mode())
		}
	}
	assertOnly(t, dir, "it's a file.conf")
	assertOnly(t, srv.Dir) // the private staging directory is gone
	for _, e := range srv.Execs() {
		if strings.Contains(e.Command, "hunter2") {
			t.Errorf("content on a command line: %q", e.Command)
		}
	}

	// Large streams arrive whole.
	big := make([]byte, 3<<20+17)
	_, _ = rand.Read(big)
	bigDest := filepath.Join(dir, "big.tar.gz")
	if err := h.Upload(ctx, bigDest, bytes.NewReader(big), 0o644, owner); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(bigDest); !bytes.Equal(b, big) {
		t.Errorf("uploaded %d bytes, read back %d differing", len(big), len(b))
	}
	assertOnly(t, srv.Dir)
}

func TestPutFileMissingDir(t *testing.T) {
	srv, c := setup(t, sshtest.Options{})
	h := dial(t, c)
	dest := filepath.Join(t.TempDir(), "nope", "file")
	err := h.PutFile(context.Background(), dest, []byte("x"), 0o644, "")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), filepath.Dir(dest)) {
		t.Fatalf("want fs.ErrNotExist naming the directory, got %v", err)
	}
	if _, err := os.Stat(filepath.Dir(dest)); !errors.Is(err, fs.ErrNotExist) {
		t.Error("the directory was created")
	}
	assertOnly(t, srv.Dir)
}

func TestPutFileFailureKeepsOldFile(t *testing.T) {
	srv, c := setup(t, sshtest.Options{})
	h := dial(t, c)
	dir := t.TempDir()
	dest := filepath.Join(dir, "f")
	writeFile(t, dest, "old")
	err := h.PutFile(context.Background(), dest, []byte("new"), 0o644, "no-such-user-xyz:root")
	var x *remote.ExitError
	if !errors.As(err, &x) || !strings.Contains(err.Error(), "no-such-user-xyz") {
		t.Fatalf("want an ExitError from chown, got %v", err)
	}
	if b, _ := os.ReadFile(dest); string(b) != "old" {
		t.Errorf("destination changed to %q", b)
	}
	assertOnly(t, dir, "f")
	assertOnly(t, srv.Dir)
}

func TestPutFileOntoDirectory(t *testing.T) {
	_, c := setup(t, sshtest.Options{})
	h := dial(t, c)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := h.PutFile(context.Background(), filepath.Join(dir, "d"), []byte("x"), 0o644, "")
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("want an error, got %v", err)
	}
	assertOnly(t, dir, "d")
	assertOnly(t, filepath.Join(dir, "d"))
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, "\n") != strings.Join(names, "\n") {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

func TestReadFile(t *testing.T) {
	_, c := setup(t, sshtest.Options{})
	h := dial(t, c)
	dir := t.TempDir()
	path := filepath.Join(dir, "a file")
	content := "line\n\x00binary\xff"
	writeFile(t, path, content)
	b, err := h.ReadFile(context.Background(), path)
	if err != nil || string(b) != content {
		t.Errorf("ReadFile = %q, %v", b, err)
	}
	_, err = h.ReadFile(context.Background(), filepath.Join(dir, "missing"))
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), "node1: ") {
		t.Errorf("missing file: want fs.ErrNotExist, got %v", err)
	}
	_, err = h.ReadFile(context.Background(), dir) // a directory: cat fails
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("reading a directory: %v", err)
	}
}

func TestDial(t *testing.T) {
	_, c := setup(t, sshtest.Options{})
	h := dial(t, c)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = io.Copy(conn, conn)
		conn.Close()
	}()
	conn, err := h.Dial(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "PING\r\n" {
		t.Errorf("echo = %q, %v", buf, err)
	}
	// Redis clients rely on deadlines; an SSH channel alone has none.
	if err := conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		t.Fatalf("SetReadDeadline: %v", err)
	}
	start := time.Now()
	var ne net.Error
	if _, err := conn.Read(buf); !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("a read past the deadline returned %v, want a timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the read deadline was not honoured (%s)", d)
	}
	if conn.RemoteAddr().String() != ln.Addr().String() {
		t.Errorf("RemoteAddr = %s, want %s", conn.RemoteAddr(), ln.Addr())
	}
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closed.Close()
	if _, err := h.Dial(context.Background(), "tcp", closed.Addr().String()); err == nil || !strings.HasPrefix(err.Error(), "node1: ") {
		t.Errorf("dial to a closed port: %v", err)
	}
}

func TestConnectAll(t *testing.T) {
	good, c := setup(t, sshtest.Options{})
	unknown := sshtest.New(t, sshtest.Options{})
	refused, _ := net.Listen("tcp", "127.0.0.1:0")
	refused.Close()

	c1, c2, c3 := c, c, c
	c1.Name = "good"
	c2.Name, c2.Port = "stranger", unknown.Port
	c3.Name, c3.Port = "down", refused.Addr().(*net.TCPAddr).Port
	hosts, err := ConnectAll(context.Background(), []Config{c1, c2, c3})
	if err == nil || hosts != nil {
		t.Fatalf("want an error and no hosts, got %v, %v", hosts, err)
	}
	var u *UnknownHostError
	if !errors.As(err, &u) || u.Host != "stranger" {
		t.Errorf("errors.As UnknownHostError through the join: %v", err)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "stranger: ") || !strings.HasPrefix(lines[1], "down: ") {
		t.Errorf("error lines %q", lines)
	}
	deadline := time.Now().Add(2 * time.Second)
	for good.Connections() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := good.Connections(); n != 0 {
		t.Errorf("good host still has %d connections open", n)
	}

	hosts, err = ConnectAll(context.Background(), []Config{c1, c1})
	if err != nil || len(hosts) != 2 || hosts[0] == nil || hosts[1] == nil {
		t.Fatalf("ConnectAll = %v, %v", hosts, err)
	}
	for _, h := range hosts {
		h.Close()
	}
}

func TestKeepalive(t *testing.T) {
	t.Run("answered", func(t *testing.T) {
		srv, c := setup(t, sshtest.Options{})
		c.keepalive = 20 * time.Millisecond
		h := dial(t, c)
		time.Sleep(300 * time.Millisecond)
		if n := srv.Keepalives(); n < 3 {
			t.Errorf("server saw %d keepalives", n)
		}
		if err := h.Run(context.Background(), "true", nil, nil, nil); err != nil {
			t.Errorf("connection dropped although keepalives were answered: %v", err)
		}
	})
	t.Run("unanswered", func(t *testing.T) {
		_, c := setup(t, sshtest.Options{IgnoreKeepalives: true})
		c.keepalive = 20 * time.Millisecond
		h := dial(t, c)
		closed := make(chan struct{})
		go func() { _ = h.client.Wait(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(2 * time.Second):
			t.Fatal("connection still open although no keepalive was answered")
		}
		if err := h.Run(context.Background(), "true", nil, nil, nil); err == nil {
			t.Error("Run on a dropped connection succeeded")
		}
	})
}

func TestJumpHost(t *testing.T) {
	target, c := setup(t, sshtest.Options{})
	jump := sshtest.New(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{mustPub(t, c.IdentityFile)}})
	writeFile(t, c.KnownHosts, target.KnownHostsLine(target.HostKeys[0].PublicKey())+"\n"+
		jump.KnownHostsLine(jump.HostKeys[0].PublicKey())+"\n")
	c.Jump = "root@127.0.0.1:" + strconv.Itoa(jump.Port)
	h := dial(t, c)
	if out, err := remote.Output(context.Background(), h, "echo via jump"); err != nil || out != "via jump\n" {
		t.Errorf("Output = %q, %v", out, err)
	}
	if jump.Connections() != 1 || target.Connections() != 1 {
		t.Errorf("connections: jump %d, target %d", jump.Connections(), target.Connections())
	}

	// The jump host's key is checked too.
	writeFile(t, c.KnownHosts, target.KnownHostsLine(target.HostKeys[0].PublicKey())+"\n")
	_, err := Connect(context.Background(), c)
	var u *UnknownHostError
	if !errors.As(err, &u) || u.Address != jump.Addr || !strings.Contains(err.Error(), "jump host") {
		t.Errorf("want UnknownHostError for the jump host, got %v", err)
	}
}

func mustPub(t *testing.T, keyFile string) ssh.PublicKey {
	b, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return s.PublicKey()
}

func TestConnectTimeout(t *testing.T) {
	_, c := setup(t, sshtest.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never speaks SSH
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	c.Port = ln.Addr().(*net.TCPAddr).Port
	c.ConnectTimeout = 200 * time.Millisecond
	start := time.Now()
	_, err = Connect(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("want a timeout, got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s", d)
	}
}
