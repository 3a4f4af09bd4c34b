package provision

import (
	"context"
	"fmt"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote"
)

// The host checks: the settings Redis warns about at start-up (and people
// find only after an incident), the clocks, and the paths between hosts
// that a failover needs. Each host answers one script in one round trip;
// the verdicts are decided on the control side from what the scripts
// printed, so they are tested on recorded output.

// Level is the verdict of one check.
type Level string

const (
	LevelOK   Level = "ok"
	LevelWarn Level = "warn" // works, but hurts Redis under load or in a failover
	LevelFail Level = "fail" // makes a failover impossible (a blocked path)
)

func (l Level) rank() int {
	switch l {
	case LevelFail:
		return 2
	case LevelWarn:
		return 1
	}
	return 0
}

// Finding is one checked setting on one host, or one path between two.
type Finding struct {
	Host    string `json:"host"`            // the host checked ("node1 -> node2" for a path; "" for the cluster)
	Check   string `json:"check"`           // what was checked, e.g. vm.overcommit_memory
	Value   string `json:"value"`           // what was found
	Verdict Level  `json:"verdict"`         // ok, warn or fail
	Fix     string `json:"fix,omitempty"`   // what to do, when not ok
	Fixable bool   `json:"fixable"`         // check --apply (up --apply-tuning) fixes it
	From    string `json:"from,omitempty"`  // a path: the host that connected
	To      string `json:"to,omitempty"`    // a path: the host connected to
	Port    int    `json:"port,omitempty"`  // a path: the port
	Fixed   bool   `json:"fixed,omitempty"` // --apply fixed it (the value is the one before)
}

// TuningReport is the result of the host checks.
type TuningReport struct {
	Verdict  Level     `json:"verdict"`
	Findings []Finding `json:"findings"`
	// Applied lists what --apply changed, per host ("node1: write ...").
	Applied []string `json:"applied,omitempty"`
	// NotFixed lists the fixes --apply could not make or refused, and why.
	NotFixed []string `json:"not_fixed,omitempty"`

	hosts   map[string]*hostTuning // what each host's script printed, by name
	applied bool                   // the report is the check after --apply
}

// Problems returns the findings at level l.
func (r *TuningReport) Problems(l Level) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Verdict == l {
			out = append(out, f)
		}
	}
	return out
}

// AfterApply reports whether r is the check made again after --apply
// fixed what it could.
func (r *TuningReport) AfterApply() bool { return r.applied }

func (r *TuningReport) decide() {
	r.Verdict = LevelOK
	for _, f := range r.Findings {
		if f.Verdict.rank() > r.Verdict.rank() {
			r.Verdict = f.Verdict
		}
	}
}

// Tuning defaults of Redis that the checks compare against.
const (
	defaultTCPBacklog = 511
	defaultMaxClients = 10000
	// Redis keeps 32 descriptors for itself beyond maxclients.
	reservedFDs = 32
	// probeTimeout bounds each TCP connect between hosts.
	probeTimeout = 2
	// maxClockSkew is what clocks may differ by before the check warns.
	maxClockSkew = time.Second
	thpFile      = "/sys/kernel/mm/transparent_hugepage/enabled"
	// SysctlFile is where check --apply writes the kernel settings Redis
	// needs, applied at every boot.
	SysctlFile = "/etc/sysctl.d/60-redisctl.conf"
	// THPService is the service check --apply installs to turn transparent
	// huge pages off at every boot.
	THPService = "redisctl-thp"
)

// hostTuning is what one host's check script printed.
type hostTuning struct {
	Overcommit   string // "0", "1", "2"; "" unreadable
	THP          string // always, madvise, never; "" when the kernel has none
	Somaxconn    int    // -1 unreadable
	NrOpen       int
	Init         string
	RedisPid     int
	SentinelPid  int
	NoFileRun    string // soft limit of the running redis ("unlimited" possible)
	NoFileUnit   string // systemd's LimitNOFILE for the installed unit
	NoFileScript string // NOFILE= of the installed init script
	MemTotalKB   int64
	MemAvailKB   int64
	RedisRSSKB   int64
	DiskPath     string
	DiskFreeKB   int64 // -1 unknown
	RDBBytes     int64 // -1 no RDB
	TimeZone     string
	NTP          string // timedatectl's NTP (yes/no), "" unknown
	NTPSynced    string // timedatectl's NTPSynchronized
	NTPDaemon    string // an NTP daemon found running
	SysctlDir    bool
	SysctlFile   string // content of SysctlFile, "" when absent
	THPUnit      bool   // the THP service file is installed
	Probes       []probe
	// ProbeDeadline: the probes were ended after probeTimeout; one that
	// printed nothing got no answer in that time.
	ProbeDeadline bool

	// Clock: the host's time, and the control machine's before the
	// command and when the answer's first line arrived.
	Clock          float64
	Before, Answer time.Time
}

