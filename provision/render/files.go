package render

import (
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/redisctl/redisctl/provision/acl"
	"github.com/redisctl/redisctl/provision/inventory"
)

// Init systems HostFiles renders for.
const (
	InitSysV    = "sysv"
	InitSystemd = "systemd"
)

// RedisUser owns the servers' processes, config files and data.
const RedisUser = "redis"

// File is one file redisctl writes to a host.
type File struct {
	Path  string
	Mode  fs.FileMode
	Owner string // "redis:redis", or "" for root
	Data  []byte
	// Secret is true when Data holds the password: never print or log it.
	Secret bool
}

// Settings redisctl always writes, from the seed procedure.
const (
	replPingReplicaPeriod = 10
	replTimeout           = 60
	noFile                = 10032 // maxclients 10000 + 32
	redisStartWait        = 10
	redisStopWait         = 60 // Redis may be saving its dataset
	sentinelStartWait     = 10
	sentinelStopWait      = 10
)

// masterName is what Sentinel accepts in a master name.
var masterName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// NewRedisConf builds the redis.conf of host h. Replicas follow masterAddr,
// the address of the live master (it may no longer be the inventory's
// master after a failover); the host whose address is masterAddr gets no
// replicaof line.
func NewRedisConf(inv *inventory.Inventory, h *inventory.Host, masterAddr, initSystem string) (RedisConf, error) {
	return NewRedisConfWith(inv, h, masterAddr, initSystem, HostOptions{})
}

// NewRedisConfWith is NewRedisConf for a host redisctl knows more of (see
// HostOptions); an ACL cluster needs o.Credentials.
func NewRedisConfWith(inv *inventory.Inventory, h *inventory.Host, masterAddr, initSystem string, o HostOptions) (RedisConf, error) {
	if err := check(inv, h, masterAddr, initSystem); err != nil {
		return RedisConf{}, err
	}
	if err := checkCredentials(inv, h, o.Credentials); err != nil {
		return RedisConf{}, err
	}
	l := inv.Layout()
	c := RedisConf{
		Path:                  l.RedisConf,
		Port:                  inv.Redis.Port,
		Bind:                  bindAddrs(h.Address),
		PidFile:               l.RedisPid,
		LogFile:               l.RedisLog,
		Dir:                   l.DataDir,
		Password:              inv.Redis.Password,
		ReplPingReplicaPeriod: replPingReplicaPeriod,
		ReplTimeout:           replTimeout,
	}
	if inv.Redis.ACL() {
		c.Password = ""
		c.ACLFile, c.MasterUser, c.MasterAuth = ACLFile(inv), acl.Replication, o.Credentials.Replication
	}
	setDaemon(initSystem, &c.Daemonize, &c.Supervised)
	if !inventory.SameAddress(h.Address, masterAddr) {
		c.ReplicaOf = &Addr{Host: masterAddr, Port: inv.Redis.Port}
	}
	for _, d := range inv.Redis.Config {
		// The loader's own rules: what loads renders, and nothing else.
		args, err := inventory.DirectiveArgs(d.Name, d.Value)
		if err != nil {
			if d.Line > 0 {
				return RedisConf{}, fmt.Errorf("%s:%d: redis.config.%s: %w", inv.File, d.Line, d.Name, err)
			}
			return RedisConf{}, fmt.Errorf("%s: redis.config.%s: %w", inv.File, d.Name, err)
		}
		c.Extra = append(c.Extra, Directive{Name: d.Name, Args: args})
	}
	c.DisklessSyncMaxReplicas = disklessSyncMaxReplicas(inv, inv.Redis.Version)
	c.TLS = tlsFor(inv, o.RedisTLS)
	if c.TLS != nil && inv.TLS.Plaintext {
		// Also while a server still runs TLS on its way back to plaintext.
		c.TLS.PlaintextPort = inv.TLS.PlaintextPort
	}
	return c, nil
}

