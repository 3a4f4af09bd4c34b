// Package render turns an inventory into the files redisctl writes to a host
// (redis.conf, sentinel.conf, SysV init scripts or systemd units) from the
// templates in the templates package, one typed struct per template, and
// reads back config files that Redis and Sentinel rewrote, split exactly the
// way Redis splits them.
package render

import (
	"bytes"
	"fmt"
	"path"
	"strings"
	"text/template"

	"github.com/redisctl/redisctl/provision/remote"
	"github.com/redisctl/redisctl/templates"
)

// RedisConf is what redis.conf.tmpl renders: the config of one data node.
type RedisConf struct {
	Path string   // where the file goes, for the header comment
	Port int      // port Redis listens on
	Bind []string // addresses to listen on, in order

	// Daemonize is true under SysV init (the init script waits for the pid
	// file); under systemd it is false and Supervised is "systemd".
	Daemonize  bool
	Supervised string

	PidFile string // "" writes no pidfile directive
	LogFile string
	Dir     string // working directory: RDB and AOF files

	// Password is both requirepass and masterauth: every node and sentinel
	// of the cluster shares it. Unused with ACLFile.
	Password string

	// ACLFile, when set, holds the users instead of requirepass (an ACL
	// cluster): replicas then log in to their master as MasterUser with
	// MasterAuth.
	ACLFile    string
	MasterUser string
	MasterAuth string

	ReplPingReplicaPeriod int // seconds
	ReplTimeout           int // seconds

	// DisklessSyncMaxReplicas, when not 0, is repl-diskless-sync-max-replicas
	// (Redis 7.0+): the number of replicas the cluster has, so that a master
	// starts a diskless sync as soon as all of them wait instead of after
	// repl-diskless-sync-delay (5 s); a lone reconnecting replica still waits.
	DisklessSyncMaxReplicas int

	// ReplicaOf is the master this node follows; nil on the master.
	ReplicaOf *Addr

	// TLS, when set, makes Port the TLS port and closes the plaintext one.
	TLS *TLSConf

	// Extra holds the inventory's own directives, in the order written.
	Extra []Directive
}

// Addr is a host and port, as written on replicaof and sentinel monitor lines.
type Addr struct {
	Host string
	Port int
}

// Directive is one extra config line: a name and its arguments, each quoted
// on output as needed.
type Directive struct {
	Name string
	Args []string
}

// SentinelConf is what sentinel.conf.tmpl renders: the config of one
// Sentinel monitoring one master.
type SentinelConf struct {
	Path string
	Port int
	// TLS, when set, makes Port the TLS port: clients, the other
	// sentinels and the data nodes are then reached over TLS.
	TLS        *TLSConf
	Bind       []string
	Daemonize  bool
	Supervised string
	PidFile    string
	LogFile    string
	Dir        string

	// Password is the Sentinel's own requirepass and the sentinel-pass it
	// uses with the other Sentinels.
	Password string
	// AuthUser and AuthPass are how it logs in to the data nodes: the
	// cluster password as the default user ("" AuthUser), or the sentinel
	// user of an ACL cluster.
	AuthUser string
	AuthPass string

	MasterName string // letters, digits, '.', '-', '_'
	Master     Addr   // the master to monitor
	Quorum     int

	// ResolveHostnames turns on "sentinel resolve-hostnames" and "sentinel
	// announce-hostnames"; needed when Master.Host is a DNS name.
	ResolveHostnames bool

	DownAfterMS       int
	ParallelSyncs     int
	FailoverTimeoutMS int

	// Identity, in a file written for the first time only, gives the
	// sentinel its id and the peers it knows from its first start. An
	// existing file is never rendered again: Sentinel keeps its own state.
	Identity *SentinelIdentity
}

// Kind says which server a Service runs.
type Kind string

const (
	KindRedis    Kind = "redis"
	KindSentinel Kind = "sentinel"
)

// Service is what the init script and systemd unit templates render: how to
// run one redis-server or Sentinel process as an unprivileged user.
type Service struct {
	Kind        Kind
	Name        string   // init script and unit name: redis_7000
	Description string   // one line, for the LSB header and the unit
	Command     []string // program and arguments, e.g. redis-server <conf>
	PidFile     string   // must be in a directory of its own (see RenderInitScript)
	LogFile     string
	User        string // user and group the server runs as
	// WritePaths are the only paths the server may write under systemd
	// (ProtectSystem=strict): its config directory (Redis and Sentinel
	// rewrite their config through a temporary file there), its working
	// directory and its log file.
	WritePaths []string

	// NoFile is the open-file limit: Redis's maxclients (10000) + 32.
	NoFile int
	// StartWait and StopWait bound, in seconds, how long the init script
	// waits for the server to come up or go away.
	StartWait int
	StopWait  int
}