// probe is one TCP connect from a host to another's port.
type probe struct {
	Addr   string
	Port   int
	Result string // open, refused, timeout, or unreachable: <message>
}

// target is a port on a host that the others must reach.
type target struct {
	node *Node
	port int
	what string // redis or sentinel
}

func (c *Cluster) targets() []target {
	var out []target
	for _, n := range c.Nodes {
		out = append(out, target{n, c.Inv.Redis.Port, "redis"})
		if n.Spec.Sentinel {
			out = append(out, target{n, c.Inv.Sentinel.Port, "sentinel"})
		}
	}
	return out
}

// checkScript is the script each host runs: it only reads, and connects
// to the other hosts' ports. probes are "ADDR PORT" pairs.
func checkScript(inv *inventory.Inventory, probes []string) string {
	return checkScriptWith(inv, probes, false)
}

// checkScriptWith is checkScript; with initRead, the caller reads the init
// script itself (the lock's round trip reads it beside the checks) and adds
// its NOFILE line (nofileLine), and the script does not start a sed for it.
func checkScriptWith(inv *inventory.Inventory, probes []string, initRead bool) string {
	l := inv.Layout()
	nofileScript := "# NOFILE of the init script: read by the caller"
	if !initRead {
		nofileScript = fmt.Sprintf(`if [ -f %[1]s ]; then echo "nofile_script=$(sed -n '/^NOFILE=/{s/^NOFILE=\([0-9]*\).*/\1/p;q;}' %[1]s)"; fi`,
			remote.Quote(l.RedisInitScript))
	}
	var b strings.Builder
	b.WriteString(CheckScriptTag + "\n")
	// The clock first: its line is timed when it arrives.
	b.WriteString("echo \"clock=$(date +%s.%N)\"\n")
	b.WriteString(LivePidFunc)
	// Few processes (a no-change up runs this on every host at once): one
	// awk for /proc, one pgrep. (Not the shell's read for /proc/sys: dash
	// reads a byte at a time, and a sysctl file reads as empty after its
	// first byte.)
	fmt.Fprintf(&b, `if [ -r %[1]s ]; then _t=; read -r _t 2>/dev/null <%[1]s; case $_t in *\[*\]*) _t=${_t#*\[}; _t=${_t%%%%\]*} ;; *) _t= ;; esac; echo "thp=$_t"; fi
if [ -d /run/systemd/system ]; then echo init=systemd; else echo init=sysv; fi
live_pid %[2]s %[3]s >/dev/null; rp=$_lp_pid; live_pid %[4]s %[3]s >/dev/null; sp=$_lp_pid
echo "redis_pid=$rp"; echo "sentinel_pid=$sp"
_f=; for x in /proc/meminfo /proc/sys/vm/overcommit_memory /proc/sys/net/core/somaxconn /proc/sys/fs/nr_open ${rp:+/proc/$rp/limits /proc/$rp/status}; do [ -r "$x" ] && _f="$_f $x"; done
awk 'FILENAME == "/proc/sys/vm/overcommit_memory" {print "overcommit=" $0} FILENAME == "/proc/sys/net/core/somaxconn" {print "somaxconn=" $0}
  FILENAME == "/proc/sys/fs/nr_open" {print "nr_open=" $0} /^MemTotal:/ {print "mem_total_kb=" $2} /^MemAvailable:/ {print "mem_avail_kb=" $2}
  /^Max open files/ {print "nofile_running=" $4} /^VmRSS:/ {print "redis_rss_kb=" $2}' $_f 2>/dev/null
if [ -d /run/systemd/system ] && [ -f %[5]s ]; then echo "nofile_unit=$(systemctl show -p LimitNOFILE --value %[6]s 2>/dev/null)"; fi
%[14]s
d=%[8]s; while [ ! -d "$d" ]; do d=${d%%/*}; [ -n "$d" ] || d=/; done
# df -P prints a header of 7 words, then a line whose 4th word is the free space.
echo "disk_path=$d"; set -- $(df -Pk -- "$d" 2>/dev/null); echo "disk_free_kb=${11-}"
if [ -f %[9]s ]; then echo "rdb_bytes=$(stat -c %%s -- %[9]s)"; fi
if [ -d /run/systemd/system ] && command -v timedatectl >/dev/null 2>&1; then
  # timedatectl waits up to 25 s for a systemd-timedated that hangs: the
  # NTP state is then unknown, not worth the wait.
  t=; command -v timeout >/dev/null 2>&1 && t="timeout 2"
  $t timedatectl show -p Timezone -p NTP -p NTPSynchronized 2>/dev/null | sed 's/^/td_/'
fi
tz=$(readlink /etc/localtime 2>/dev/null) && tz=${tz##*/zoneinfo/}; [ -n "$tz" ] || { [ -r /etc/timezone ] && read -r tz 2>/dev/null </etc/timezone; }
echo "tz=$tz"
# A process name is cut to 15 characters: systemd-timesyncd is seen as systemd-timesyn.
_n=$(pgrep -x -l 'chronyd|ntpd|systemd-timesyn|openntpd' 2>/dev/null)
for p in chronyd ntpd systemd-timesyn openntpd; do case "
$_n
" in *" $p
"*) [ $p = systemd-timesyn ] && p=systemd-timesyncd; echo "ntp_daemon=$p"; break ;; esac; done
if [ -d /etc/sysctl.d ]; then echo sysctl_d=yes; fi
if [ -f %[10]s ]; then sed 's/^/sysctl_file=/' %[10]s; fi
if [ -f %[11]s ] || [ -f %[12]s ]; then echo thp_unit=yes; fi
probe() {
  if command -v nc >/dev/null 2>&1; then
    r=$(nc -z -w %[13]d "$1" "$2" 2>&1); s=$?
    if [ $s != 0 ] && [ -z "$r" ]; then s=124; fi
  else
    echo "probe=$1 $2 unknown: neither bash with timeout nor nc on this host"; return
  fi
  case $s:$r in
  0:*) echo "probe=$1 $2 open" ;;
  124:* | *:*[Tt]imed\ out*) echo "probe=$1 $2 timeout" ;;
  *:*[Rr]efused*) echo "probe=$1 $2 refused" ;;
  *) echo "probe=$1 $2 unreachable: $(echo "$r" | tail -n 1 | sed 's/^.*: //')" ;;
  esac
}
`, thpFile, remote.Quote(l.RedisPid), remote.Quote(l.BinDir+"/redis-server"), remote.Quote(l.SentinelPid),
		remote.Quote(l.RedisUnit), remote.Quote(l.RedisService), remote.Quote(l.RedisInitScript),
		remote.Quote(l.DataDir), remote.Quote(path.Join(l.DataDir, rdbFile(inv))), remote.Quote(SysctlFile),
		remote.Quote(thpUnitPath(l)), remote.Quote(path.Join(l.InitDir, THPService)),
		probeTimeout, nofileScript)
	// With bash and timeout, one bash connects to each port in turn,
	// starting no process for a port that answers (a no-change up on a
	// healthy cluster); only when a port gets no answer before
	// probeTimeout (a firewall that drops) does a second bash connect to
	// every port at once, a subshell each, its answers replacing the
	// first's, and a probe silent at its deadline is a timeout
	// (probe_deadline).
	if len(probes) > 0 {
		var args strings.Builder
		for _, p := range probes {
			args.WriteString(" " + remote.Quote(p))
		}
		b.WriteString("if command -v bash >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1; then\n")
		fmt.Fprintf(&b, "  timeout %d bash -c %s probe%s\n", probeTimeout, remote.Quote(probeEachBash), args.String())
		b.WriteString("  if [ $? = 124 ]; then\n")
		fmt.Fprintf(&b, "    timeout %d bash -c %s probe%s\n", probeTimeout, remote.Quote(probeAllBash), args.String())
		b.WriteString("    if [ $? = 124 ]; then echo probe_deadline=yes; fi\n  fi\nelse\n")
		for _, p := range probes {
			addr, port, _ := strings.Cut(p, " ")
			fmt.Fprintf(&b, "  probe %s %s &\n", remote.Quote(addr), remote.Quote(port))
		}
		b.WriteString("  wait\nfi\n")
	}
	return b.String()
}

