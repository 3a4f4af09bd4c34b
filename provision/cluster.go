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
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/redisctl/redisctl/provision/acl"
	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/redisx"
	"github.com/redisctl/redisctl/provision/remote"
	"github.com/redisctl/redisctl/provision/render"
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
	// Init and Pkg are the host's init system and package manager, chosen
	// once from the facts (Pkg is nil on a host without one; Init is nil
	// for an init system redisctl does not know, which check hosts refuses).
	Init InitSystem
	Pkg  PackageManager
}

// SetFacts records what was found on the host and chooses its init system
// and package manager.
func (n *Node) SetFacts(f *Facts, m *Manifest, l inventory.Layout) {
	n.Facts, n.Manifest = f, m
	n.Init, _ = initSystem(f, l)
	n.Pkg = packageManager(f)
}

func NodeName(n *Node) string { return n.Spec.Name }

// Cluster is a connected inventory.
type Cluster struct {
	Inv      *inventory.Inventory
	Layout   inventory.Layout
	Nodes    []*Node
	Password string
	// Creds are the users' passwords of an ACL cluster, nil without
	// users: redisctl then logs in to the data nodes as its admin user,
	// and still with Password to the sentinels.
	Creds  *render.Credentials
	Stored storedSecrets
	// LoginPW, when set, is the cluster password the running servers
	// still use while up rotates them to Password (see clusterpw.go).
	LoginPW string
	P       *Progress

	// clients holds one client per server for the run (see Data and
	// Sentinel); Close closes them.
	clientsMu sync.Mutex
	clients   map[clientKey]*redis.Client

	// extra are hosts opened that the inventory does not list (a host
	// being removed, see connectExtra); Close closes them too.
	extra []*Node

	// sentinelIDsRun are the sentinel ids decided for this run (see
	// sentinelIDs in configure.go).
	sentinelIDsOnce sync.Once
	sentinelIDsRun  *sentinelIDs

	// TLS is what a TLS cluster's run knows of its certificates (see
	// tls.go); nil without TLS.
	TLS *clusterTLS

	// What up's lock round trip read on each host (LockAndGatherFacts):
	// the facts script's output for GatherFacts, the host checks for
	// CheckHosts, and the files for configure.
	factsMu    sync.Mutex
	factsOut   map[*Node]string
	checked    map[*Node]*hostTuning
	prefetched map[*Node]*prefetch
}

// takeFactsOutput returns, once, the facts output read with n's lock.
func (c *Cluster) takeFactsOutput(n *Node) (string, bool) {
	c.factsMu.Lock()
	defer c.factsMu.Unlock()
	out, ok := c.factsOut[n]
	delete(c.factsOut, n)
	return out, ok
}

