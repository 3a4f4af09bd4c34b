package sshhost

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"

	"github.com/redisctl/redisctl/provision/remote"
)

// UnknownHostError is a host whose key is in no known_hosts file read,
// refused because AcceptNew is off or because the same key is known under
// another name.
type UnknownHostError struct {
	Host           string // inventory name
	Address        string // "host:port" connected to
	HostKeyAlias   string // the name looked up instead of Address (~/.ssh/config), or ""
	KeyType        string // e.g. "ssh-ed25519"
	Fingerprint    string // "SHA256:..."
	KnownHostsFile string // the user's file, where a new key belongs
	AlsoRead       string // the system-wide file(s) read too, or ""

	// KnownAs lists the entries that hold this very key under other names,
	// as "name (file:line)"; AcceptNew does not record such a key.
	KnownAs string
}

func (e *UnknownHostError) Error() string {
	name := e.Address
	if e.HostKeyAlias != "" {
		name = e.Address + " (known_hosts name " + e.HostKeyAlias + ")"
	}
	where := e.KnownHostsFile
	if where == "" {
		where = "any known_hosts file"
	}
	if e.AlsoRead != "" {
		where += " nor in " + e.AlsoRead
	}
	msg := fmt.Sprintf("host key of %s is unknown: %s key %s is not in %s", name, e.KeyType, e.Fingerprint, where)
	if e.KnownAs != "" {
		return msg + fmt.Sprintf(" under that name, but the same key is known as %s. If this is that machine, give it that name "+
			"(HostKeyAlias in ~/.ssh/config) or add a line for %s yourself; "+
			"--accept-new-host-keys does not record a key known under another name",
			e.KnownAs, e.lookupName())
	}
	if e.KnownHostsFile == "" {
		return msg + "; ~/.ssh/config sets UserKnownHostsFile none, so nothing can be recorded: add the key to a known_hosts file that is read"
	}
	add := fmt.Sprintf("%s >> %s", keyscanCmd(e.Address), remote.Quote(e.KnownHostsFile))
	if e.HostKeyAlias != "" {
		add = fmt.Sprintf("the output of %s with the host name replaced by %s, to %s",
			keyscanCmd(e.Address), e.HostKeyAlias, e.KnownHostsFile)
	}
	return msg + "; check that fingerprint out of band, then re-run with --accept-new-host-keys to record it " +
		"(or add it yourself: " + add + ")"
}

// lookupName is the host as a known_hosts line names it.
func (e *UnknownHostError) lookupName() string {
	if e.HostKeyAlias != "" {
		return e.HostKeyAlias
	}
	return knownhosts.Normalize(e.Address)
}

// HostKeyChangedError is a host presenting a key other than the one
// known_hosts has for it. It is never bypassed.
type HostKeyChangedError struct {
	Host           string // inventory name
	Address        string // "host:port" as looked up in known_hosts (or the HostKeyAlias)
	KeyType        string // the key the host presents now
	Fingerprint    string
	KnownHostsFile string // where the old key is
	Line           int
	KnownKeyType   string
	SystemWide     bool // KnownHostsFile is the system-wide file, not the user's
}

func (e *HostKeyChangedError) Error() string {
	fix := fmt.Sprintf("remove the old entry (ssh-keygen -R %s -f %s)",
		remote.Quote(knownhosts.Normalize(e.Address)), remote.Quote(e.KnownHostsFile))
	if e.SystemWide {
		fix = fmt.Sprintf("have the entry in the system-wide %s corrected (by whoever administers this machine)", e.KnownHostsFile)
	}
	return fmt.Sprintf("WARNING: host key of %s has CHANGED: it presents %s key %s but %s:%d has a different %s key for it. "+
		"Someone could be intercepting the connection (man-in-the-middle), or the host was reinstalled. "+
		"Refusing to connect. If the change is expected, verify the new key out of band and %s",
		e.Address, e.KeyType, e.Fingerprint, e.KnownHostsFile, e.Line, e.KnownKeyType, fix)
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

// hostKeys checks host keys against the known_hosts files of one endpoint.
type hostKeys struct {
	file      string          // the user's file: named in messages, appended to by AcceptNew; "" for none
	read      []string        // the files that exist, read in full
	system    map[string]bool // which of read are system-wide
	db        *knownhosts.HostKeyDB
	acceptNew bool
}

// loadHostKeys reads e's known_hosts files (see Config.KnownHosts). A
// missing file is an empty one.
func loadHostKeys(e endpoint, acceptNew bool) (*hostKeys, error) {
	k := &hostKeys{system: map[string]bool{}, acceptNew: acceptNew}
	if len(e.userKnown) > 0 {
		k.file = e.userKnown[0]
	}
	for i, f := range append(slices.Clone(e.userKnown), e.systemKnown...) {
		if slices.Contains(k.read, f) {
			continue
		}
		if _, err := os.Stat(f); errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("read known hosts: %w", err)
		}
		k.read = append(k.read, f)
		k.system[f] = i >= len(e.userKnown)
	}
	db, err := knownhosts.NewDB(k.read...)
	if err != nil {
		return nil, fmt.Errorf("read known hosts: %w", err)
	}
	k.db = db
	return k, nil
}

