package provision

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/redisx"
	"github.com/redisctl/redisctl/provision/remote"
)

// Connector opens one connection per inventory host, in inventory order.
type Connector func(ctx context.Context, inv *inventory.Inventory) ([]remote.Host, error)

// Node is one inventory host with its live connection and what was found
// there. Inventory types stay apart from live state.
type Node struct {
	Spec     *inventory.Host
	Host     remote.Host
	Facts    *Facts
	Manifest *Manifest
}

func nodeName(n *Node) string { return n.Spec.Name }

// Cluster is a connected inventory.
type Cluster struct {
	Inv      *inventory.Inventory
	Layout   inventory.Layout
	Nodes    []*Node
	Password string
	P        *Progress
}

// Connect opens every host in parallel. On failure every host's error is
// returned and the connections that did open are closed.
func Connect(ctx context.Context, inv *inventory.Inventory, connect Connector, p *Progress) (*Cluster, error) {
	c, errs := ConnectPartial(ctx, inv, connect, p)
	if len(errs) > 0 {
		c.Close()
		if e := errs[""]; e != nil {
			// The connector failed as a whole: one error, not one per host.
			return nil, e
		}
		var all []error
		for _, n := range c.Nodes {
			if e := errs[n.Spec.Name]; e != nil {
				all = append(all, e)
			}
		}
		return nil, errors.Join(all...)
	}
	return c, nil
}

// ConnectPartial opens every host in parallel and keeps the ones that
// opened; the others have a nil Host and their error in the map, by name.
func ConnectPartial(ctx context.Context, inv *inventory.Inventory, connect Connector, p *Progress) (*Cluster, map[string]error) {
	c := &Cluster{Inv: inv, Layout: inv.Layout(), P: p}
	errs := map[string]error{}
	hosts, err := connect(ctx, inv)
	if len(hosts) != len(inv.Hosts) {
		for _, h := range hosts {
			if h != nil {
				h.Close()
			}
		}
		if err == nil {
			err = fmt.Errorf("connector returned %d hosts for %d in the inventory", len(hosts), len(inv.Hosts))
		}
		errs[""] = err
		hosts = make([]remote.Host, len(inv.Hosts))
	}
	var joined interface{ Unwrap() []error }
	var list []error
	if errors.As(err, &joined) {
		list = joined.Unwrap()
	} else if err != nil {
		list = []error{err}
	}
	for i := range inv.Hosts {
		n := &Node{Spec: &inv.Hosts[i]}
		if hosts[i] != nil {
			n.Host = p.Logged(hosts[i])
		} else {
			errs[n.Spec.Name] = hostErr(list, n.Spec.Name)
		}
		c.Nodes = append(c.Nodes, n)
	}
	return c, errs
}

// hostErr picks the error of one host out of a connector's joined errors.
func hostErr(list []error, name string) error {
	for _, e := range list {
		var he *HostError
		if errors.As(e, &he) && he.Host == name {
			return e
		}
	}
	if len(list) > 0 {
		return list[0]
	}
	return fmt.Errorf("%s: not connected", name)
}

// SetPassword sets the cluster password for clients and rendering: a
// generated one is not in the inventory as written, so it is filled in here
// and every file and client uses the same.
func (c *Cluster) SetPassword(pw string) {
	c.Password = pw
	c.Inv.Redis.Password = pw
}

// Close closes every connection.
func (c *Cluster) Close() {
	for _, n := range c.Nodes {
		if n.Host != nil {
			n.Host.Close()
		}
	}
}

// Node returns the node with the given inventory name, or nil.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.Spec.Name == name {
			return n
		}
	}
	return nil
}

// NodeByAddr returns the node whose data-node address is addr ("ip:port" or
// "ip"), or nil.
func (c *Cluster) NodeByAddr(addr string) *Node {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	for _, n := range c.Nodes {
		if n.Spec.Address == host {
			return n
		}
	}
	return nil
}

