package provision

import (
	"context"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote"
)

// Facts is what redisctl found on a host before deciding anything.
type Facts struct {
	OSID, OSVersion, OSLike string
	Arch                    string
	Init                    string // "systemd" or "sysv"
	PkgManager              string // "apt", "dnf", "yum" or ""
	MissingTools            []string
	RedisVersion            string // version of /usr/local/bin/redis-server, "" if none
	RedisEngine             string // its engine: "redis" or "valkey" (from its --version)
	// RDBFormat is the format version of the RDB file in the data
	// directory (its "REDIS0012" header), 0 when there is none.
	RDBFormat int
	// RedisSystemd: that redis-server links libsystemd, i.e. was built with
	// USE_SYSTEMD=yes and can tell systemd it is ready (Type=notify).
	RedisSystemd      bool
	RedisUser         bool   // a "redis" user exists
	RedisPid          int    // live pid from the redis pid file, 0 if not running
	SentinelPid       int    // live pid from the sentinel pid file, 0 if not running
	RedisPortOwner    string // process listening on the redis port ("" if free)
	SentinelPortOwner string // process listening on the sentinel port ("" if free)
	// Manifests are the manifest files in the state directory: one per
	// cluster ("NAME.manifest.json"), or an older redisctl's "manifest.json".
	Manifests []string
	// manifestData is the content of each manifest the script read (as
	// ReadFile reads it: a link refused, dd with O_NOFOLLOW), so loading
	// the manifest needs no second round trip; a manifest it could not
	// read is missing here and read again, which reports why.
	manifestData map[string][]byte
}

// Platform identifies hosts that can share one build of Redis: the same
// OS release and architecture, and the same init system (systemd hosts get
// a build with systemd support for Type=notify units).
//
// The parts come from the host (/etc/os-release, uname -m) and name a
// directory on the control machine, so a host must not be able to choose
// that path: only [A-Za-z0-9._-] is accepted in each part (see
// platformPart), and Platform returns an error otherwise.
func (f *Facts) Platform() (string, error) {
	parts := []struct{ what, v string }{{"os ID", f.OSID}, {"os version", f.OSVersion}, {"architecture", f.Arch}, {"init system", f.Init}}
	var out []string
	for _, p := range parts {
		if p.v == "" && p.what == "os version" {
			p.v = "unversioned" // Debian testing and sid have no VERSION_ID
		}
		if !platformPart(p.v) {
			return "", fmt.Errorf("the host reports %s %q; refusing it as part of a cache path on the control machine (only letters, digits, '.', '_' and '-')", p.what, p.v)
		}
		out = append(out, p.v)
	}
	return strings.Join(out, "-"), nil
}

