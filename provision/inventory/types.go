// Package inventory reads and validates what the operator wrote: the cluster
// name, the Redis and Sentinel settings, SSH settings and the hosts. It knows
// nothing about connections or live state.
package inventory

import (
	"fmt"
	"path"
	"strconv"
)

// Role of a data node as written in the inventory. The live role may differ
// after a failover; see provision's facts.
type Role string

const (
	RoleMaster  Role = "master"
	RoleReplica Role = "replica" // "slave" is accepted as a synonym when reading
)

// Inventory is one cluster: exactly one master, at least one replica.
type Inventory struct {
	// File is the path the inventory was read from (for messages).
	File string

	Name     string // Sentinel master name, default "mymaster"
	Redis    Redis
	Sentinel Sentinel
	SSH      SSH
	TLS      TLS
	Hosts    []Host
}

// Redis holds the data-node settings shared by every host.
type Redis struct {
	// Engine is the server the cluster runs: EngineRedis (the default) or
	// EngineValkey. Both are built from source the same way.
	Engine  string
	Version string // e.g. "7.0.15"
	Source  string // URL or local path of the source tarball
	SHA256  string // lower-case hex; required for URLs
	Port    int    // default 7000
	// Password after ${VAR} expansion. Empty means "not given": up generates
	// one and stores it locally (see PasswordFromEnv for where it came from).
	Password string
	// PasswordSource says where Password came from, for messages that must
	// not print it: "inventory", "environment variable NAME", or "".
	PasswordSource string
	PasswordFile   string // where a generated password is stored (key password_file); "~" expanded
	// Config holds extra redis.conf directives in the order written.
	Config []Directive

	// Users are the application ACL users (key users), in inventory order.
	Users []User
	// UsersSet: the users key is written, even as an empty list (users: []).
	UsersSet bool
	// DefaultUser keeps the default user (key default_user): clients that
	// send no user name log in with Password and may do everything.
	DefaultUser bool
	// DefaultUserSet: the default_user key is written, true or false.
	DefaultUserSet bool
}

// ACL reports whether the cluster has ACL users: redisctl then writes an ACL file with its own users (admin,
// replication, sentinel), the application users, and the default user off
// unless DefaultUser. Without it the cluster password opens everything, as
// before.
func (r Redis) ACL() bool { return r.UsersSet || r.DefaultUserSet }

// User is one application ACL user of redis.users.
type User struct {
	Name string
	// Password after ${VAR} expansion. Empty means "not given": up
	// generates one.
	Password string
	// PasswordSource says where Password came from, like
	// Redis.PasswordSource: "inventory", "environment variable NAME", or "".
	PasswordSource string
	// Rules are the user's ACL rules as written, e.g. "~app:* &app:*
	// +@read +@write -@dangerous"; acl.ParseRules accepts them.
	Rules string
	Line  int // line of the list item in the inventory file, for messages
}

// Directive is one extra redis.conf line: name and its value as written.
type Directive struct {
	Name  string
	Value string
	Line  int // line in the inventory file, for messages
}

// Sentinel holds the Sentinel settings shared by every host.
type Sentinel struct {
	Port              int // default 8000
	Quorum            int // default 2
	DownAfterMS       int // default 30000
	ParallelSyncs     int // default 1
	FailoverTimeoutMS int // default 180000
}

// SSH holds connection settings; per-host values override these.
type SSH struct {
	User         string // empty: ~/.ssh/config, then the current user
	Port         int    // 0: ~/.ssh/config, then 22
	IdentityFile string // "~" expanded; empty: agent and ~/.ssh/config
	KnownHosts   string // "~" expanded; default ~/.ssh/known_hosts
	Jump         string // optional jump host, "[user@]host[:port]"

	// KnownHostsSet: known_hosts was written, and only that file is read.
	// Otherwise SSH reads what OpenSSH reads: the user's file (or
	// ~/.ssh/config's UserKnownHostsFile) and /etc/ssh/ssh_known_hosts.
	KnownHostsSet bool
}

// Host is one machine of the cluster.
type Host struct {
	Name     string
	Address  string // IP or DNS name the other nodes and sentinels use
	Role     Role
	Sentinel bool // run a sentinel here (default true)
	SSH      SSH  // effective settings: global values merged with the host's
	Line     int  // line of the host entry in the inventory file
}

// Defaults from the seed procedure.
const (
	DefaultName              = "mymaster"
	DefaultRedisPort         = 7000
	DefaultSentinelPort      = 8000
	DefaultQuorum            = 2
	DefaultDownAfterMS       = 30000
	DefaultParallelSyncs     = 1
	DefaultFailoverTimeoutMS = 180000
)

