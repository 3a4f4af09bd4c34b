package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads and validates the inventory in file, reading ${VAR} references
// from the process environment. On any problem it returns a
// *ValidationError listing all of them; warnings are returned either way.
func Load(file string) (*Inventory, []Warning, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("read inventory: %w", err)
	}
	return Parse(file, data, os.LookupEnv)
}

// Parse validates an inventory held in data. file names it in messages, and
// relative paths in it are relative to file's directory. env looks up ${VAR}
// references and HOME (for "~"); nil means the process environment.
func Parse(file string, data []byte, env func(string) (string, bool)) (*Inventory, []Warning, error) {
	if env == nil {
		env = os.LookupEnv
	}
	d := &decoder{
		file: file,
		dir:  filepath.Dir(file),
		env:  env,
		seen: map[fieldPath]position{},
	}
	inv := d.document(data)
	if inv != nil {
		d.check(inv)
	}
	return d.result(inv)
}

// decoder walks the YAML tree of one inventory, filling an Inventory and
// collecting every problem instead of stopping at the first.
type decoder struct {
	file string
	dir  string // base of relative paths
	env  func(string) (string, bool)

	// seen records where each field was written, for checks that involve
	// several fields and for fields that are missing (see locate).
	seen     map[fieldPath]position
	problems []Problem
	warnings []Warning
}

// problem records a problem at a position.
func (d *decoder) problem(at position, f fieldPath, format string, args ...any) {
	d.problems = append(d.problems, Problem{
		File: d.file, Line: at.line, Col: at.col, Field: string(f),
		Msg: fmt.Sprintf(format, args...),
	})
}

// errorf records a problem with the value node n.
func (d *decoder) errorf(n *yaml.Node, f fieldPath, format string, args ...any) {
	d.problem(posOf(n), f, format, args...)
}

// warnf records a warning at a position.
func (d *decoder) warnf(at position, f fieldPath, format string, args ...any) {
	d.warnings = append(d.warnings, Warning{
		File: d.file, Line: at.line, Col: at.col, Field: string(f),
		Msg: fmt.Sprintf(format, args...),
	})
}

// locate returns where f was written or, when it was not, where its closest
// written ancestor was: a missing redis.version is reported at "redis:".
func (d *decoder) locate(f fieldPath) position {
	for {
		if at, ok := d.seen[f]; ok || f == "" {
			return at
		}
		f = f.parent()
	}
}

// reported reports whether a problem with f was found already, so that a
// wrong value left at its default does not cause more messages.
func (d *decoder) reported(f fieldPath) bool {
	for _, p := range d.problems {
		if p.Field == string(f) {
			return true
		}
	}
	return false
}

// written reports whether the inventory sets f (rather than a default).
func (d *decoder) written(f fieldPath) bool {
	_, ok := d.seen[f]
	return ok
}

func (d *decoder) result(inv *Inventory) (*Inventory, []Warning, error) {
	slices.SortStableFunc(d.problems, byPosition)
	slices.SortStableFunc(d.warnings, func(a, b Warning) int { return byPosition(Problem(a), Problem(b)) })
	if len(d.problems) > 0 {
		return nil, d.warnings, &ValidationError{Problems: d.problems}
	}
	return inv, d.warnings, nil
}

// yamlLine matches yaml.v3's syntax errors: "yaml: line 3: could not find ...".
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses data as one YAML document and decodes it; nil when the
// file is empty or not YAML.
func (d *decoder) document(data []byte) *Inventory {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) || (err == nil && (len(doc.Content) == 0 || absent(doc.Content[0]))) {
		d.problem(position{1, 1}, "", "the file is empty (want an inventory; see inventory.example.yaml)")
		return nil
	}
	if err != nil {
		d.syntaxError(err)
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		d.errorf(&extra, "", "a second YAML document (want one inventory per file; remove the ---)")
	case !errors.Is(err, io.EOF):
		d.syntaxError(err)
	}
	inv := &Inventory{File: d.file}
	d.inventory(doc.Content[0], inv)
	return inv
}

func (d *decoder) syntaxError(err error) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1]) // digits, by the pattern
		d.problem(position{line, 0}, "", "YAML syntax: %s", m[2])
		return
	}
	d.problem(position{}, "", "YAML syntax: %s", strings.TrimPrefix(msg, "yaml: "))
}

// The keys each mapping of the inventory may hold.
var (
	topKeys   = keySet{names: []string{"name", "redis", "sentinel", "ssh", "tls", "hosts"}}
	redisKeys = keySet{
		names: []string{"engine", "version", "source", "sha256", "port", "password", "password_file", "config", "users", "default_user"},
		hints: map[string]string{"requirepass": `did you mean "password"?`},
	}
	userKeys     = keySet{names: []string{"name", "password", "rules"}}
	sentinelKeys = keySet{names: []string{"port", "quorum", "down_after_ms", "parallel_syncs", "failover_timeout_ms"}}
	sshKeys      = keySet{names: []string{"user", "port", "identity_file", "known_hosts", "jump"}}
	hostKeys     = keySet{names: []string{"name", "address", "role", "sentinel", "ssh"}}
	hostSSHKeys  = keySet{names: []string{"user", "port", "identity_file"}, hints: map[string]string{
		"known_hosts": "a host can only override user, port and identity_file; set known_hosts under the top-level ssh",
		"jump":        "a host can only override user, port and identity_file; set jump under the top-level ssh",
	}}
)

