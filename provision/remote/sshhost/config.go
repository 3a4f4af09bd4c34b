// Package sshhost implements remote.Host over one SSH connection per host:
// commands run in sessions on that connection (as root, through `sudo -n`
// for a non-root login), files travel over SFTP and are moved into place
// atomically as root, and Dial opens direct-tcpip channels so the Redis
// protocol rides inside the same connection.
//
// Host keys are always checked against known_hosts; unknown hosts are only
// recorded when the caller opts in (AcceptNew), and a changed key is never
// accepted.
package sshhost

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"
)

// Config says how to reach one host. Empty fields fall back to ~/.ssh/config
// for the Address, then to OpenSSH's defaults.
type Config struct {
	Name    string // inventory name, prefixes every error
	Address string // host name, IP or ~/.ssh/config alias
	Port    int    // 0: ~/.ssh/config for Address, else 22
	User    string // "": ~/.ssh/config, else the current user

	// IdentityFile is a private key to try first. Whether or not it is set,
	// the ssh-agent (SSH_AUTH_SOCK) is also used; when it is empty the
	// IdentityFile entries of ~/.ssh/config (or OpenSSH's default key names)
	// are tried too.
	IdentityFile string
	KnownHosts   string // "": ~/.ssh/known_hosts (and /etc/ssh/ssh_known_hosts for reading)

	// Jump is an optional "[user@]host[:port]" jump host reached with the
	// same keys and known_hosts. Empty: a single-hop ProxyJump from
	// ~/.ssh/config, if any.
	Jump string

	// AcceptNew records the key of a host missing from KnownHosts instead of
	// refusing it, like OpenSSH's StrictHostKeyChecking=accept-new. A changed
	// key is refused regardless.
	AcceptNew bool

	ConnectTimeout time.Duration // TCP connect and SSH handshake; default 10s

	// Passphrase is asked for an encrypted key, only once the server has
	// accepted that key. It must return a slice of its own on every call:
	// the slice is cleared once the key is unlocked. nil: encrypted keys are
	// skipped (the ssh-agent may still hold them) and the authentication
	// error says so. See PassphrasePrompt.
	Passphrase func(file string) ([]byte, error)

	SSHConfigFile string // "": ~/.ssh/config; for tests

	// keepalive overrides the 15s keepalive interval in tests.
	keepalive time.Duration
}

const (
	defaultConnectTimeout = 10 * time.Second
	keepaliveInterval     = 15 * time.Second
	keepaliveMaxMissed    = 3
)

// endpoint is a Config resolved against ~/.ssh/config and the defaults.
type endpoint struct {
	name     string // for messages
	alias    string // what the user wrote
	host     string // HostName to connect to
	port     int
	user     string
	keyFiles []keyFile
	jump     string // "[user@]host[:port]" or ""
}

// keyFile is one private key to try and how it was chosen.
type keyFile struct {
	path     string
	explicit bool // named by the caller: a missing or broken file is an error
}

func (e endpoint) addr() string { return net.JoinHostPort(e.host, strconv.Itoa(e.port)) }

func (e endpoint) String() string { return e.user + "@" + e.addr() }

// sshConfig is the parsed ~/.ssh/config, or nil when there is none.
type sshConfig struct{ cfg *ssh_config.Config }

func loadSSHConfig(file string) (*sshConfig, error) {
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return &sshConfig{}, nil
		}
		file = filepath.Join(home, ".ssh", "config")
	}
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return &sshConfig{}, nil
	}
	if err != nil {
		return &sshConfig{}, err
	}
	defer f.Close()
	cfg, err := ssh_config.Decode(f)
	if err != nil {
		return &sshConfig{}, fmt.Errorf("read %s: %w", file, err)
	}
	return &sshConfig{cfg: cfg}, nil
}

func (s *sshConfig) get(alias, key string) string {
	if s == nil || s.cfg == nil {
		return ""
	}
	v, _ := s.cfg.Get(alias, key)
	return v
}

func (s *sshConfig) getAll(alias, key string) []string {
	if s == nil || s.cfg == nil {
		return nil
	}
	v, _ := s.cfg.GetAll(alias, key)
	return v
}

// resolve fills in what c leaves empty from ~/.ssh/config and the defaults.
func resolve(c Config, sc *sshConfig) (endpoint, error) {
	e := endpoint{name: c.Name, alias: c.Address, port: c.Port, user: c.User, jump: c.Jump}
	if e.name == "" {
		e.name = c.Address
	}
	if c.Address == "" {
		return e, errors.New("no address given")
	}
	e.host = c.Address
	if hn := sc.get(c.Address, "HostName"); hn != "" {
		e.host = strings.ReplaceAll(hn, "%h", c.Address)
	}
	if e.port == 0 {
		if p := sc.get(c.Address, "Port"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n <= 0 || n > 65535 {
				return e, fmt.Errorf("~/.ssh/config: bad Port %q for %s", p, c.Address)
			}
			e.port = n
		} else {
			e.port = 22
		}
	}
	if e.user == "" {
		e.user = sc.get(c.Address, "User")
	}
	if e.user == "" {
		u, err := currentUser()
		if err != nil {
			return e, err
		}
		e.user = u
	}
	if e.jump == "" {
		if pj := sc.get(c.Address, "ProxyJump"); pj != "" && !strings.EqualFold(pj, "none") {
			if strings.Contains(pj, ",") {
				return e, fmt.Errorf("~/.ssh/config: ProxyJump %q for %s has several hops; only one is supported", pj, c.Address)
			}
			e.jump = strings.TrimPrefix(pj, "ssh://")
		}
	}

	if c.IdentityFile != "" {
		p, err := expandHome(c.IdentityFile)
		if err != nil {
			return e, err
		}
		e.keyFiles = append(e.keyFiles, keyFile{path: p, explicit: true})
	}
	if c.IdentityFile == "" {
		files := sc.getAll(c.Address, "IdentityFile")
		if len(files) == 0 {
			// OpenSSH's defaults, tried only when present.
			files = []string{"~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"}
		}
		for _, f := range files {
			if p, err := expandHome(f); err == nil {
				e.keyFiles = append(e.keyFiles, keyFile{path: p})
			}
		}
	}
	return e, nil
}

// parseJump splits "[user@]host[:port]" (host may be "[v6]").
func parseJump(s string) (userName, host string, port int, err error) {
	if i := strings.LastIndex(s, "@"); i >= 0 {
		userName, s = s[:i], s[i+1:]
	}
	host = s
	if strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1 {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
				return userName, strings.Trim(s, "[]"), 0, nil
			}
			return "", "", 0, fmt.Errorf("jump host %q: %w", s, err)
		}
		host = h
		if port, err = strconv.Atoi(p); err != nil || port <= 0 || port > 65535 {
			return "", "", 0, fmt.Errorf("jump host %q: bad port", s)
		}
	}
	if host == "" {
		return "", "", 0, fmt.Errorf("jump host %q: no host", s)
	}
	return userName, host, port, nil
}

func currentUser() (string, error) {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username, nil
	}
	if u := os.Getenv("USER"); u != "" {
		return u, nil
	}
	return "", errors.New("cannot tell the current user name: set the SSH user in the inventory")
}

func expandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("expand %s: %w", p, err)
	}
	return filepath.Join(home, p[1:]), nil
}