// probeOneBash connects to ADDR ($a) PORT ($p) and prints a probe= line:
// open, refused, timeout, or unreachable with the system's reason. An
// open port costs no process; a failed one is connected to again in a
// subshell, for the reason.
const probeOneBash = `a=${t% *} p=${t#* }
if : 2>/dev/null 3<>"/dev/tcp/$a/$p"; then echo "probe=$a $p open"
elif r=$( { exec 3<>"/dev/tcp/$a/$p"; } 2>&1 ); then echo "probe=$a $p open"
else
  r=${r##*$'\n'}
  case $r in
  *[Tt]imed\ out*) echo "probe=$a $p timeout" ;;
  *[Rr]efused*) echo "probe=$a $p refused" ;;
  *) echo "probe=$a $p unreachable: ${r##*: }" ;;
  esac
fi
`

// probeEachBash probes each "ADDR PORT" argument in turn.
const probeEachBash = "for t; do\n" + probeOneBash + "done\n"

// probeAllBash probes every "ADDR PORT" argument at once, a subshell each.
const probeAllBash = "for t; do (\n" + probeOneBash + ") & done\nwait\n"

// nofileLine is the line checkScript prints for the NOFILE of the init
// script, from its content (nil: there is none): the digits after the
// first line that starts with NOFILE=, as its sed reads them.
func nofileLine(script []byte) string {
	if script == nil {
		return ""
	}
	for _, line := range strings.Split(string(script), "\n") {
		if v, ok := strings.CutPrefix(line, "NOFILE="); ok {
			end := 0
			for end < len(v) && v[end] >= '0' && v[end] <= '9' {
				end++
			}
			return "nofile_script=" + v[:end] + "\n"
		}
	}
	return "nofile_script=\n"
}