// Master returns the host the inventory names as master.
func (inv *Inventory) Master() *Host {
	for i := range inv.Hosts {
		if inv.Hosts[i].Role == RoleMaster {
			return &inv.Hosts[i]
		}
	}
	return nil
}

// Host returns the host with the given name, or nil.
func (inv *Inventory) Host(name string) *Host {
	for i := range inv.Hosts {
		if inv.Hosts[i].Name == name {
			return &inv.Hosts[i]
		}
	}
	return nil
}

// SentinelHosts returns the hosts that run a sentinel, in inventory order.
func (inv *Inventory) SentinelHosts() []*Host {
	var hs []*Host
	for i := range inv.Hosts {
		if inv.Hosts[i].Sentinel {
			hs = append(hs, &inv.Hosts[i])
		}
	}
	return hs
}

// Layout is where files live on a host, following the seed.
type Layout struct {
	ConfDir            string // /etc/redis
	RedisConf          string // /etc/redis/redis_7000.conf
	SentinelConf       string // /etc/redis/sentinel_8000.conf
	RedisService       string // redis_7000
	SentinelService    string // sentinel_8000
	RedisLog           string // /var/log/redis_7000.log
	SentinelLog        string // /var/log/sentinel_8000.log
	DataDir            string // /var/lib/redis/7000
	SentinelDir        string // /var/lib/redis/sentinel_8000 (sentinel's working dir)
	PidDir             string // /var/run/redis: owned by redis, made by the init script
	RedisPid           string // /var/run/redis/redis_7000.pid
	SentinelPid        string // /var/run/redis/sentinel_8000.pid
	BinDir             string // /usr/local/bin
	StateDir           string // /var/lib/redisctl: manifest and build cache on the host
	InitDir            string // /etc/init.d
	SystemdDir         string // /etc/systemd/system
	RedisInitScript    string // /etc/init.d/redis_7000
	SentinelInitScript string // /etc/init.d/sentinel_8000
	RedisUnit          string // /etc/systemd/system/redis_7000.service
	SentinelUnit       string // /etc/systemd/system/sentinel_8000.service
	// TLSDir holds the TLS files of the data node and the sentinel of a TLS
	// cluster: ca.crt, redis.crt and redis.key (see TLSFiles).
	TLSDir string // /etc/redis/tls_7000
}

// TLS file names in Layout.TLSDir.
const (
	TLSCAFile   = "ca.crt"
	TLSCertFile = "redis.crt"
	TLSKeyFile  = "redis.key"
)

// Layout returns the file layout for this inventory's ports.
func (inv *Inventory) Layout() Layout {
	rp, sp := strconv.Itoa(inv.Redis.Port), strconv.Itoa(inv.Sentinel.Port)
	l := Layout{
		ConfDir:         "/etc/redis",
		RedisService:    "redis_" + rp,
		SentinelService: "sentinel_" + sp,
		DataDir:         "/var/lib/redis/" + rp,
		SentinelDir:     "/var/lib/redis/sentinel_" + sp,
		BinDir:          "/usr/local/bin",
		StateDir:        "/var/lib/redisctl",
		InitDir:         "/etc/init.d",
		SystemdDir:      "/etc/systemd/system",
	}
	l.RedisConf = path.Join(l.ConfDir, l.RedisService+".conf")
	l.SentinelConf = path.Join(l.ConfDir, l.SentinelService+".conf")
	l.RedisLog = "/var/log/" + l.RedisService + ".log"
	l.SentinelLog = "/var/log/" + l.SentinelService + ".log"
	// Redis runs as the redis user and cannot create files in /var/run, so
	// its pid files live in a directory of their own.
	l.PidDir = "/var/run/redis"
	l.RedisPid = path.Join(l.PidDir, l.RedisService+".pid")
	l.SentinelPid = path.Join(l.PidDir, l.SentinelService+".pid")
	l.RedisInitScript = path.Join(l.InitDir, l.RedisService)
	l.SentinelInitScript = path.Join(l.InitDir, l.SentinelService)
	l.RedisUnit = path.Join(l.SystemdDir, l.RedisService+".service")
	l.SentinelUnit = path.Join(l.SystemdDir, l.SentinelService+".service")
	l.TLSDir = path.Join(l.ConfDir, "tls_"+rp)
	return l
}

// String names a host for messages: "node1 (10.231.0.11)".
func (h *Host) String() string { return fmt.Sprintf("%s (%s)", h.Name, h.Address) }