// platformPart reports whether s is a safe path component: not empty, not
// "." or "..", only [A-Za-z0-9._-].
func platformPart(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// factsScript prints one key=value per line. It only reads.
func factsScript(l inventory.Layout, redisPort, sentinelPort int, rdb string) string {
	return fmt.Sprintf(`
if [ -r /etc/os-release ]; then . /etc/os-release; fi
echo "os_id=${ID:-unknown}"; echo "os_version=${VERSION_ID:-}"; echo "os_like=${ID_LIKE:-}"
echo "arch=$(uname -m)"
if [ -d /run/systemd/system ]; then echo init=systemd; else echo init=sysv; fi
for p in apt-get dnf yum; do if command -v $p >/dev/null 2>&1; then echo "pkg=${p%%-get}"; break; fi; done
for t in gcc make tar pkg-config; do command -v $t >/dev/null 2>&1 || echo "missing_tool=$t"; done
if [ -d /run/systemd/system ] && ! pkg-config --exists libsystemd 2>/dev/null; then echo "missing_tool=libsystemd headers"; fi
if [ -x %[1]s/redis-server ]; then _v=$(%[1]s/redis-server --version); echo "redis_version=$(echo "$_v" | sed -n 's/.* v=\([^ ]*\).*/\1/p')"; echo "redis_engine=$(echo "$_v" | sed -n 's/^\([A-Za-z]*\) server .*/\1/p' | tr A-Z a-z)"
  if ldd %[1]s/redis-server 2>/dev/null | grep -q libsystemd; then echo redis_systemd=yes; fi; fi
if id -u redis >/dev/null 2>&1; then echo redis_user=yes; fi
%[7]s
for svc in redis:%[2]s sentinel:%[3]s; do
  name=${svc%%%%:*}; pf=${svc#*:}
  pid=$(live_pid "$pf" %[1]s/redis-server); if [ -n "$pid" ]; then echo "${name}_pid=$pid"; fi
done
if command -v ss >/dev/null 2>&1; then
  for p in redis:%[4]d sentinel:%[5]d; do
    name=${p%%%%:*}; port=${p#*:}
    owner=$(ss -Hltnp "sport = :$port" 2>/dev/null | sed -n 's/.*users:((\"\([^\"]*\)\",pid=\([0-9]*\).*/\1[\2]/p' | head -n1)
    if [ -z "$owner" ] && [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]; then owner=unknown; fi
    if [ -n "$owner" ]; then echo "${name}_port_owner=$owner"; fi
  done
fi
f=%[8]s; if [ -f "$f" ] && [ ! -L "$f" ]; then echo "rdb_header=$(dd if="$f" iflag=nofollow bs=9 count=1 status=none 2>/dev/null | tr -dc 'A-Z0-9')"; fi
exec 3>&1
for f in %[6]s/*.manifest.json %[6]s/manifest.json; do if [ -f "$f" ] && [ ! -L "$f" ]; then echo "manifest=${f##*/}"
  h=$({ dd if="$f" iflag=nofollow bs=65536 status=none 2>/dev/null || echo "manifest_unread=${f##*/}" >&3; } | od -An -v -tx1 | tr -d ' \n')
  echo "manifest_hex=${f##*/} $h"; fi; done
`, l.BinDir, l.RedisPid, l.SentinelPid, redisPort, sentinelPort, l.StateDir, livePidFunc, remote.Quote(path.Join(l.DataDir, rdb)))
}

// GatherFacts reads a host's facts in one round trip.
func GatherFacts(ctx context.Context, h remote.Host, inv *inventory.Inventory) (*Facts, error) {
	out, err := remote.Output(ctx, h, factsScript(inv.Layout(), inv.Redis.Port, inv.Sentinel.Port, rdbFile(inv)))
	if err != nil {
		return nil, fmt.Errorf("gather facts: %w", err)
	}
	return parseFacts(out), nil
}

func parseFacts(out string) *Facts {
	f := &Facts{Init: "sysv"}
	var unread []string
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		switch k {
		case "os_id":
			f.OSID = v
		case "os_version":
			f.OSVersion = v
		case "os_like":
			f.OSLike = v
		case "arch":
			f.Arch = v
		case "init":
			f.Init = v
		case "pkg":
			f.PkgManager = v
		case "missing_tool":
			f.MissingTools = append(f.MissingTools, v)
		case "redis_systemd":
			f.RedisSystemd = true
		case "redis_version":
			f.RedisVersion = v
		case "redis_engine":
			f.RedisEngine = v
		case "rdb_header":
			if n, err := strconv.Atoi(strings.TrimPrefix(v, "REDIS")); err == nil && strings.HasPrefix(v, "REDIS") {
				f.RDBFormat = n
			}
		case "redis_user":
			f.RedisUser = true
		case "redis_pid":
			f.RedisPid, _ = strconv.Atoi(v)
		case "sentinel_pid":
			f.SentinelPid, _ = strconv.Atoi(v)
		case "redis_port_owner":
			f.RedisPortOwner = v
		case "sentinel_port_owner":
			f.SentinelPortOwner = v
		case "manifest":
			f.Manifests = append(f.Manifests, v)
		case "manifest_hex":
			name, h, _ := strings.Cut(v, " ")
			if data, err := hex.DecodeString(h); err == nil {
				if f.manifestData == nil {
					f.manifestData = map[string][]byte{}
				}
				f.manifestData[name] = data
			}
		case "manifest_unread":
			unread = append(unread, v)
		}
	}
	for _, name := range unread {
		delete(f.manifestData, name)
	}
	return f
}

// portOwnedByUs reports whether the listener on a port is the process in our
// pid file (owner looks like "redis-server[1234]").
func portOwnedByUs(owner string, pid int) bool {
	return owner == "" || (pid > 0 && strings.HasSuffix(owner, "["+strconv.Itoa(pid)+"]"))
}