// disklessSyncMaxReplicas is the repl-diskless-sync-max-replicas redisctl
// writes: every host but the master is a replica, so a master that sees
// that many waiting need not wait repl-diskless-sync-delay for more. It is
// 0 (no line) for a server before Redis 7.0 (version), which does not
// know the directive, and when redis.config sets the directive itself:
// that line wins, alone. Valkey's versions start at 7.2 and know it too.
func disklessSyncMaxReplicas(inv *inventory.Inventory, version string) int {
	for _, d := range inv.Redis.Config {
		if d.Name == "repl-diskless-sync-max-replicas" {
			return 0
		}
	}
	if !versionAtLeast(version, 7, 0) {
		return 0
	}
	return len(inv.Hosts) - 1
}

// versionAtLeast reports whether version ("7.0.15", "7.2-rc1", "8.0.2")
// is major.minor or later; a version it cannot read is not.
func versionAtLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	maj, err := strconv.Atoi(parts[0])
	if err != nil {
		return false
	}
	// The minor may carry a suffix: "2-rc1".
	digits := strings.IndexFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
	if digits < 0 {
		digits = len(parts[1])
	}
	mnr, err := strconv.Atoi(parts[1][:digits])
	if err != nil {
		return false
	}
	return maj > major || maj == major && mnr >= minor
}

// NewSentinelConf builds the sentinel.conf of host h, monitoring the master
// at masterAddr.
func NewSentinelConf(inv *inventory.Inventory, h *inventory.Host, masterAddr, initSystem string) (SentinelConf, error) {
	return NewSentinelConfWith(inv, h, masterAddr, initSystem, HostOptions{})
}

// NewSentinelConfWith is NewSentinelConf with HostOptions; an ACL cluster
// needs o.Credentials.
func NewSentinelConfWith(inv *inventory.Inventory, h *inventory.Host, masterAddr, initSystem string, o HostOptions) (SentinelConf, error) {
	if err := check(inv, h, masterAddr, initSystem); err != nil {
		return SentinelConf{}, err
	}
	if err := checkCredentials(inv, h, o.Credentials); err != nil {
		return SentinelConf{}, err
	}
	l := inv.Layout()
	c := SentinelConf{
		Path:              l.SentinelConf,
		Port:              inv.Sentinel.Port,
		Bind:              bindAddrs(h.Address),
		PidFile:           l.SentinelPid,
		LogFile:           l.SentinelLog,
		Dir:               l.SentinelDir,
		Password:          inv.Redis.Password,
		AuthPass:          inv.Redis.Password,
		MasterName:        inv.Name,
		Master:            Addr{Host: masterAddr, Port: inv.Redis.Port},
		Quorum:            inv.Sentinel.Quorum,
		ResolveHostnames:  !isIP(masterAddr),
		DownAfterMS:       inv.Sentinel.DownAfterMS,
		ParallelSyncs:     inv.Sentinel.ParallelSyncs,
		FailoverTimeoutMS: inv.Sentinel.FailoverTimeoutMS,
	}
	if inv.Redis.ACL() {
		c.AuthUser, c.AuthPass = acl.Sentinel, o.Credentials.Sentinel
	}
	c.TLS = tlsFor(inv, o.SentinelTLS)
	setDaemon(initSystem, &c.Daemonize, &c.Supervised)
	return c, nil
}

// checkCredentials refuses to render an ACL cluster's files without the
// passwords of its users, or with one a config file cannot hold.
func checkCredentials(inv *inventory.Inventory, h *inventory.Host, cr *Credentials) error {
	if !inv.Redis.ACL() {
		return nil
	}
	if cr == nil || cr.Replication == "" || cr.Sentinel == "" {
		return fmt.Errorf("%s: no passwords for the replication and sentinel users", h.Name)
	}
	for _, p := range []struct{ who, pw string }{{acl.Replication, cr.Replication}, {acl.Sentinel, cr.Sentinel}} {
		if !SentinelRewriteSafe(p.pw) {
			return fmt.Errorf("%s: the password of user %s holds a blank, a quote or a control character, "+
				"which Redis and Sentinel write back unquoted when they rewrite their config", h.Name, p.who)
		}
	}
	return nil
}