// clientKey names one server of a node: its data node or its sentinel.
type clientKey struct {
	node     *Node
	sentinel bool
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

// Close closes every client and connection.
func (c *Cluster) Close() {
	c.clientsMu.Lock()
	for k, cl := range c.clients {
		cl.Close()
		delete(c.clients, k)
	}
	c.clientsMu.Unlock()
	for _, n := range slices.Concat(c.Nodes, c.extra) {
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
	return EachHost(ctx, c.Nodes, NodeName, "gather facts", func(ctx context.Context, n *Node) error {
		var f *Facts
		if out, ok := c.takeFactsOutput(n); ok {
			f = parseFacts(out, portsOf(c.Inv))
		} else {
			var err error
			if f, err = GatherFacts(ctx, n.Host, c.Inv); err != nil {
				return err
			}
		}
		m, err := LoadManifest(ctx, readManifests{n.Host, c.Layout.StateDir, f.manifestData}, c.Layout, c.Inv.Name, f.Manifests)
		if err != nil {
			return err
		}
		n.SetFacts(f, m, c.Layout)
		return nil
	})
}

// readManifests answers ReadFile for the manifests the facts script has
// read already; every other read goes to the host.
type readManifests struct {
	remote.Host
	stateDir string
	data     map[string][]byte
}

func (h readManifests) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if data, ok := h.data[path.Base(p)]; ok && path.Dir(p) == h.stateDir {
		return append([]byte(nil), data...), nil
	}
	return h.Host.ReadFile(ctx, p)
}

// DataAddr is the address of a node's Redis as the cluster sees it.
func (c *Cluster) DataAddr(n *Node) string {
	return net.JoinHostPort(n.Spec.Address, strconv.Itoa(c.Inv.Redis.Port))
}

// SentinelAddr is the address of a node's sentinel.
func (c *Cluster) SentinelAddr(n *Node) string {
	return net.JoinHostPort(n.Spec.Address, strconv.Itoa(c.Inv.Sentinel.Port))
}

// Data returns the run's client for n's Redis, tunnelled through n's SSH
// connection. It is shared: callers do not close it (Close does).
func (c *Cluster) Data(n *Node) *redis.Client {
	return c.Client(n, false)
}

// Sentinel returns the run's client for n's sentinel, tunnelled through
// n's SSH connection; a plain client, for the pipelines and INFO that
// SentinelClient does not offer. It is shared: callers do not close it.
func (c *Cluster) Sentinel(n *Node) *redis.Client {
	return c.Client(n, true)
}

// SentinelClient returns a new SentinelClient for n's sentinel, for the
// SENTINEL calls go-redis types (FAILOVER, SET ...); the caller closes it.
func (c *Cluster) SentinelClient(n *Node) *redis.SentinelClient {
	sc := redisx.Sentinel(c.dialServer(n, true), c.SentinelAddr(n), c.clusterLogin())
	sc.AddHook(c.P.redisHook(n.Spec.Name + " sentinel"))
	return sc
}

// Client returns the cached client of one server, opening it on first use.
func (c *Cluster) Client(n *Node, sentinel bool) *redis.Client {
	c.clientsMu.Lock()
	defer c.clientsMu.Unlock()
	k := clientKey{n, sentinel}
	if cl := c.clients[k]; cl != nil {
		return cl
	}
	var cl *redis.Client
	if sentinel {
		cl = redisx.Raw(c.dialServer(n, true), c.SentinelAddr(n), c.clusterLogin())
		cl.AddHook(c.P.redisHook(n.Spec.Name + " sentinel"))
	} else {
		user, pw := c.dataLogin()
		cl = redisx.Data(c.dialServer(n, false), c.DataAddr(n), user, pw)
		cl.AddHook(c.P.redisHook(n.Spec.Name + " redis"))
	}
	if c.clients == nil {
		c.clients = map[clientKey]*redis.Client{}
	}
	c.clients[k] = cl
	return cl
}

// dataLogin is the user and password redisctl logs in to data nodes with:
// its admin user on an ACL cluster, else the default user with the cluster
// password.
func (c *Cluster) dataLogin() (user, password string) {
	if c.Creds != nil {
		return acl.Admin, c.AdminLogin()
	}
	return "", c.clusterLogin()
}

// forgetClient closes the cached client of one server whose process was
// stopped, started or killed: its pooled connections are dead, and the next
// call should dial afresh rather than fail on one of them.
func (c *Cluster) forgetClient(n *Node, sentinel bool) {
	c.clientsMu.Lock()
	defer c.clientsMu.Unlock()
	k := clientKey{n, sentinel}
	if cl := c.clients[k]; cl != nil {
		cl.Close()
		delete(c.clients, k)
	}
}

// PasswordFile is where a generated password is kept on the control machine:
// the inventory's password_file, else <user config dir>/redisctl/<name>.password.
// The file is keyed by the cluster name only, so adding or readdressing a
// host keeps the password. It is "" for a name that could leave that
// directory (ResolvePassword says why).
func PasswordFile(inv *inventory.Inventory) string {
	if inv.Redis.PasswordFile != "" {
		return inv.Redis.PasswordFile
	}
	if checkFileName(inv.Name) != nil {
		return ""
	}
	return filepath.Join(passwordDir(), inv.Name+".password")
}

// passwordDir is the directory of generated password files.
func passwordDir() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = "."
	}
	return filepath.Join(dir, "redisctl")
}

