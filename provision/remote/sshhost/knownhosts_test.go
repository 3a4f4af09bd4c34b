package sshhost

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/redisctl/redisctl/provision/remote"
	"github.com/redisctl/redisctl/provision/remote/sshhost/sshtest"
)

// defaultFiles is a Config left to OpenSSH's known_hosts files: the user's
// (in the isolated HOME) and a system-wide one in a temp dir.
func defaultFiles(t *testing.T, c Config) (Config, string, string) {
	t.Helper()
	home, _ := os.UserHomeDir()
	c.KnownHosts = ""
	c.SystemKnownHosts = filepath.Join(t.TempDir(), "ssh_known_hosts")
	return c, filepath.Join(home, ".ssh", "known_hosts"), c.SystemKnownHosts
}

func readString(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

func TestSystemKnownHosts(t *testing.T) {
	srv, c := setup(t, sshtest.Options{})
	c, user, system := defaultFiles(t, c)
	key := srv.HostKeys[0].PublicKey()

	// Known in the system-wide file only: known.
	writeFile(t, system, srv.KnownHostsLine(key)+"\n")
	dial(t, c).Close()

	// A different key there is a changed key, --accept-new or not, and
	// nothing is recorded.
	old := sshtest.NewKey(t, "ed25519").PublicKey()
	writeFile(t, system, srv.KnownHostsLine(old)+"\n")
	for _, accept := range []bool{false, true} {
		c.AcceptNew = accept
		_, err := Connect(context.Background(), c)
		var ch *HostKeyChangedError
		if !errors.As(err, &ch) || ch.KnownHostsFile != system || !ch.SystemWide {
			t.Fatalf("AcceptNew=%v: want *HostKeyChangedError in the system file, got %v", accept, err)
		}
		if !strings.Contains(err.Error(), "system-wide "+system) || strings.Contains(err.Error(), "ssh-keygen -R") {
			t.Errorf("message %q: want it to send the user to the system file's administrator", err)
		}
	}
	if _, err := os.Stat(user); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a key was recorded for a host whose system-wide key differs: %v", err)
	}

	// Unknown to both: the message names both; --accept-new records in the
	// user's file only.
	writeFile(t, system, "other.example.com "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(old)))+"\n")
	c.AcceptNew = false
	_, err := Connect(context.Background(), c)
	var u *UnknownHostError
	if !errors.As(err, &u) || u.KnownHostsFile != user || u.AlsoRead != system || !strings.Contains(err.Error(), "nor in "+system) {
		t.Fatalf("want *UnknownHostError naming %s and %s, got %v", user, system, err)
	}
	c.AcceptNew = true
	dial(t, c).Close()
	if got, want := readString(t, user), srv.KnownHostsLine(key)+"\n"; got != want {
		t.Errorf("user's known_hosts = %q, want %q", got, want)
	}
	if got := readString(t, system); strings.Contains(got, srv.Addr) || strings.Contains(got, "127.0.0.1") {
		t.Errorf("the system-wide file was written: %q", got)
	}
}

func TestNamedKnownHostsIsTheOnlyOne(t *testing.T) {
	srv, c := setup(t, sshtest.Options{})
	_, _, system := defaultFiles(t, c)
	c.SystemKnownHosts = system
	writeFile(t, c.KnownHosts, "")
	writeFile(t, system, srv.KnownHostsLine(srv.HostKeys[0].PublicKey())+"\n")
	_, err := Connect(context.Background(), c)
	var u *UnknownHostError
	if !errors.As(err, &u) || u.AlsoRead != "" {
		t.Errorf("known_hosts named: want the system-wide file unread, got %v", err)
	}
}

