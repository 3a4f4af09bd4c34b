package sshhost

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"

	"github.com/redisctl/redisctl/provision/remote"
)

// UnknownHostError is a host whose key is not in known_hosts, refused
// because AcceptNew is off.
type UnknownHostError struct {
	Host           string // inventory name
	Address        string // "host:port" as looked up in known_hosts
	KeyType        string // e.g. "ssh-ed25519"
	Fingerprint    string // "SHA256:..."
	KnownHostsFile string
}

func (e *UnknownHostError) Error() string {
	return fmt.Sprintf("host key of %s is unknown: %s key %s is not in %s; "+
		"check that fingerprint out of band, then re-run with --accept-new-host-keys to record it "+
		"(or add it yourself: %s >> %s)",
		e.Address, e.KeyType, e.Fingerprint, e.KnownHostsFile, keyscanCmd(e.Address), remote.Quote(e.KnownHostsFile))
}

// HostKeyChangedError is a host presenting a key other than the one
// known_hosts has for it. It is never bypassed.
type HostKeyChangedError struct {
	Host           string // inventory name
	Address        string // "host:port" as looked up in known_hosts
	KeyType        string // the key the host presents now
	Fingerprint    string
	KnownHostsFile string // where the old key is
	Line           int
	KnownKeyType   string
}

func (e *HostKeyChangedError) Error() string {
	return fmt.Sprintf("WARNING: host key of %s has CHANGED: it presents %s key %s but %s:%d has a different %s key for it. "+
		"Someone could be intercepting the connection (man-in-the-middle), or the host was reinstalled. "+
		"Refusing to connect. If the change is expected, verify the new key out of band and remove the old entry (ssh-keygen -R %s -f %s)",
		e.Address, e.KeyType, e.Fingerprint, e.KnownHostsFile, e.Line, e.KnownKeyType,
		remote.Quote(knownhosts.Normalize(e.Address)), remote.Quote(e.KnownHostsFile))
}

func keyscanCmd(address string) string {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return remote.Cmd("ssh-keyscan", address)
	}
	if port == "22" {
		return remote.Cmd("ssh-keyscan", host)
	}
	return remote.Cmd("ssh-keyscan", "-p", port, host)
}

// hostKeys checks host keys against known_hosts files.
type hostKeys struct {
	file      string // the user's file: named in messages, appended to by AcceptNew
	db        *knownhosts.HostKeyDB
	acceptNew bool
}

// loadHostKeys reads file ("" for ~/.ssh/known_hosts, plus the system-wide
// /etc/ssh/ssh_known_hosts). A missing file is an empty one.
func loadHostKeys(file string, acceptNew bool) (*hostKeys, error) {
	var extra []string
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("find ~/.ssh/known_hosts: %w", err)
		}
		file = filepath.Join(home, ".ssh", "known_hosts")
		extra = append(extra, "/etc/ssh/ssh_known_hosts")
	} else {
		p, err := expandHome(file)
		if err != nil {
			return nil, err
		}
		file = p
	}
	var files []string
	for _, f := range append([]string{file}, extra...) {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read known hosts: %w", err)
		}
	}
	db, err := knownhosts.NewDB(files...)
	if err != nil {
		return nil, fmt.Errorf("read known hosts: %w", err)
	}
	return &hostKeys{file: file, db: db, acceptNew: acceptNew}, nil
}

// algorithms returns the host key algorithms known_hosts has for addr, so the
// server is asked for a key we can check; nil when addr is unknown.
func (k *hostKeys) algorithms(addr string) []string {
	a := k.db.HostKeyAlgorithms(addr)
	if len(a) == 0 {
		return nil
	}
	return a
}

// callback returns the ssh.HostKeyCallback for the host named name. The
// typed error it returns is also stored in *failed, since the handshake
// error around it is only a wrapper.
func (k *hostKeys) callback(name string, failed *error) ssh.HostKeyCallback {
	check := k.db.HostKeyCallback()
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := k.classify(name, hostname, check(hostname, remote, key), key)
		if err != nil {
			*failed = err
		}
		return err
	}
}

func (k *hostKeys) classify(name, hostname string, err error, key ssh.PublicKey) error {
	if err == nil {
		return nil
	}
	var ke *xknownhosts.KeyError
	var re *xknownhosts.RevokedError
	switch {
	case errors.As(err, &ke) && len(ke.Want) > 0:
		return &HostKeyChangedError{
			Host: name, Address: hostname,
			KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key),
			KnownHostsFile: ke.Want[0].Filename, Line: ke.Want[0].Line,
			KnownKeyType: ke.Want[0].Key.Type(),
		}
	case errors.As(err, &ke):
		if k.acceptNew {
			if err := appendKnownHost(k.file, hostname, key); err != nil {
				return fmt.Errorf("record host key of %s: %w", hostname, err)
			}
			return nil
		}
		return &UnknownHostError{
			Host: name, Address: hostname,
			KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key),
			KnownHostsFile: k.file,
		}
	case errors.As(err, &re):
		return fmt.Errorf("host key of %s (%s) is marked @revoked in %s:%d",
			hostname, ssh.FingerprintSHA256(key), re.Revoked.Filename, re.Revoked.Line)
	}
	return fmt.Errorf("check host key of %s: %w", hostname, err)
}

// knownHostsMu serialises appends from hosts connecting in parallel.
var knownHostsMu sync.Mutex

// appendKnownHost adds a plain "host" or "[host]:port" line for key to file,
// creating the file (0600) and its directory (0700) when missing.
func appendKnownHost(file, hostport string, key ssh.PublicKey) error {
	knownHostsMu.Lock()
	defer knownHostsMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	line := knownhosts.Line([]string{hostport}, key) + "\n"
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			line = "\n" + line
		}
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