// CheckScriptTag starts the check script, so logs (and tests) tell it apart.
const CheckScriptTag = "# redisctl host checks"

func thpUnitPath(l inventory.Layout) string { return path.Join(l.SystemdDir, THPService+".service") }

// directive returns the last value redis.config gives name ("" if none):
// Redis applies the last of repeated lines.
func directive(inv *inventory.Inventory, name string) string {
	v := ""
	for _, d := range inv.Redis.Config {
		if strings.EqualFold(d.Name, name) {
			v = strings.Trim(strings.TrimSpace(d.Value), `"'`)
		}
	}
	return v
}

func rdbFile(inv *inventory.Inventory) string {
	if f := directive(inv, "dbfilename"); f != "" && !strings.Contains(f, "/") {
		return f
	}
	return "dump.rdb"
}

// parseRedisBytes reads a Redis memory size: 100, 1k (1000), 1kb (1024),
// 2m, 2mb, 1g, 1gb, case-insensitive.
func parseRedisBytes(s string) (int64, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1e3}, {"m", 1e6}, {"g", 1e9}, {"b", 1}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = rest, u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a Redis memory size")
	}
	return n * mult, nil
}

func parseTuning(out string) *hostTuning {
	t := &hostTuning{Somaxconn: -1, NrOpen: -1, DiskFreeKB: -1, RDBBytes: -1, MemTotalKB: -1, MemAvailKB: -1}
	num := func(v string) int64 {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return -1
		}
		return n
	}
	var sysctl []string
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if k != "sysctl_file" {
			v = strings.TrimSpace(v)
		}
		switch k {
		case "clock":
			t.Clock, _ = strconv.ParseFloat(v, 64)
		case "overcommit":
			t.Overcommit = v
		case "somaxconn":
			t.Somaxconn = int(num(v))
		case "nr_open":
			t.NrOpen = int(num(v))
		case "thp":
			t.THP = v
		case "init":
			t.Init = v
		case "redis_pid":
			t.RedisPid, _ = strconv.Atoi(v)
		case "sentinel_pid":
			t.SentinelPid, _ = strconv.Atoi(v)
		case "nofile_running":
			t.NoFileRun = v
		case "nofile_unit":
			t.NoFileUnit = v
		case "nofile_script":
			t.NoFileScript = v
		case "redis_rss_kb":
			t.RedisRSSKB = max(num(v), 0)
		case "mem_total_kb":
			t.MemTotalKB = num(v)
		case "mem_avail_kb":
			t.MemAvailKB = num(v)
		case "disk_path":
			t.DiskPath = v
		case "disk_free_kb":
			t.DiskFreeKB = num(v)
		case "rdb_bytes":
			t.RDBBytes = num(v)
		case "td_Timezone":
			t.TimeZone = v
		case "tz":
			if t.TimeZone == "" {
				t.TimeZone = v
			}
		case "td_NTP":
			t.NTP = v
		case "td_NTPSynchronized":
			t.NTPSynced = v
		case "ntp_daemon":
			t.NTPDaemon = v
		case "sysctl_d":
			t.SysctlDir = true
		case "sysctl_file":
			sysctl = append(sysctl, v)
		case "thp_unit":
			t.THPUnit = true
		case "probe_deadline":
			t.ProbeDeadline = true
		case "probe":
			f := strings.SplitN(v, " ", 3)
			if len(f) == 3 {
				port, _ := strconv.Atoi(f[1])
				t.Probes = append(t.Probes, probe{Addr: f[0], Port: port, Result: f[2]})
			}
		}
	}
	if len(sysctl) > 0 {
		t.SysctlFile = strings.Join(sysctl, "\n") + "\n"
	}
	return t
}