func TestUserKnownHostsFileFromSSHConfig(t *testing.T) {
	srv, c := setup(t, sshtest.Options{})
	c, user, _ := defaultFiles(t, c)
	dir := t.TempDir()
	custom := filepath.Join(dir, "kh", "custom_known_hosts")
	cfgFile := filepath.Join(dir, "config")
	// %d is the home directory; the path climbs out of it to dir.
	home, _ := os.UserHomeDir()
	rel, err := filepath.Rel(home, dir)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, cfgFile, fmt.Sprintf("Host mynode\n  HostName 127.0.0.1\n  Port %d\n  UserKnownHostsFile %%d/%s/kh/custom_known_hosts\n",
		srv.Port, rel))
	c.Address, c.Port, c.SSHConfigFile = "mynode", 0, cfgFile

	c.AcceptNew = true
	dial(t, c).Close()
	if got, want := readString(t, custom), srv.KnownHostsLine(srv.HostKeys[0].PublicKey())+"\n"; got != want {
		t.Errorf("UserKnownHostsFile = %q, want %q", got, want)
	}
	if _, err := os.Stat(user); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("~/.ssh/known_hosts written although ~/.ssh/config names another file: %v", err)
	}
	c.AcceptNew = false
	dial(t, c).Close()
}

func TestHostKeyAlias(t *testing.T) {
	srv, c := setup(t, sshtest.Options{})
	c, user, _ := defaultFiles(t, c)
	cfgFile := filepath.Join(t.TempDir(), "config")
	writeFile(t, cfgFile, fmt.Sprintf("Host mynode\n  HostName 127.0.0.1\n  Port %d\n  HostKeyAlias mynode-key\n", srv.Port))
	c.Address, c.Port, c.SSHConfigFile = "mynode", 0, cfgFile
	key := srv.HostKeys[0].PublicKey()
	if err := os.MkdirAll(filepath.Dir(user), 0o700); err != nil {
		t.Fatal(err)
	}

	// Known under the alias only.
	writeFile(t, user, "mynode-key "+string(ssh.MarshalAuthorizedKey(key)))
	dial(t, c).Close()

	// Another key under the alias is a changed key, although the address
	// itself has the right one.
	old := sshtest.NewKey(t, "ed25519").PublicKey()
	writeFile(t, user, srv.KnownHostsLine(key)+"\nmynode-key "+string(ssh.MarshalAuthorizedKey(old)))
	c.AcceptNew = true
	_, err := Connect(context.Background(), c)
	var ch *HostKeyChangedError
	if !errors.As(err, &ch) || ch.Line != 2 || !strings.Contains(err.Error(), "ssh-keygen -R mynode-key") {
		t.Fatalf("want *HostKeyChangedError for the alias at line 2, got %v", err)
	}

	// Unknown: recorded under the alias, as OpenSSH does.
	os.Remove(user)
	dial(t, c).Close()
	if got, want := readString(t, user), "mynode-key "+string(ssh.MarshalAuthorizedKey(key)); got != want {
		t.Errorf("known_hosts = %q, want %q", got, want)
	}
}

// TestAcceptNewRefusesKeyKnownUnderAnotherName: the key the host presents
// is recorded for another name (in the user's or the system-wide file), so
// --accept-new-host-keys does not add it under a new one.
func TestAcceptNewRefusesKeyKnownUnderAnotherName(t *testing.T) {
	for _, where := range []string{"user", "system"} {
		t.Run(where, func(t *testing.T) {
			srv, c := setup(t, sshtest.Options{})
			c, user, system := defaultFiles(t, c)
			file := system
			if where == "user" {
				file = user
				if err := os.MkdirAll(filepath.Dir(user), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			line := "db1.example.com,10.0.0.1 " + string(ssh.MarshalAuthorizedKey(srv.HostKeys[0].PublicKey()))
			writeFile(t, file, "# managed\n"+line)
			c.AcceptNew = true
			_, err := Connect(context.Background(), c)
			var u *UnknownHostError
			if !errors.As(err, &u) {
				t.Fatalf("want *UnknownHostError, got %v", err)
			}
			if want := "db1.example.com,10.0.0.1 (" + file + ":2)"; u.KnownAs != want {
				t.Errorf("KnownAs = %q, want %q", u.KnownAs, want)
			}
			for _, s := range []string{"node1: ", "known as db1.example.com", "HostKeyAlias", "does not record"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message %q lacks %q", err, s)
				}
			}
			if got := readString(t, file); got != "# managed\n"+line {
				t.Errorf("%s = %q: changed", file, got)
			}
			if where == "system" {
				if _, err := os.Stat(user); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("the key was recorded in the user's file: %v", err)
				}
			}
		})
	}
}