// NewServices returns the Redis service of the inventory and its Sentinel
// service (used only on hosts that run a sentinel).
func NewServices(inv *inventory.Inventory) (redis, sentinel Service) {
	l := inv.Layout()
	server := path.Join(l.BinDir, "redis-server")
	redis = Service{
		Kind:        KindRedis,
		Name:        l.RedisService,
		Description: "Redis data node on port " + strconv.Itoa(inv.Redis.Port),
		Command:     []string{server, l.RedisConf},
		PidFile:     l.RedisPid,
		LogFile:     l.RedisLog,
		User:        RedisUser,
		WritePaths:  []string{l.ConfDir, l.DataDir, l.RedisLog},
		NoFile:      noFile,
		StartWait:   redisStartWait,
		StopWait:    redisStopWait,
	}
	sentinel = Service{
		Kind:        KindSentinel,
		Name:        l.SentinelService,
		Description: "Redis Sentinel on port " + strconv.Itoa(inv.Sentinel.Port),
		// redis-server --sentinel rather than redis-sentinel: one binary
		// less to install, and the same process name in ps.
		Command:    []string{server, l.SentinelConf, "--sentinel"},
		PidFile:    l.SentinelPid,
		LogFile:    l.SentinelLog,
		User:       RedisUser,
		WritePaths: []string{l.ConfDir, l.SentinelDir, l.SentinelLog},
		NoFile:     noFile,
		StartWait:  sentinelStartWait,
		StopWait:   sentinelStopWait,
	}
	return redis, sentinel
}

// HostOptions are what HostFilesWith knows of a host beyond the inventory.
type HostOptions struct {
	// RedisVersion is the version of the redis-server that reads the
	// host's redis.conf and takes its changes live, when it is not the
	// inventory's: a server still running an older build during an
	// upgrade. "" means the inventory's version.
	RedisVersion string
	// Credentials are the users' passwords of an ACL cluster; nil for a
	// cluster without users.
	Credentials *Credentials
	// TLS are the host's TLS files on a TLS cluster; nil writes none.
	TLS *TLSFiles
	// RedisTLS and SentinelTLS say whether the data node's and the
	// sentinel's configs have TLS: as the inventory says, or, for a server
	// up has yet to switch between plaintext and TLS, as it runs now.
	RedisTLS, SentinelTLS TLSMode
}

// HostFiles returns every file redisctl writes to host h: its redis.conf,
// its sentinel.conf when h runs a sentinel, and the init scripts (initSystem
// "sysv") or systemd units ("systemd") that run them. masterAddr is the
// address of the live master, which replicas follow and sentinels monitor.
//
// Config files are 0640 redis:redis, because Redis and Sentinel rewrite
// them, and Secret; scripts are 0755 and units 0644, owned by root.
func HostFiles(inv *inventory.Inventory, h *inventory.Host, masterAddr, initSystem string) ([]File, error) {
	return HostFilesWith(inv, h, masterAddr, initSystem, HostOptions{})
}

