package provision

import (
	"context"
	"errors"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/redisctl/redisctl/provision/internal/testkit"
	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote"
)

func TestResolvePassword(t *testing.T) {
	inv := testInventory(t)
	file := inv.Redis.PasswordFile

	if _, got, _, err := ResolvePassword(inv, false); err == nil || got != file || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("no file, create=false: file %q, err %v; want an error naming %s", got, err, file)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("create=false made %s", file)
	}

	pw, got, created, err := ResolvePassword(inv, true)
	if err != nil || !created || got != file {
		t.Fatalf("create=true: file %q created %v err %v", got, created, err)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9]{40}$`).MatchString(pw) {
		t.Errorf("generated password %q is not 40 letters and digits", pw)
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v, %v; want mode 0600", st, err)
	}
	if data, _ := os.ReadFile(file); string(data) != pw+"\n" {
		t.Errorf("password file holds %q, want the password and a newline", data)
	}

	for _, create := range []bool{true, false} {
		again, _, created, err := ResolvePassword(inv, create)
		if err != nil || created || again != pw {
			t.Errorf("second call (create=%v): same password %v, created %v, err %v", create, again == pw, created, err)
		}
	}

	other := testInventory(t)
	if err := os.WriteFile(other.Redis.PasswordFile, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := ResolvePassword(other, true); err == nil || !strings.Contains(err.Error(), "empty or malformed") {
		t.Errorf("empty password file: err %v", err)
	}
}

func TestResolvePasswordFromInventory(t *testing.T) {
	inv := testInventory(t)
	inv.Redis.Password = "given in the inventory, as is "
	pw, file, created, err := ResolvePassword(inv, true)
	if err != nil || pw != inv.Redis.Password || file != "" || created {
		t.Errorf("got %q %q %v %v; want the inventory's password, no file", pw, file, created, err)
	}
	if _, err := os.Stat(inv.Redis.PasswordFile); !os.IsNotExist(err) {
		t.Errorf("a password file was written although the inventory gives one")
	}
}

// The inventory accepts IPv6 addresses; every address built from one must
// be usable by Dial, and map back to its node.
func TestClusterAddrsIPv6(t *testing.T) {
	inv := testkit.InventoryHosts(t, `hosts:
  - {name: node1, address: 10.0.0.1, role: master}
  - {name: node2, address: 10.0.0.2, role: replica}
  - {name: node3, address: "fd00::13", role: replica}
`)
	c := &Cluster{Inv: inv, Layout: inv.Layout()}
	for i := range inv.Hosts {
		c.Nodes = append(c.Nodes, &Node{Spec: &inv.Hosts[i]})
	}
	for _, n := range c.Nodes {
		for addr, port := range map[string]int{c.DataAddr(n): inv.Redis.Port, c.SentinelAddr(n): inv.Sentinel.Port} {
			host, p, err := net.SplitHostPort(addr)
			if err != nil || host != n.Spec.Address || p != strconv.Itoa(port) {
				t.Errorf("%s: address %q splits into %q %q (%v)", n.Spec.Name, addr, host, p, err)
			}
		}
		if got := c.NodeByAddr(net.JoinHostPort(n.Spec.Address, "7000")); got != n {
			t.Errorf("NodeByAddr(%s) = %v, want %s", net.JoinHostPort(n.Spec.Address, "7000"), got, n.Spec.Name)
		}
	}
}

// A connector that fails as a whole (no hosts at all) is one error, said
// once, not once per host.
func TestConnectWholeFailureReportedOnce(t *testing.T) {
	_, err := Connect(context.Background(), testInventory(t), func(context.Context, *inventory.Inventory) ([]remote.Host, error) {
		return nil, errors.New("no ssh agent and no identity_file")
	}, nil)
	if err == nil || strings.Count(err.Error(), "no ssh agent") != 1 {
		t.Errorf("Connect: %v\nwant the connector's error once", err)
	}
}