// timedWriter notes when the first bytes of an answer arrive.
type timedWriter struct {
	strings.Builder
	first time.Time
}

func (w *timedWriter) Write(b []byte) (int, error) {
	if w.first.IsZero() {
		w.first = time.Now()
	}
	return w.Builder.Write(b)
}

// CheckHosts runs the check script on every host at once (one round trip
// each; none where up's lock round trip ran it) and decides the verdicts.
// A host where a port gave no answer within the probes' deadline runs its
// checks once more, on their own: when every host runs them at once, with
// the lock and the facts (15 hosts on 2 cores in the lab), the deadline can
// pass before a port that is open is even tried, and a blocked port must
// not be named for a busy machine.
func (c *Cluster) CheckHosts(ctx context.Context) (*TuningReport, error) {
	hosts := map[string]*hostTuning{}
	var mu sync.Mutex
	var again []*Node
	err := EachHost(ctx, c.Nodes, NodeName, "check", func(ctx context.Context, n *Node) error {
		t := c.takeChecked(n)
		if t == nil {
			var err error
			if t, err = c.checkHost(ctx, n); err != nil {
				return err
			}
		}
		mu.Lock()
		defer mu.Unlock()
		hosts[n.Spec.Name] = t
		if t.unanswered() {
			again = append(again, n)
		}
		return nil
	})
	if err == nil && len(again) > 0 {
		err = EachHost(ctx, again, NodeName, "check", func(ctx context.Context, n *Node) error {
			t, err := c.checkHost(ctx, n)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			hosts[n.Spec.Name] = t
			return nil
		})
	}
	if err != nil {
		return nil, err
	}
	rep := &TuningReport{hosts: hosts, Findings: evaluate(c, hosts)}
	rep.decide()
	return rep, nil
}

// checkHost runs the check script on n.
func (c *Cluster) checkHost(ctx context.Context, n *Node) (*hostTuning, error) {
	var out timedWriter
	before := time.Now()
	if err := n.Host.Run(ctx, checkScript(c.Inv, c.probesFrom(n)), nil, &out, nil); err != nil {
		return nil, err
	}
	t := parseTuning(out.String())
	t.Before, t.Answer = before, out.first
	if t.Answer.IsZero() {
		t.Answer = time.Now()
	}
	return t, nil
}

// unanswered reports whether a probe got no answer in time.
func (t *hostTuning) unanswered() bool {
	if t.ProbeDeadline {
		return true
	}
	for _, p := range t.Probes {
		if p.Result == "timeout" {
			return true
		}
	}
	return false
}

