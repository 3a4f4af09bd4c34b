// Package sshhost implements remote.Host over one SSH connection per host:
// commands run in sessions on that connection (as root, through `sudo -n`
// for a non-root login), files travel over SFTP and are moved into place
// atomically as root, and Dial opens direct-tcpip channels so the Redis
// protocol rides inside the same connection.
//
// Host keys are always checked against known_hosts; unknown hosts are only
// recorded when the caller opts in (AcceptNew), and a changed key is never
// accepted.
//
// Of ~/.ssh/config, only HostName, Port, User, IdentityFile, ProxyJump (one
// hop), HostKeyAlias, UserKnownHostsFile and GlobalKnownHostsFile are read;
// Config.Note hears of the other options set for a host.
package sshhost

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
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

	// KnownHosts, when set, is the only known_hosts file read, and the one
	// new keys are recorded in. Empty: what OpenSSH reads, the user's file
	// (~/.ssh/config's UserKnownHostsFile, else ~/.ssh/known_hosts, where
	// new keys go) and the system-wide one (GlobalKnownHostsFile, else
	// SystemKnownHosts).
	KnownHosts       string
	SystemKnownHosts string // "": /etc/ssh/ssh_known_hosts; for tests

	// Jump is an optional "[user@]host[:port]" jump host reached with the
	// same keys and known_hosts settings. Empty: a single-hop ProxyJump from
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

	// Note, if set, hears remarks for the user: which ~/.ssh/config options
	// set for this host are ignored. Hosts with the same options get the
	// same remark, so a caller can print each one once.
	Note func(msg string)

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

	hostKeyAlias string   // the name to look the host key up under, or ""
	userKnown    []string // known_hosts files read and recorded in (the first)
	systemKnown  []string // known_hosts files only read
	ignored      []string // ~/.ssh/config options set for alias and not read
}

// keyFile is one private key to try and how it was chosen.
type keyFile struct {
	path     string
	explicit bool // named by the caller: a missing or broken file is an error
}

func (e endpoint) addr() string { return net.JoinHostPort(e.host, strconv.Itoa(e.port)) }

func (e endpoint) String() string { return e.user + "@" + e.addr() }

// sshConfig is the parsed ~/.ssh/config; cfg is nil when there is none.
type sshConfig struct {
	cfg  *ssh_config.Config
	file string // for messages
}

// readOptions are the ~/.ssh/config options resolve honours; the others set
// for a host are reported through Config.Note.
var readOptions = []string{"HostName", "Port", "User", "IdentityFile", "ProxyJump",
	"HostKeyAlias", "UserKnownHostsFile", "GlobalKnownHostsFile"}

// defaultSystemKnownHosts is OpenSSH's GlobalKnownHostsFile.
const defaultSystemKnownHosts = "/etc/ssh/ssh_known_hosts"

func loadSSHConfig(file string) (*sshConfig, error) {
	name := file
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return &sshConfig{}, nil
		}
		file, name = filepath.Join(home, ".ssh", "config"), "~/.ssh/config"
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
	return &sshConfig{cfg: cfg, file: name}, nil
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

// ignored lists the options set for alias (in the file itself, not in
// files it includes) that resolve does not read, each once.
func (s *sshConfig) ignored(alias string) []string {
	if s == nil || s.cfg == nil {
		return nil
	}
	has := func(list []string, key string) bool {
		return slices.ContainsFunc(list, func(o string) bool { return strings.EqualFold(o, key) })
	}
	var out []string
	for _, h := range s.cfg.Hosts {
		if !h.Matches(alias) {
			continue
		}
		for _, n := range h.Nodes {
			if kv, ok := n.(*ssh_config.KV); ok && kv.Key != "" && !has(readOptions, kv.Key) && !has(out, kv.Key) {
				out = append(out, kv.Key)
			}
		}
	}
	return out
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

	e.hostKeyAlias = sc.get(c.Address, "HostKeyAlias")
	if err := e.knownHostsFiles(c, sc); err != nil {
		return e, err
	}
	e.ignored = sc.ignored(c.Address)

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

// knownHostsFiles sets the known_hosts files for e: the caller's alone, or
// OpenSSH's user and system-wide files, as ~/.ssh/config may name them.
func (e *endpoint) knownHostsFiles(c Config, sc *sshConfig) error {
	if c.KnownHosts != "" {
		p, err := expandHome(c.KnownHosts)
		if err != nil {
			return err
		}
		e.userKnown = []string{p}
		return nil
	}
	files := func(option, def string) ([]string, error) {
		v := sc.get(c.Address, option)
		if v == "" {
			v = def
		}
		if strings.EqualFold(v, "none") {
			return nil, nil
		}
		var out []string
		for _, f := range strings.Fields(v) {
			p, err := e.expandTokens(f)
			if err != nil {
				return nil, fmt.Errorf("%s: %s %q for %s: %w", sc.file, option, v, c.Address, err)
			}
			out = append(out, p)
		}
		return out, nil
	}
	var err error
	if e.userKnown, err = files("UserKnownHostsFile", "~/.ssh/known_hosts"); err != nil {
		return err
	}
	system := c.SystemKnownHosts
	if system == "" {
		system = defaultSystemKnownHosts
	}
	e.systemKnown, err = files("GlobalKnownHostsFile", system)
	return err
}

// expandTokens expands "~" and the ssh_config tokens that make sense for a
// known_hosts file name: %% %d %h %k %n %p %r %u.
func (e *endpoint) expandTokens(s string) (string, error) {
	s, err := expandHome(s)
	if err != nil || !strings.Contains(s, "%") {
		return s, err
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i++; i == len(s) {
			return "", errors.New("a lone % at the end")
		}
		switch s[i] {
		case '%':
			b.WriteByte('%')
		case 'd':
			home, err := os.UserHomeDir()
			if err != nil {
				return "", err
			}
			b.WriteString(home)
		case 'h':
			b.WriteString(e.host)
		case 'k':
			if e.hostKeyAlias != "" {
				b.WriteString(e.hostKeyAlias)
			} else {
				b.WriteString(e.alias)
			}
		case 'n':
			b.WriteString(e.alias)
		case 'p':
			b.WriteString(strconv.Itoa(e.port))
		case 'r':
			b.WriteString(e.user)
		case 'u':
			u, err := currentUser()
			if err != nil {
				return "", err
			}
			b.WriteString(u)
		default:
			return "", fmt.Errorf("token %%%c is not supported here (use %%d, %%h, %%k, %%n, %%p, %%r, %%u or a plain path)", s[i])
		}
	}
	return b.String(), nil
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