func TestProxyJumpFromSSHConfig(t *testing.T) {
	target, c := setup(t, sshtest.Options{})
	jump := sshtest.New(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{mustPub(t, c.IdentityFile)}})
	writeFile(t, c.KnownHosts, target.KnownHostsLine(target.HostKeys[0].PublicKey())+"\n"+
		jump.KnownHostsLine(jump.HostKeys[0].PublicKey())+"\n")
	cfgFile := filepath.Join(t.TempDir(), "config")
	writeFile(t, cfgFile, fmt.Sprintf("Host target\n  HostName 127.0.0.1\n  Port %d\n  ProxyJump bastion\n"+
		"Host bastion\n  HostName 127.0.0.1\n  Port %d\n  User root\n  IdentityFile %s\n",
		target.Port, jump.Port, c.IdentityFile))
	c.Address, c.Port, c.SSHConfigFile = "target", 0, cfgFile
	h := dial(t, c)
	if out, err := remote.Output(context.Background(), h, "echo via jump"); err != nil || out != "via jump\n" {
		t.Errorf("Output = %q, %v", out, err)
	}
	if jump.Connections() != 1 || target.Connections() != 1 {
		t.Errorf("connections: jump %d, target %d", jump.Connections(), target.Connections())
	}
	h.Close()
}

func TestIgnoredSSHConfigOptionsNoted(t *testing.T) {
	srv, c := setup(t, sshtest.Options{})
	cfgFile := filepath.Join(t.TempDir(), "config")
	writeFile(t, cfgFile, fmt.Sprintf("Host mynode\n  HostName 127.0.0.1\n  Port %d\n  StrictHostKeyChecking no\n  ForwardAgent yes\n"+
		"Host other\n  ProxyCommand nc %%h %%p\nHost *\n  ServerAliveInterval 5\n  stricthostkeychecking yes\n", srv.Port))
	c.Address, c.Port, c.SSHConfigFile = "mynode", 0, cfgFile
	var mu sync.Mutex
	var notes []string
	c.Note = func(msg string) { mu.Lock(); notes = append(notes, msg); mu.Unlock() }
	dial(t, c).Close()
	want := cfgFile + ": ignoring StrictHostKeyChecking, ForwardAgent, ServerAliveInterval (redisctl reads only HostName, Port, User, " +
		"IdentityFile, ProxyJump, HostKeyAlias, UserKnownHostsFile, GlobalKnownHostsFile)"
	if len(notes) != 1 || notes[0] != want {
		t.Errorf("notes %q\nwant [%q]", notes, want)
	}

	// StrictHostKeyChecking no changes nothing: an unknown host is refused.
	writeFile(t, c.KnownHosts, "")
	var u *UnknownHostError
	if _, err := Connect(context.Background(), c); !errors.As(err, &u) {
		t.Errorf("want *UnknownHostError despite StrictHostKeyChecking no, got %v", err)
	}
}

func TestKnownHostsFileTokens(t *testing.T) {
	home := isolate(t)
	e := endpoint{alias: "db1", host: "10.0.0.1", port: 2222, user: "deploy"}
	for in, want := range map[string]string{
		"~/.ssh/kh_%h_%p":       home + "/.ssh/kh_10.0.0.1_2222",
		"%d/kh/%n-%r-%k":        home + "/kh/db1-deploy-db1",
		"/etc/ssh/100%%_%h.txt": "/etc/ssh/100%_10.0.0.1.txt",
	} {
		got, err := e.expandTokens(in)
		if err != nil || got != want {
			t.Errorf("expandTokens(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := e.expandTokens("/x/%C"); err == nil || !strings.Contains(err.Error(), "%C") {
		t.Errorf("unsupported token: want an error naming it, got %v", err)
	}
}