// lookup is the "host:port" ep's key is known under: the HostKeyAlias
// (without a port, as OpenSSH writes it) or the address connected to.
func lookup(ep endpoint) string {
	if ep.hostKeyAlias != "" {
		return net.JoinHostPort(ep.hostKeyAlias, "22")
	}
	return ep.addr()
}

// algorithms returns the host key algorithms known_hosts has for ep, so the
// server is asked for a key we can check; nil when ep is unknown.
func (k *hostKeys) algorithms(ep endpoint) []string {
	a := k.db.HostKeyAlgorithms(lookup(ep))
	if len(a) == 0 {
		return nil
	}
	return a
}

// callback returns the ssh.HostKeyCallback for ep, reached as the host
// named name. The typed error it returns is also stored in *failed, since
// the handshake error around it is only a wrapper.
func (k *hostKeys) callback(name string, ep endpoint, failed *error) ssh.HostKeyCallback {
	check := k.db.HostKeyCallback()
	return func(_ string, remote net.Addr, key ssh.PublicKey) error {
		err := k.classify(name, ep, check(lookup(ep), remote, key), key)
		if err != nil {
			*failed = err
		}
		return err
	}
}

func (k *hostKeys) classify(name string, ep endpoint, err error, key ssh.PublicKey) error {
	if err == nil {
		return nil
	}
	var ke *xknownhosts.KeyError
	var re *xknownhosts.RevokedError
	switch {
	case knownhosts.IsHostKeyChanged(err) && errors.As(err, &ke):
		want := ke.Want[0]
		return &HostKeyChangedError{
			Host: name, Address: lookup(ep),
			KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key),
			KnownHostsFile: want.Filename, Line: want.Line,
			KnownKeyType: want.Key.Type(), SystemWide: k.system[want.Filename],
		}
	case knownhosts.IsHostUnknown(err):
		knownAs := k.knownAs(key)
		if k.acceptNew && knownAs == "" && k.file != "" {
			if err := appendKnownHost(k.file, lookup(ep), key); err != nil {
				return fmt.Errorf("record host key of %s in %s: %w", ep.addr(), k.file, err)
			}
			return nil
		}
		var also []string
		for _, f := range k.read {
			if k.system[f] {
				also = append(also, f)
			}
		}
		return &UnknownHostError{
			Host: name, Address: ep.addr(), HostKeyAlias: ep.hostKeyAlias,
			KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key),
			KnownHostsFile: k.file, AlsoRead: strings.Join(also, ", "), KnownAs: knownAs,
		}
	case errors.As(err, &re):
		return fmt.Errorf("host key of %s (%s) is marked @revoked in %s:%d",
			ep.addr(), ssh.FingerprintSHA256(key), re.Revoked.Filename, re.Revoked.Line)
	}
	return fmt.Errorf("check host key of %s: %w", ep.addr(), err)
}

// knownAs lists the known_hosts entries holding key, whatever name they
// give it, as "name (file:line)". Hashed names show as such.
func (k *hostKeys) knownAs(key ssh.PublicKey) string {
	want := key.Marshal()
	var found []string
	for _, f := range k.read {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for i, line := range bytes.Split(data, []byte("\n")) {
			marker, hosts, pub, _, _, err := ssh.ParseKnownHosts(line)
			if err != nil || marker != "" || !bytes.Equal(pub.Marshal(), want) {
				continue
			}
			names := strings.Join(hosts, ",")
			if strings.HasPrefix(names, "|1|") {
				names = "a hashed name"
			}
			found = append(found, fmt.Sprintf("%s (%s:%d)", names, f, i+1))
		}
	}
	return strings.Join(found, ", ")
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
