package sshhost_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/redisctl/redisctl/provision"
	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote/sshhost"
	"github.com/redisctl/redisctl/provision/remote/sshhost/sshtest"
)

// TestConnectorReadsSystemKnownHosts goes from the inventory to connected
// hosts: with no known_hosts in the inventory, keys found only in the
// system-wide file (here GlobalKnownHostsFile in ~/.ssh/config, as OpenSSH
// reads it) are known; naming a file in the inventory reads that file only.
func TestConnectorReadsSystemKnownHosts(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("SSH_AUTH_SOCK", "")
	dotSSH := filepath.Join(home, ".ssh")
	if err := os.MkdirAll(dotSSH, 0o700); err != nil {
		t.Fatal(err)
	}
	key := sshtest.WriteKey(t, dotSSH, "id_ed25519", "")
	system := filepath.Join(t.TempDir(), "ssh_known_hosts")
	var config, known strings.Builder
	fmt.Fprintf(&config, "GlobalKnownHostsFile %s\nForwardAgent yes\n", system)
	for _, name := range []string{"node1", "node2", "node3"} {
		srv := sshtest.New(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{key.Signer.PublicKey()}})
		fmt.Fprintf(&config, "Host %s\n  HostName 127.0.0.1\n  Port %d\n  User root\n", name, srv.Port)
		fmt.Fprintln(&known, srv.KnownHostsLine(srv.HostKeys[0].PublicKey()))
	}
	writeFile(t, filepath.Join(dotSSH, "config"), config.String())
	writeFile(t, system, known.String())

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "redis-7.0.15.tar.gz"), "not really")
	yaml := `redis: {version: "7.0.15", source: redis-7.0.15.tar.gz}
hosts:
  - {name: node1, address: node1, role: master}
  - {name: node2, address: node2, role: replica}
  - {name: node3, address: node3, role: replica}
`
	load := func(extra string) *inventory.Inventory {
		t.Helper()
		inv, _, err := inventory.Parse(filepath.Join(dir, "inventory.yaml"), []byte(yaml+extra), nil)
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}

	var notes bytes.Buffer
	connect := provision.SSHConnector(provision.SSHOptions{ConnectTimeout: 5 * time.Second, Notes: &notes})
	hosts, err := connect(context.Background(), load(""))
	if err != nil {
		t.Fatalf("keys in the system-wide file only: %v", err)
	}
	for _, h := range hosts {
		h.(*sshhost.Host).Close()
	}
	if _, err := os.Stat(filepath.Join(dotSSH, "known_hosts")); err == nil {
		t.Error("~/.ssh/known_hosts written without --accept-new-host-keys")
	}
	if got := notes.String(); strings.Count(got, "note: ") != 1 || !strings.Contains(got, "ignoring ForwardAgent") {
		t.Errorf("notes %q: want the ignored option once for three hosts", got)
	}

	named := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, named, "")
	_, err = connect(context.Background(), load("ssh: {known_hosts: "+named+"}\n"))
	var u *sshhost.UnknownHostError
	if !errors.As(err, &u) || u.KnownHostsFile != named || u.AlsoRead != "" {
		t.Errorf("known_hosts named in the inventory: want only it read, got %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