// HostFilesWith is HostFiles for a host redisctl knows more of (see
// HostOptions).
func HostFilesWith(inv *inventory.Inventory, h *inventory.Host, masterAddr, initSystem string, o HostOptions) ([]File, error) {
	const owner = RedisUser + ":" + RedisUser
	var files []File
	add := func(p string, mode fs.FileMode, owner string, secret bool, data []byte, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %s: %w", h.Name, p, err)
		}
		files = append(files, File{Path: p, Mode: mode, Owner: owner, Data: data, Secret: secret})
		return nil
	}
	rc, err := NewRedisConfWith(inv, h, masterAddr, initSystem, o)
	if err != nil {
		return nil, err
	}
	if o.RedisVersion != "" {
		rc.DisklessSyncMaxReplicas = disklessSyncMaxReplicas(inv, o.RedisVersion)
	}
	data, err := RenderRedisConf(rc)
	if err := add(rc.Path, 0o640, owner, true, data, err); err != nil {
		return nil, err
	}
	if inv.Redis.ACL() {
		users, err := ACLUsers(inv, o.Credentials)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
		data, err := acl.Render(users)
		if err := add(ACLFile(inv), 0o640, owner, true, data, err); err != nil {
			return nil, err
		}
	}
	if h.Sentinel {
		sc, err := NewSentinelConfWith(inv, h, masterAddr, initSystem, o)
		if err != nil {
			return nil, err
		}
		data, err := RenderSentinelConf(sc)
		if err := add(sc.Path, 0o640, owner, true, data, err); err != nil {
			return nil, err
		}
	}
	files = append(files, tlsFiles(inv, o.TLS)...)
	l := inv.Layout()
	redis, sentinel := NewServices(inv)
	type svc struct {
		s          Service
		script     string
		unit       string
		onThisHost bool
	}
	for _, v := range []svc{
		{redis, l.RedisInitScript, l.RedisUnit, true},
		{sentinel, l.SentinelInitScript, l.SentinelUnit, h.Sentinel},
	} {
		if !v.onThisHost {
			continue
		}
		var err error
		if initSystem == InitSysV {
			data, rerr := RenderInitScript(v.s)
			err = add(v.script, 0o755, "", false, data, rerr)
		} else {
			data, rerr := RenderUnit(v.s)
			err = add(v.unit, 0o644, "", false, data, rerr)
		}
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

// check refuses what would render a broken or unsafe file. The inventory
// loader validates the same things with line numbers; this is the last line
// of defence, and its messages never include the password.
func check(inv *inventory.Inventory, h *inventory.Host, masterAddr, initSystem string) error {
	switch {
	case inv == nil || h == nil:
		return fmt.Errorf("render: no inventory or host")
	case initSystem != InitSysV && initSystem != InitSystemd:
		return fmt.Errorf("%s: unknown init system %q (want %q or %q)", h.Name, initSystem, InitSysV, InitSystemd)
	case masterAddr == "":
		return fmt.Errorf("%s: no master address", h.Name)
	case inv.Redis.Password == "":
		return fmt.Errorf("%s: no Redis password", h.Name)
	case !masterName.MatchString(inv.Name):
		return fmt.Errorf("%s: master name %q: use only letters, digits, '.', '-' and '_'", h.Name, inv.Name)
	case inv.Redis.Port <= 0 || inv.Sentinel.Port <= 0:
		return fmt.Errorf("%s: Redis or Sentinel port not set", h.Name)
	}
	for _, a := range []string{h.Address, masterAddr} {
		if a == "" || strings.ContainsFunc(a, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return fmt.Errorf("%s: address %q: empty or contains blanks or control characters", h.Name, a)
		}
		if err := inventory.CheckAddress(a); err != nil {
			return fmt.Errorf("%s: address %w", h.Name, err)
		}
	}
	for _, c := range []byte(inv.Redis.Password) {
		if c < ' ' || c == 0x7f {
			return fmt.Errorf("%s: the Redis password (from %s) contains a control character; "+
				"Redis config files cannot hold one safely", h.Name, passwordSource(inv))
		}
	}
	return nil
}

func passwordSource(inv *inventory.Inventory) string {
	if inv.Redis.PasswordSource != "" {
		return inv.Redis.PasswordSource
	}
	return "the inventory"
}

// bindAddrs is the host's own address, then loopback for local checks.
func bindAddrs(addr string) []string {
	if addr == "127.0.0.1" {
		return []string{addr}
	}
	return []string{addr, "127.0.0.1"}
}

func setDaemon(initSystem string, daemonize *bool, supervised *string) {
	if initSystem == InitSystemd {
		*daemonize, *supervised = false, "systemd"
	} else {
		*daemonize, *supervised = true, ""
	}
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}
