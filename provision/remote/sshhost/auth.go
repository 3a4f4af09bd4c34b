package sshhost

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/term"
)

// ErrAuth is wrapped by every error saying the server accepted none of the
// keys offered (or an encrypted key could not be unlocked).
var ErrAuth = errors.New("SSH authentication failed")

// PassphrasePrompt returns a Config.Passphrase that asks on out and reads
// the answer from in, once per key file for all the hosts it is given to.
// When in is an *os.File it must be a terminal (echo is off while reading);
// any other reader is read up to a newline, as a fake terminal in tests.
//
// Every call returns a copy of its own: whoever unlocks a key with it
// clears it afterwards, and the next host still needs the passphrase.
func PassphrasePrompt(in io.Reader, out io.Writer) func(file string) ([]byte, error) {
	var mu sync.Mutex
	asked := map[string][]byte{} // one prompt per key file, not per host
	return func(file string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		if pw, ok := asked[file]; ok {
			return bytes.Clone(pw), nil
		}
		pw, err := readPassphrase(in, out, file)
		if err != nil {
			return nil, err
		}
		asked[file] = pw
		return bytes.Clone(pw), nil
	}
}

func readPassphrase(in io.Reader, out io.Writer, file string) ([]byte, error) {
	noTerminal := fmt.Errorf("%s is encrypted and there is no terminal to ask for its passphrase; load it into ssh-agent (ssh-add %s)", file, file)
	if in == nil {
		return nil, noTerminal
	}
	f, isFile := in.(*os.File)
	if isFile && !term.IsTerminal(int(f.Fd())) {
		return nil, noTerminal
	}
	fmt.Fprintf(out, "Passphrase for %s: ", file)
	defer fmt.Fprintln(out)
	if isFile {
		return term.ReadPassword(int(f.Fd()))
	}
	return readLine(in)
}

// readLine reads up to a newline one byte at a time, so nothing after it is
// consumed, and clears what it read on the way.
func readLine(r io.Reader) ([]byte, error) {
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := r.Read(b)
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			grown := append(line, b[0])
			if cap(grown) != cap(line) {
				clear(line)
			}
			line = grown
			continue
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			break
		}
		if err != nil {
			clear(line)
			if errors.Is(err, io.EOF) {
				err = errors.New("no passphrase given")
			}
			return nil, err
		}
	}
	clear(b)
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line[n-1] = 0
		line = line[:n-1]
	}
	return line, nil
}

// keyring unlocks encrypted key files once per file, even for hosts
// connecting in parallel, so a passphrase is asked at most once.
type keyring struct {
	mu       sync.Mutex
	unlocked map[string]ssh.Signer
	failed   map[string]error
}

func newKeyring() *keyring {
	return &keyring{unlocked: map[string]ssh.Signer{}, failed: map[string]error{}}
}

func (r *keyring) unlock(file string, pemBytes []byte, ask func(string) ([]byte, error)) (ssh.Signer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.unlocked[file]; ok {
		return s, nil
	}
	if err, ok := r.failed[file]; ok {
		return nil, err
	}
	pass, err := ask(file) // ours to clear: see Config.Passphrase
	if err != nil {
		err = fmt.Errorf("passphrase for %s: %w", file, err)
		r.failed[file] = err
		return nil, err
	}
	s, err := ssh.ParsePrivateKeyWithPassphrase(pemBytes, pass)
	clear(pass)
	if err != nil {
		err = fmt.Errorf("unlock %s: %w", file, err)
		r.failed[file] = err
		return nil, err
	}
	r.unlocked[file] = s
	return s, nil
}

// auth is the set of keys offered to one server, and what to say if the
// server takes none of them.
type auth struct {
	signers   []ssh.Signer
	offered   []string // "key FILE", "ssh-agent key SHA256:..."
	notes     []string // keys left out and why
	agentConn net.Conn
	unlockErr error // set when unlocking an encrypted key failed mid-handshake
}