// Sentinels returns the nodes that run a sentinel.
func (c *Cluster) Sentinels() []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if n.Spec.Sentinel {
			out = append(out, n)
		}
	}
	return out
}

// GatherFacts reads facts and manifests on every host at once.
func (c *Cluster) GatherFacts(ctx context.Context) error {
	return eachHost(ctx, c.Nodes, nodeName, "gather facts", func(ctx context.Context, n *Node) error {
		f, err := GatherFacts(ctx, n.Host, c.Inv)
		if err != nil {
			return err
		}
		m, err := LoadManifest(ctx, n.Host, c.Layout.StateDir)
		if err != nil {
			return err
		}
		n.Facts, n.Manifest = f, m
		return nil
	})
}

// DataAddr is the address of a node's Redis as the cluster sees it.
func (c *Cluster) DataAddr(n *Node) string {
	return net.JoinHostPort(n.Spec.Address, strconv.Itoa(c.Inv.Redis.Port))
}

// SentinelAddr is the address of a node's sentinel.
func (c *Cluster) SentinelAddr(n *Node) string {
	return net.JoinHostPort(n.Spec.Address, strconv.Itoa(c.Inv.Sentinel.Port))
}

// Data returns a client for n's Redis, tunnelled through n's SSH connection.
func (c *Cluster) Data(n *Node) *redis.Client {
	return redisx.Data(n.Host, c.DataAddr(n), c.Password)
}

// Sentinel returns a client for n's sentinel, tunnelled through n's SSH
// connection. Use Do for commands SentinelClient does not wrap.
func (c *Cluster) Sentinel(n *Node) *redis.Client {
	return redisx.Raw(n.Host.Dial, c.SentinelAddr(n), c.Password)
}

// PasswordFile is where a generated password is kept on the control machine:
// the inventory's password_file, else one file per cluster (its name and
// host addresses) under the user's config directory.
func PasswordFile(inv *inventory.Inventory) string {
	if inv.Redis.PasswordFile != "" {
		return inv.Redis.PasswordFile
	}
	var addrs []string
	for _, h := range inv.Hosts {
		addrs = append(addrs, h.Address)
	}
	slices.Sort(addrs)
	sum := sha256.Sum256([]byte(strings.Join(addrs, ",")))
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = "."
	}
	return filepath.Join(dir, "redisctl", fmt.Sprintf("%s-%s.password", inv.Name, hex.EncodeToString(sum[:4])))
}

// ResolvePassword returns the inventory's password, or the stored generated
// one. When create is true and there is none, it generates a strong password
// and stores it (0600); created reports that, so the caller can say where,
// once. The password itself is never printed.
func ResolvePassword(inv *inventory.Inventory, create bool) (pw string, file string, created bool, err error) {
	if inv.Redis.Password != "" {
		return inv.Redis.Password, "", false, nil
	}
	file = PasswordFile(inv)
	data, err := os.ReadFile(file)
	if err == nil {
		pw = strings.TrimRight(string(data), "\r\n")
		if pw == "" || strings.ContainsAny(pw, "\r\n\x00") {
			return "", file, false, fmt.Errorf("password file %s is empty or malformed", file)
		}
		return pw, file, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", file, false, fmt.Errorf("read password file: %w", err)
	}
	if !create {
		return "", file, false, fmt.Errorf("no password: the inventory gives none and %s does not exist (run redisctl up first, or set redis.password)", file)
	}
	pw, err = generatePassword(40)
	if err != nil {
		return "", file, false, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", file, false, err
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", file, false, fmt.Errorf("store generated password: %w", err)
	}
	if _, err := f.WriteString(pw + "\n"); err != nil {
		f.Close()
		return "", file, false, err
	}
	return pw, file, true, f.Close()
}

// generatePassword returns n random letters and digits: safe in any Redis
// config file and any Sentinel rewrite without quoting.
func generatePassword(n int) (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		b[i] = alphabet[k.Int64()]
	}
	return string(b), nil
}
