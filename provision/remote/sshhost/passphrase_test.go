package sshhost

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/redisctl/redisctl/provision/remote/sshhost/sshtest"
)

// TestPassphraseOnceForHostsOneAfterAnother: hosts connected one after
// another, each with its own Connect (as provision.SSHConnector does), share
// one prompt; the passphrase is asked once and every host gets it intact,
// although each use clears what it was handed.
func TestPassphraseOnceForHostsOneAfterAnother(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	locked := sshtest.WriteKey(t, dir, "id_locked", "s3cret")
	var lines []string
	var servers []*sshtest.Server
	for range 3 {
		srv := sshtest.New(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{locked.Signer.PublicKey()}})
		servers = append(servers, srv)
		lines = append(lines, srv.KnownHostsLine(srv.HostKeys[0].PublicKey()))
	}
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, strings.Join(lines, "\n")+"\n")

	// The fake terminal holds one answer: a second prompt would find EOF.
	var screen bytes.Buffer
	prompt := PassphrasePrompt(strings.NewReader("s3cret\n"), &screen)
	var handedOut [][]byte
	ask := func(file string) ([]byte, error) {
		pw, err := prompt(file)
		handedOut = append(handedOut, pw)
		return pw, err
	}
	for i, srv := range servers {
		h, err := Connect(context.Background(), Config{
			Name: "node" + string(rune('1'+i)), Address: "127.0.0.1", Port: srv.Port, User: "root",
			IdentityFile: locked.Path, KnownHosts: kh, SSHConfigFile: filepath.Join(dir, "none"),
			Passphrase: ask,
		})
		if err != nil {
			t.Fatalf("host %d of 3: %v", i+1, err)
		}
		h.Close()
	}
	if n := strings.Count(screen.String(), "Passphrase for "+locked.Path); n != 1 {
		t.Errorf("asked %d times on the terminal, want once:\n%s", n, screen.String())
	}
	if strings.Contains(screen.String(), "s3cret") {
		t.Errorf("the passphrase shows on the terminal: %q", screen.String())
	}
	if len(handedOut) != 3 {
		t.Fatalf("the prompt was called %d times, want once per host", len(handedOut))
	}
	for i, pw := range handedOut {
		if len(pw) != len("s3cret") || bytes.Count(pw, []byte{0}) != len(pw) {
			t.Errorf("passphrase handed to host %d is not cleared after use", i+1)
		}
	}
}

func TestPassphrasePromptWithoutTerminal(t *testing.T) {
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	var screen bytes.Buffer
	for _, in := range []io.Reader{devNull, nil} {
		prompt := PassphrasePrompt(in, &screen)
		_, err := prompt("/home/op/.ssh/id_ed25519")
		if err == nil || !strings.Contains(err.Error(), "ssh-agent") || !strings.Contains(err.Error(), "/home/op/.ssh/id_ed25519") {
			t.Errorf("without a terminal (%T): want an error naming the key and ssh-agent, got %v", in, err)
		}
	}
	if screen.Len() != 0 {
		t.Errorf("asked without a terminal: %q", screen.String())
	}

	prompt := PassphrasePrompt(strings.NewReader(""), &screen)
	if _, err := prompt("k"); err == nil {
		t.Error("empty input: want an error")
	}
	prompt = PassphrasePrompt(errReader{}, &screen)
	if _, err := prompt("k"); err == nil {
		t.Error("read error: want an error")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("broken") }