// evaluate decides every check from what the hosts printed.
func evaluate(c *Cluster, hosts map[string]*hostTuning) []Finding {
	inv := c.Inv
	var out []Finding
	add := func(f Finding) { out = append(out, f) }
	backlog := defaultTCPBacklog
	if v, err := strconv.Atoi(directive(inv, "tcp-backlog")); err == nil {
		backlog = v
	}
	maxClients := defaultMaxClients
	if v, err := strconv.Atoi(directive(inv, "maxclients")); err == nil {
		maxClients = v
	}
	var maxMemory int64
	if v := directive(inv, "maxmemory"); v != "" {
		maxMemory, _ = parseRedisBytes(v)
	}
	for _, n := range c.Nodes {
		t := hosts[n.Spec.Name]
		if t == nil {
			continue
		}
		name := n.Spec.Name
		// vm.overcommit_memory
		f := Finding{Host: name, Check: "vm.overcommit_memory", Value: orUnknown(t.Overcommit), Verdict: LevelOK}
		if t.Overcommit != "1" {
			f.Verdict, f.Fixable = LevelWarn, true
			f.Fix = "set vm.overcommit_memory = 1, or BGSAVE and replication can fail under memory pressure"
		}
		add(f)
		// Transparent huge pages
		f = Finding{Host: name, Check: "transparent huge pages", Value: t.THP, Verdict: LevelOK}
		switch t.THP {
		case "":
			f.Value = "not in this kernel"
		case "always":
			f.Verdict, f.Fixable = LevelWarn, true
			f.Fix = "set it to never (or madvise): with always, forks for saves and replication copy far more memory and latency spikes"
		}
		add(f)
		// net.core.somaxconn
		f = Finding{Host: name, Check: "net.core.somaxconn", Value: fmt.Sprintf("%d (tcp-backlog %d)", t.Somaxconn, backlog), Verdict: LevelOK}
		if t.Somaxconn < 0 {
			f.Value, f.Verdict = "unknown", LevelWarn
			f.Fix = "cannot read /proc/sys/net/core/somaxconn"
		} else if t.Somaxconn < backlog {
			f.Verdict, f.Fixable = LevelWarn, true
			f.Fix = fmt.Sprintf("raise net.core.somaxconn to at least %d, or Redis's listen backlog is cut to %d", backlog, t.Somaxconn)
		}
		add(f)
		add(openFilesFinding(c, n, t, maxClients))
		add(memoryFinding(name, t, maxMemory))
		add(diskFinding(name, t, maxMemory))
		add(timeFinding(name, t))
	}
	out = append(out, clockFindings(c, hosts)...)
	out = append(out, pathFindings(c, hosts)...)
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// openFilesFinding compares what the Redis service gets (the running
// process's limit, else what its unit or init script sets, else what
// redisctl's would) with maxclients + 32.
func openFilesFinding(c *Cluster, n *Node, t *hostTuning, maxClients int) Finding {
	need := maxClients + reservedFDs
	f := Finding{Host: n.Spec.Name, Check: "open files limit", Verdict: LevelOK}
	val, from := "", ""
	if t.RedisPid > 0 && t.NoFileRun != "" {
		val, from = t.NoFileRun, fmt.Sprintf("running redis, pid %d", t.RedisPid)
	} else if init, err := initSystem(&Facts{Init: t.Init}, c.Layout); err == nil {
		val, from = init.NoFile(t.NoFileUnit, t.NoFileScript)
	}
	if val == "" {
		// Not installed yet: the unit or script redisctl writes.
		val, from = strconv.Itoa(renderedNoFile), "the service redisctl installs"
	}
	got := math.MaxInt
	if val != "unlimited" && val != "infinity" {
		v, err := strconv.Atoi(val)
		if err != nil {
			f.Value, f.Verdict = "unknown ("+from+")", LevelWarn
			f.Fix = "cannot read the limit"
			return f
		}
		got = v
	}
	// The kernel caps any limit at fs.nr_open.
	if t.RedisPid == 0 && t.NrOpen > 0 && t.NrOpen < got {
		got, from = t.NrOpen, from+", capped by fs.nr_open"
	}
	f.Value = fmt.Sprintf("%s (%s; maxclients %d needs %d)", limitText(got), from, maxClients, need)
	if got < need {
		f.Verdict = LevelWarn
		f.Fix = fmt.Sprintf("Redis lowers maxclients to %d; ", max(got-reservedFDs, 0))
		if t.RedisPid > 0 {
			f.Fix += "restart redis through its service so it gets the service's limit"
		} else {
			f.Fix += fmt.Sprintf("raise the service's open-files limit to %d", need)
		}
	}
	return f
}

// renderedNoFile is the open-files limit of the units and init scripts
// redisctl writes (render's noFile).
const renderedNoFile = defaultMaxClients + reservedFDs

func limitText(n int) string {
	if n == math.MaxInt {
		return "unlimited"
	}
	return strconv.Itoa(n)
}

func memoryFinding(host string, t *hostTuning, maxMemory int64) Finding {
	f := Finding{Host: host, Check: "memory", Verdict: LevelOK}
	if t.MemAvailKB < 0 {
		f.Value, f.Verdict, f.Fix = "unknown", LevelWarn, "cannot read /proc/meminfo"
		return f
	}
	avail := t.MemAvailKB * 1024
	if t.RedisRSSKB > 0 {
		avail += t.RedisRSSKB * 1024 // what redis holds now is its own
	}
	if maxMemory == 0 {
		f.Value = fmt.Sprintf("%s available; maxmemory not set", byteText(avail))
		return f
	}
	f.Value = fmt.Sprintf("%s available for maxmemory %s", byteText(avail), byteText(maxMemory))
	if maxMemory > avail {
		f.Verdict = LevelWarn
		f.Fix = "lower redis.config.maxmemory or add memory: the kernel will kill Redis before it reaches maxmemory"
	} else if t.MemTotalKB > 0 && maxMemory > t.MemTotalKB*1024/2 {
		f.Verdict = LevelWarn
		f.Fix = "maxmemory is over half the memory: a fork for BGSAVE or a full sync can need as much again in copied pages"
	}
	return f
}

func diskFinding(host string, t *hostTuning, maxMemory int64) Finding {
	f := Finding{Host: host, Check: "disk", Verdict: LevelOK}
	if t.DiskFreeKB < 0 {
		f.Value, f.Verdict, f.Fix = "unknown", LevelWarn, "cannot read the free space of "+t.DiskPath
		return f
	}
	free := t.DiskFreeKB * 1024
	rdb := max(t.RDBBytes, 0)
	f.Value = fmt.Sprintf("%s free in %s; RDB %s", byteText(free), t.DiskPath, byteText(rdb))
	if t.RDBBytes < 0 {
		f.Value = fmt.Sprintf("%s free in %s; no RDB yet", byteText(free), t.DiskPath)
	}
	// A save writes the new RDB beside the old one before the rename.
	switch {
	case free < rdb:
		f.Verdict = LevelWarn
		f.Fix = "less free space than the dataset: the next save fails"
	case free < 2*rdb:
		f.Verdict = LevelWarn
		f.Fix = "a save writes a new RDB beside the old one: keep free space of at least twice the dataset"
	case maxMemory > 0 && free < maxMemory:
		f.Verdict = LevelWarn
		f.Fix = "less free space than maxmemory: a full dataset cannot be saved"
	}
	return f
}

func timeFinding(host string, t *hostTuning) Finding {
	f := Finding{Host: host, Check: "time zone, NTP", Verdict: LevelOK}
	tz := orUnknown(t.TimeZone)
	switch {
	case t.NTPSynced == "yes":
		f.Value = tz + ", NTP synchronized"
	case t.NTP == "yes" || t.NTPSynced == "no":
		f.Value = tz + ", NTP not synchronized"
		f.Verdict, f.Fix = LevelWarn, "check the time service (timedatectl timesync-status)"
	case t.NTP == "no":
		f.Value = tz + ", NTP off"
		f.Verdict, f.Fix = LevelWarn, "turn NTP on (timedatectl set-ntp true)"
	case t.NTPDaemon != "":
		f.Value = tz + ", " + t.NTPDaemon + " running"
	default:
		f.Value = tz + ", NTP state unknown"
		f.Fix = "no timedatectl and no NTP daemon found: make sure the clock is kept in time"
	}
	return f
}

// clockFindings compare each host's clock with the control machine's,
// from the moment the command left to the moment its first line came
// back: the host read its clock in between, so the offset is known to
// within half that round trip.
func clockFindings(c *Cluster, hosts map[string]*hostTuning) []Finding {
	var out []Finding
	var lo, hi float64
	var loName, hiName string
	first := true
	for _, n := range c.Nodes {
		t := hosts[n.Spec.Name]
		if t == nil {
			continue
		}
		f := Finding{Host: n.Spec.Name, Check: "clock", Verdict: LevelOK}
		if t.Clock == 0 {
			f.Value, f.Verdict, f.Fix = "unknown", LevelWarn, "date +%s.%N printed no time"
			out = append(out, f)
			continue
		}
		mid := float64(t.Before.UnixNano())/1e9 + t.Answer.Sub(t.Before).Seconds()/2
		off := t.Clock - mid
		margin := t.Answer.Sub(t.Before).Seconds() / 2
		f.Value = fmt.Sprintf("%+.3fs from this machine (±%.3fs)", off, margin)
		if math.Abs(off)-margin > maxClockSkew.Seconds() {
			f.Verdict = LevelWarn
			f.Fix = "the clocks differ by more than 1s: run NTP on every host (log times and failover timings are compared across hosts)"
		}
		out = append(out, f)
		if first || off < lo {
			lo, loName = off, n.Spec.Name
		}
		if first || off > hi {
			hi, hiName = off, n.Spec.Name
		}
		first = false
	}
	if !first && len(hosts) > 1 {
		f := Finding{Check: "clock skew between hosts", Value: fmt.Sprintf("%.3fs (%s to %s)", hi-lo, loName, hiName), Verdict: LevelOK}
		var margin float64
		for _, t := range hosts {
			margin = max(margin, t.Answer.Sub(t.Before).Seconds()/2)
		}
		if hi-lo-2*margin > maxClockSkew.Seconds() {
			f.Verdict = LevelWarn
			f.Fix = "run NTP on every host"
		}
		out = append(out, f)
	}
	return out
}

// pathFindings decide, for every host and every other host's redis and
// sentinel port, whether the path is open. "Connection refused" proves the
// path open when nothing listens there yet; while the server runs it means
// something rejects the connection.
func pathFindings(c *Cluster, hosts map[string]*hostTuning) []Finding {
	var out []Finding
	for _, from := range c.Nodes {
		t := hosts[from.Spec.Name]
		if t == nil {
			continue
		}
		for _, tg := range c.targets() {
			if tg.node == from {
				continue
			}
			res := "not probed"
			if t.ProbeDeadline {
				res = "timeout"
			}
			for _, p := range t.Probes {
				if p.Addr == tg.node.Spec.Address && p.Port == tg.port {
					res = p.Result
				}
			}
			to := hosts[tg.node.Spec.Name]
			running := to != nil && (tg.what == "redis" && to.RedisPid > 0 || tg.what == "sentinel" && to.SentinelPid > 0)
			f := Finding{Host: from.Spec.Name + " -> " + tg.node.Spec.Name, Check: fmt.Sprintf("%s port %d", tg.what, tg.port),
				From: from.Spec.Name, To: tg.node.Spec.Name, Port: tg.port, Verdict: LevelOK}
			block := fmt.Sprintf("open TCP port %d on %s (%s) to %s (%s): %s", tg.port, tg.node.Spec.Name, tg.node.Spec.Address, from.Spec.Name, from.Spec.Address, whyPort(tg.what))
			switch {
			case res == "open":
				f.Value = "open"
			case res == "refused" && !running:
				f.Value = "open (refused: nothing listens yet)"
			case res == "refused":
				f.Value, f.Verdict = "refused although "+tg.what+" runs there", LevelFail
				f.Fix = "a firewall rejects it; " + block
			case res == "timeout":
				f.Value, f.Verdict = fmt.Sprintf("blocked (no answer in %ds)", probeTimeout), LevelFail
				f.Fix = "a firewall drops it; " + block
			case strings.HasPrefix(res, "unknown"):
				f.Value, f.Verdict = res, LevelWarn
				f.Fix = "install bash or nc on " + from.Spec.Name + " so the path can be checked"
			default:
				f.Value, f.Verdict = "blocked ("+res+")", LevelFail
				f.Fix = block
			}
			out = append(out, f)
		}
	}
	return out
}

func whyPort(what string) string {
	if what == "sentinel" {
		return "sentinels that cannot reach each other never agree on a failover"
	}
	return "replicas and sentinels must reach every data node"
}

func byteText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// BlockedPaths describes the failed paths for a refusal: "node3 -> node2
// sentinel port 8000: blocked (no answer in 2s)".
func (r *TuningReport) BlockedPaths() []string {
	var out []string
	for _, f := range r.Findings {
		if f.Verdict == LevelFail {
			out = append(out, fmt.Sprintf("%s %s: %s", f.Host, f.Check, f.Value))
		}
	}
	slices.Sort(out)
	return out
}