// newAuth collects the keys for e: the caller's identity file, then the
// ssh-agent's keys, then ~/.ssh/config's (or OpenSSH's default) key files.
// pause stops the handshake deadline while a passphrase is asked.
func newAuth(e endpoint, ring *keyring, ask func(string) ([]byte, error), pause func(stop bool)) (*auth, error) {
	a := &auth{}
	var agentKeys []ssh.Signer
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		conn, err := net.DialTimeout("unix", sock, 2*time.Second)
		if err != nil {
			a.notes = append(a.notes, "ssh-agent unreachable: "+err.Error())
		} else {
			a.agentConn = conn
			if agentKeys, err = agent.NewClient(conn).Signers(); err != nil {
				a.notes = append(a.notes, "ssh-agent: "+err.Error())
			}
		}
	} else {
		a.notes = append(a.notes, "no ssh-agent (SSH_AUTH_SOCK is not set)")
	}
	inAgent := map[string]ssh.Signer{}
	for _, s := range agentKeys {
		inAgent[string(s.PublicKey().Marshal())] = s
	}

	seen := map[string]bool{}
	add := func(s ssh.Signer, what string) {
		k := string(s.PublicKey().Marshal())
		if seen[k] {
			return
		}
		seen[k] = true
		if as, ok := inAgent[k]; ok {
			s, what = as, what+" (via ssh-agent)"
		}
		a.signers = append(a.signers, s)
		a.offered = append(a.offered, what)
	}
	addFile := func(kf keyFile) error {
		data, err := os.ReadFile(kf.path)
		if err != nil {
			if kf.explicit {
				return fmt.Errorf("identity file: %w", err)
			}
			if !errors.Is(err, fs.ErrNotExist) {
				a.notes = append(a.notes, fmt.Sprintf("skipped %s: %v", kf.path, err))
			}
			return nil
		}
		s, err := ssh.ParsePrivateKey(data)
		var missing *ssh.PassphraseMissingError
		switch {
		case err == nil:
			add(s, "key "+kf.path)
		case errors.As(err, &missing):
			pub := missing.PublicKey
			if pub == nil {
				pub = readPublicKey(kf.path + ".pub")
			}
			if pub != nil && inAgent[string(pub.Marshal())] != nil {
				add(inAgent[string(pub.Marshal())], "key "+kf.path)
				return nil
			}
			if ask == nil {
				a.notes = append(a.notes, fmt.Sprintf("skipped %s: it is encrypted and no passphrase can be asked (add it to ssh-agent)", kf.path))
				return nil
			}
			if pub == nil { // no public half to offer first: unlock it now
				pause(true)
				s, err := ring.unlock(kf.path, data, ask)
				pause(false)
				if err != nil {
					if kf.explicit {
						return fmt.Errorf("%w: %w", ErrAuth, err)
					}
					a.notes = append(a.notes, err.Error())
					return nil
				}
				add(s, "key "+kf.path)
				return nil
			}
			add(&lockedSigner{pub: pub, file: kf.path, pem: data, ring: ring, ask: ask, pause: pause, failed: &a.unlockErr},
				"key "+kf.path)
		case kf.explicit:
			return fmt.Errorf("identity file %s: %w", kf.path, err)
		default:
			a.notes = append(a.notes, fmt.Sprintf("skipped %s: %v", kf.path, err))
		}
		return nil
	}

	for _, kf := range e.keyFiles {
		if kf.explicit {
			if err := addFile(kf); err != nil {
				a.close()
				return nil, err
			}
		}
	}
	for _, s := range agentKeys {
		add(s, "ssh-agent key "+ssh.FingerprintSHA256(s.PublicKey()))
	}
	for _, kf := range e.keyFiles {
		if !kf.explicit {
			_ = addFile(kf)
		}
	}
	return a, nil
}

func readPublicKey(file string) ssh.PublicKey {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil
	}
	return pub
}

func (a *auth) methods() []ssh.AuthMethod {
	if len(a.signers) == 0 {
		return nil
	}
	// One method for every key: the client tries each method name once.
	return []ssh.AuthMethod{ssh.PublicKeys(a.signers...)}
}

func (a *auth) close() {
	if a.agentConn != nil {
		a.agentConn.Close()
	}
}

// failure is the error for a server that accepted none of the keys.
func (a *auth) failure(e endpoint) error {
	if a.unlockErr != nil {
		return fmt.Errorf("%w as %s: %w", ErrAuth, e, a.unlockErr)
	}
	msg := "no key to offer"
	if len(a.offered) > 0 {
		msg = "the server accepted none of: " + strings.Join(a.offered, ", ")
	}
	if len(a.notes) > 0 {
		msg += " (" + strings.Join(a.notes, "; ") + ")"
	}
	return fmt.Errorf("%w as %s: %s; check the user name and that one of these keys is in ~%s/.ssh/authorized_keys on the host",
		ErrAuth, e, msg, e.user)
}

// lockedSigner offers the public half of an encrypted key and asks for the
// passphrase only when the server accepts that key and a signature is due.
type lockedSigner struct {
	pub    ssh.PublicKey
	file   string
	pem    []byte
	ring   *keyring
	ask    func(string) ([]byte, error)
	pause  func(stop bool)
	failed *error
}

func (l *lockedSigner) PublicKey() ssh.PublicKey { return l.pub }

func (l *lockedSigner) unlock() (ssh.Signer, error) {
	l.pause(true)
	defer l.pause(false)
	s, err := l.ring.unlock(l.file, l.pem, l.ask)
	if err != nil {
		*l.failed = err
	}
	return s, err
}

func (l *lockedSigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	s, err := l.unlock()
	if err != nil {
		return nil, err
	}
	return s.Sign(rand, data)
}

func (l *lockedSigner) SignWithAlgorithm(rand io.Reader, data []byte, algorithm string) (*ssh.Signature, error) {
	s, err := l.unlock()
	if err != nil {
		return nil, err
	}
	if as, ok := s.(ssh.AlgorithmSigner); ok {
		return as.SignWithAlgorithm(rand, data, algorithm)
	}
	if algorithm != "" && algorithm != l.pub.Type() {
		return nil, fmt.Errorf("key %s cannot sign with %s", l.file, algorithm)
	}
	return s.Sign(rand, data)
}