// checkFileName refuses a cluster name that would not stay one file name in
// its directory. The inventory validates names; this holds whatever the
// caller passes.
func checkFileName(name string) error {
	if name == "" || name == "." || strings.Contains(name, "..") || strings.ContainsAny(name, "/\\\x00") {
		return fmt.Errorf("cluster name %q cannot name a file: it is empty or holds a slash or \"..\"", name)
	}
	return nil
}

// legacyPasswordFile is where redisctl before 2026-12 kept a generated
// password: the name and a hash of the sorted host addresses, which changed
// whenever a host was added or readdressed.
func legacyPasswordFile(inv *inventory.Inventory) string {
	var addrs []string
	for _, h := range inv.Hosts {
		addrs = append(addrs, h.Address)
	}
	slices.Sort(addrs)
	sum := sha256.Sum256([]byte(strings.Join(addrs, ",")))
	return filepath.Join(passwordDir(), fmt.Sprintf("%s-%s.password", inv.Name, hex.EncodeToString(sum[:4])))
}

// legacyPasswordFiles lists every old-scheme file of the cluster:
// <name>-<8 hex digits>.password in the password directory.
func legacyPasswordFiles(inv *inventory.Inventory) ([]string, error) {
	entries, err := os.ReadDir(passwordDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look for stored passwords: %w", err)
	}
	var out []string
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), inv.Name+"-")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if h, ok := strings.CutSuffix(rest, ".password"); ok && len(h) == 8 && strings.Trim(h, "0123456789abcdef") == "" {
			out = append(out, filepath.Join(passwordDir(), e.Name()))
		}
	}
	return out, nil
}

// StoredPassword is the cluster password and where it comes from.
type StoredPassword struct {
	Password string
	File     string // "" when the inventory gives the password
	Created  bool   // generated and stored by this call
	// Note, when set, is to be said once: an old-scheme password file was
	// moved to File. It never holds the password.
	Note string
}

// ResolvePassword returns the inventory's password, or the stored generated
// one. When create is true and there is none, it generates a strong password
// and stores it (0600); created reports that, so the caller can say where,
// once. The password itself is never printed. LoadPassword does the same and
// also says when an old-scheme file was moved.
func ResolvePassword(inv *inventory.Inventory, create bool) (pw string, file string, created bool, err error) {
	sp, err := LoadPassword(inv, create)
	return sp.Password, sp.File, sp.Created, err
}

// LoadPassword is ResolvePassword with a note to print once. Without the
// inventory's password_file it looks, in order, for <name>.password, the
// old-scheme file for the current host addresses, and any one old-scheme
// file of the cluster (a host was added or readdressed since). An old file
// found is moved to <name>.password (mode 0600) when create is true; a
// read-only caller (create false) reads it where it is. Several old files
// and none for the current addresses is an error naming them: which one is
// the cluster's is for a person to decide.
func LoadPassword(inv *inventory.Inventory, create bool) (StoredPassword, error) {
	if inv.Redis.Password != "" {
		return StoredPassword{Password: inv.Redis.Password}, nil
	}
	if inv.Redis.PasswordFile == "" {
		if err := checkFileName(inv.Name); err != nil {
			return StoredPassword{}, err
		}
	}
	file := PasswordFile(inv)
	sp := StoredPassword{File: file}
	pw, err := readPasswordFile(file)
	if err == nil {
		sp.Password = pw
		return sp, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return sp, err
	}
	if inv.Redis.PasswordFile == "" {
		old, err := findLegacyPasswordFile(inv)
		if err != nil {
			return sp, err
		}
		if old != "" {
			return adoptLegacyPassword(sp, old, create)
		}
	}
	if !create {
		return sp, fmt.Errorf("no password: the inventory gives none and %s does not exist (run redisctl up first, or set redis.password)", file)
	}
	if sp.Password, err = GeneratePassword(40); err != nil {
		return sp, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return sp, err
	}
	if err := writeNewPasswordFile(file, sp.Password); err != nil {
		return sp, fmt.Errorf("store generated password: %w", err)
	}
	sp.Created = true
	return sp, nil
}