// inventory decodes the top-level mapping into inv, starting from defaults.
func (d *decoder) inventory(root *yaml.Node, inv *Inventory) {
	inv.Name = DefaultName
	inv.Redis.Port = DefaultRedisPort
	inv.Sentinel = Sentinel{
		Port:              DefaultSentinelPort,
		Quorum:            DefaultQuorum,
		DownAfterMS:       DefaultDownAfterMS,
		ParallelSyncs:     DefaultParallelSyncs,
		FailoverTimeoutMS: DefaultFailoverTimeoutMS,
	}
	d.seen[""] = posOf(root)
	m := d.mapping(root, "", topKeys, "a mapping with name, redis, sentinel, ssh, tls and hosts")
	if m == nil {
		return
	}
	if name, ok := d.str(m["name"], "name"); ok && d.checkName(m["name"], "name", name, "name") {
		inv.Name = name
	}
	d.redis(m["redis"], "redis", &inv.Redis)
	d.sentinel(m["sentinel"], "sentinel", &inv.Sentinel)
	d.ssh(m["ssh"], "ssh", &inv.SSH)
	d.tls(m["tls"], "tls", &inv.TLS)
	d.hosts(m["hosts"], "hosts", inv)
}

func (d *decoder) redis(n *yaml.Node, f fieldPath, r *Redis) {
	if absent(n) {
		d.problem(d.locate(f), f, "missing (want at least version and source)")
		return
	}
	m := d.mapping(n, f, redisKeys, "a mapping with engine, version, source, sha256, port, password, password_file, config, users and default_user")
	if m == nil {
		return
	}
	d.engine(m["engine"], f.key("engine"), r)
	d.version(m["version"], f.key("version"), r)
	d.source(m["source"], m["sha256"], f, r)
	d.port(m["port"], f.key("port"), &r.Port)
	r.Password, r.PasswordSource = d.password(m["password"], f.key("password"), "REDIS_PASSWORD", "redis.conf cannot hold control characters")
	if p, ok := d.localPath(m["password_file"], f.key("password_file")); ok {
		r.PasswordFile = p
	}
	r.Config = d.config(m["config"], f.key("config"))
	r.Users, r.UsersSet = d.users(m["users"], f.key("users"))
	if b, ok := d.boolean(m["default_user"], f.key("default_user")); ok {
		r.DefaultUser, r.DefaultUserSet = b, true
	}
}

func (d *decoder) sentinel(n *yaml.Node, f fieldPath, s *Sentinel) {
	m := d.mapping(n, f, sentinelKeys, "a mapping with port, quorum, down_after_ms, parallel_syncs and failover_timeout_ms")
	d.port(m["port"], f.key("port"), &s.Port)
	d.atLeastOne(m["quorum"], f.key("quorum"), "sentinels", &s.Quorum)
	d.atLeastOne(m["down_after_ms"], f.key("down_after_ms"), "milliseconds", &s.DownAfterMS)
	d.atLeastOne(m["parallel_syncs"], f.key("parallel_syncs"), "replicas", &s.ParallelSyncs)
	d.atLeastOne(m["failover_timeout_ms"], f.key("failover_timeout_ms"), "milliseconds", &s.FailoverTimeoutMS)
}

func (d *decoder) ssh(n *yaml.Node, f fieldPath, s *SSH) {
	if home, ok := d.env("HOME"); ok && home != "" {
		s.KnownHosts = filepath.Join(home, ".ssh", "known_hosts")
	}
	m := d.mapping(n, f, sshKeys, "a mapping with user, port, identity_file, known_hosts and jump")
	d.sshCommon(m, f, s)
	if p, ok := d.localPath(m["known_hosts"], f.key("known_hosts")); ok {
		s.KnownHosts, s.KnownHostsSet = p, true
	}
	if jump, ok := d.str(m["jump"], f.key("jump")); ok && d.checkJump(m["jump"], f.key("jump"), jump) {
		s.Jump = jump
	}
}

// sshCommon decodes the SSH keys a host may override.
func (d *decoder) sshCommon(m map[string]*yaml.Node, f fieldPath, s *SSH) {
	if user, ok := d.str(m["user"], f.key("user")); ok && d.checkUser(m["user"], f.key("user"), user) {
		s.User = user
	}
	d.port(m["port"], f.key("port"), &s.Port)
	if p, ok := d.localPath(m["identity_file"], f.key("identity_file")); ok {
		s.IdentityFile = p
	}
}

func (d *decoder) hosts(n *yaml.Node, f fieldPath, inv *Inventory) {
	if absent(n) {
		d.problem(d.locate(f), f, "missing (want a list of hosts: one master and at least one replica)")
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, f, "want a list of hosts, not %s", describe(n))
		return
	}
	if len(n.Content) == 0 {
		d.errorf(n, f, "no hosts (want one master and at least one replica)")
		return
	}
	for i, item := range n.Content {
		item = deref(item)
		hf := f.index(i)
		d.seen[hf] = posOf(item)
		inv.Hosts = append(inv.Hosts, d.host(item, hf, inv.SSH))
	}
}

// host decodes one host entry. Its SSH settings start from global and take
// the host's own overrides.
func (d *decoder) host(n *yaml.Node, f fieldPath, global SSH) Host {
	h := Host{Sentinel: true, SSH: global, Line: n.Line}
	if absent(n) {
		d.errorf(n, f, "empty host entry (want name, address and role)")
		return h
	}
	m := d.mapping(n, f, hostKeys, "a mapping with name, address, role, sentinel and ssh")
	if m == nil {
		return h
	}
	h.Name = d.hostName(m["name"], f.key("name"))
	h.Address = d.address(m["address"], f.key("address"))
	h.Role = d.role(m["role"], f.key("role"))
	if b, ok := d.boolean(m["sentinel"], f.key("sentinel")); ok {
		h.Sentinel = b
	}
	sf := f.key("ssh")
	d.sshCommon(d.mapping(m["ssh"], sf, hostSSHKeys, "a mapping with user, port and identity_file"), sf, &h.SSH)
	return h
}