// PidDir is the directory the init script creates for PidFile, owned by
// Service.User so the server can create and remove its pid file there.
func (s Service) PidDir() string { return path.Dir(s.PidFile) }

// RuntimeDir is PidDir relative to /run, for systemd's RuntimeDirectory=;
// "" when PidDir is not under /run or /var/run.
func (s Service) RuntimeDir() string {
	d := s.PidDir()
	for _, run := range []string{"/run/", "/var/run/"} {
		if rel, ok := strings.CutPrefix(d, run); ok && rel != "" {
			return rel
		}
	}
	return ""
}

// LogFileCommand creates the log file, owned by User, if it is missing: the
// server opens it as User, who cannot create files in /var/log. It is run
// as root before the server starts.
func (s Service) LogFileCommand() []string {
	q := remote.Quote
	return []string{"/bin/sh", "-c", "test -e " + q(s.LogFile) + " || install -m 0640 -o " + q(s.User) +
		" -g " + q(s.User) + " /dev/null " + q(s.LogFile)}
}

// RenderRedisConf renders redis.conf.tmpl.
func RenderRedisConf(c RedisConf) ([]byte, error) {
	return execute("redis.conf.tmpl", c)
}

// RenderSentinelConf renders sentinel.conf.tmpl. An Identity that
// Sentinel would refuse (see SentinelIdentity) is an error.
func RenderSentinelConf(c SentinelConf) ([]byte, error) {
	if c.Identity != nil {
		if err := c.Identity.check(c.Master); err != nil {
			return nil, fmt.Errorf("%s: %w", c.Path, err)
		}
	}
	return execute("sentinel.conf.tmpl", c)
}

// RenderInitScript renders the SysV init script for s (redis.init.tmpl or
// sentinel.init.tmpl). Because the script makes the pid file's directory
// owned by s.User, that directory must belong to this cluster alone: a pid
// file directly in /var/run, /run or / is refused.
func RenderInitScript(s Service) ([]byte, error) {
	if err := checkService(s); err != nil {
		return nil, err
	}
	return execute(string(s.Kind)+".init.tmpl", s)
}

// RenderUnit renders the systemd unit for s (redis.service.tmpl or
// sentinel.service.tmpl).
func RenderUnit(s Service) ([]byte, error) {
	if err := checkService(s); err != nil {
		return nil, err
	}
	return execute(string(s.Kind)+".service.tmpl", s)
}

func checkService(s Service) error {
	if s.Kind != KindRedis && s.Kind != KindSentinel {
		return fmt.Errorf("service %s: unknown kind %q", s.Name, s.Kind)
	}
	if len(s.Command) == 0 {
		return fmt.Errorf("service %s: no command", s.Name)
	}
	switch d := s.PidDir(); d {
	case "/", "/run", "/var/run", ".":
		return fmt.Errorf("service %s: pid file %s must be in a directory of its own (e.g. /var/run/redis), "+
			"because the init script hands that directory to user %s", s.Name, s.PidFile, s.User)
	}
	return nil
}

// sharedTemplates are parsed along with every template so it can use their
// {{define}}s.
var sharedTemplates = []string{"sysv-init.tmpl", "tls.tmpl"}

var funcs = template.FuncMap{
	// quote: one argument of a Redis config line.
	"quote": Quote,
	// sh: one word of a POSIX shell command.
	"sh": remote.Quote,
	// cmd: a whole command line, each word quoted for the shell.
	"cmd": func(words []string) string { return remote.Cmd(words...) },
	// unitcmd: a command line for a systemd Exec*= setting.
	"unitcmd": unitCmd,
}

// unitCmd quotes words for a systemd Exec*= line, where quotes and
// backslashes group and escape, '%' starts a specifier and '$' a variable.
func unitCmd(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = unitQuote(w)
	}
	return strings.Join(q, " ")
}

func unitQuote(w string) string {
	safe := w != ""
	for _, r := range w {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,+", r)) {
			safe = false
			break
		}
	}
	if safe {
		return w
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "%", "%%", "$", "$$")
	return `"` + r.Replace(w) + `"`
}

func execute(name string, data any) ([]byte, error) {
	t, err := template.New(name).Funcs(funcs).Option("missingkey=error").
		ParseFS(templates.FS, append([]string{name}, sharedTemplates...)...)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	return buf.Bytes(), nil
}