// findLegacyPasswordFile returns the old-scheme file to use, "" when there
// is none.
func findLegacyPasswordFile(inv *inventory.Inventory) (string, error) {
	exact := legacyPasswordFile(inv)
	if st, err := os.Stat(exact); err == nil && st.Mode().IsRegular() {
		return exact, nil
	}
	found, err := legacyPasswordFiles(inv)
	switch {
	case err != nil:
		return "", err
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return "", fmt.Errorf("no %s, and several password files of cluster %q from an older redisctl, none for the current host addresses: %s; "+
			"rename the one the running cluster uses to %s (or set redis.password_file to it)",
			PasswordFile(inv), inv.Name, strings.Join(found, ", "), PasswordFile(inv))
	}
	return "", nil
}

// adoptLegacyPassword reads an old-scheme file and, when create is true,
// moves it to sp.File with mode 0600.
func adoptLegacyPassword(sp StoredPassword, old string, create bool) (StoredPassword, error) {
	pw, err := readPasswordFile(old)
	if err != nil {
		return sp, err
	}
	if !create {
		sp.Password, sp.File = pw, old
		return sp, nil
	}
	if err := writeNewPasswordFile(sp.File, pw); errors.Is(err, fs.ErrExist) {
		// Another run moved it first; that file is the one to use.
		sp.Password, err = readPasswordFile(sp.File)
		return sp, err
	} else if err != nil {
		return sp, fmt.Errorf("move password file %s to %s: %w", old, sp.File, err)
	}
	sp.Password = pw
	sp.Note = fmt.Sprintf("moved the stored password from %s to %s (mode 0600): the file is now named by the cluster only", old, sp.File)
	if err := os.Remove(old); err != nil {
		sp.Note += fmt.Sprintf("; could not remove the old file: %v", err)
	}
	return sp, nil
}

// readPasswordFile reads one stored password.
func readPasswordFile(file string) (string, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err != nil {
		return "", fmt.Errorf("read password file: %w", err)
	}
	pw := strings.TrimRight(string(data), "\r\n")
	if pw == "" || strings.ContainsAny(pw, "\r\n\x00") {
		return "", fmt.Errorf("password file %s is empty or malformed", file)
	}
	return pw, nil
}

// writeNewPasswordFile creates file (mode 0600) holding pw; it fails with
// fs.ErrExist rather than replace a file.
func writeNewPasswordFile(file, pw string) error {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(pw + "\n"); err != nil {
		f.Close()
		os.Remove(file)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// GeneratePassword returns n random letters and digits: safe in any Redis
// config file and any Sentinel rewrite without quoting.
func GeneratePassword(n int) (string, error) {
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

// ForgetAllClients closes every cached client: the next calls log in again.
func (c *Cluster) ForgetAllClients() {
	for _, n := range c.Nodes {
		c.forgetClient(n, false)
		c.forgetClient(n, true)
	}
}

// clusterLogin is the password redisctl logs in to the sentinels (and the
// data nodes of a cluster without users) with.
func (c *Cluster) clusterLogin() string {
	if c.LoginPW != "" {
		return c.LoginPW
	}
	return c.Password
}

// DefaultUserOnData reports whether the data nodes' default user takes the
// cluster password.
func (c *Cluster) DefaultUserOnData() bool {
	return c.Creds == nil || c.Inv.Redis.DefaultUser
}
