package provision

import (
	"context"
	"encoding/base64"
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
	RedisSystemd bool
	// RedisTLS: that redis-server links libssl, i.e. was built with
	// BUILD_TLS=yes and can serve TLS.
	RedisTLS bool
	// SSLHeaders: OpenSSL's headers are there (pkg-config openssl), which
	// a build with BUILD_TLS=yes needs; LibSSL: the OpenSSL library is, which
	// such a build needs to run.
	SSLHeaders, LibSSL bool
	// RedisConfTLS and SentinelConfTLS: the data node's redis.conf, the
	// sentinel's sentinel.conf, has a tls-port line.
	RedisConfTLS, SentinelConfTLS bool
	RedisUser                     bool   // a "redis" user exists
	RedisPid                      int    // live pid from the redis pid file, 0 if not running
	SentinelPid                   int    // live pid from the sentinel pid file, 0 if not running
	RedisPortOwner                string // process listening on the redis port ("" if free)
	SentinelPortOwner             string // process listening on the sentinel port ("" if free)
	PlaintextPortOwner            string // process listening on tls.plaintext_port ("" if free or none)
	// Missing are the directories and log files of the layout that are
	// not there (or are links), as prepareHost would create them; valid
	// when MissingChecked (facts read by this version of the script).
	Missing        []string
	MissingChecked bool
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

// factsScript prints one key=value per line. It only reads, and starts
// as few processes as it can (a no-change up runs it on every host, all
// at once): uname, redis-server --version, id, a readlink per live pid,
// one ss for both ports, a dd and a base64 per file read; which libraries
// the installed redis-server links (libssl: a TLS build; libsystemd) is read
// from the start of the binary, where the ELF dynamic strings are, not from
// all of it (a grep through a build without TLS read all 11 MB); what needs
// parsing is parsed by parseFacts, not by sed in the script.
func factsScript(l inventory.Layout, ports factPorts, rdb string) string {
	return factsScriptWith(l, ports, rdb, false)
}

// factsScriptWith is factsScript; with confsRead, the caller reads the
// configs itself (the lock's round trip reads them beside the facts) and
// adds their tls-port facts (confTLSLines), and the script does not.
func factsScriptWith(l inventory.Layout, ports factPorts, rdb string, confsRead bool) string {
	confTLS := "# tls-port of the configs: read by the caller"
	if !confsRead {
		confTLS = fmt.Sprintf(`for f in %[1]s %[2]s; do if [ -f "$f" ] && [ ! -L "$f" ] && dd if="$f" iflag=nofollow bs=65536 status=none 2>/dev/null | grep -q '^tls-port'; then
  case "$f" in %[1]s) echo redis_conf_tls=yes;; *) echo sentinel_conf_tls=yes;; esac; fi; done`, remote.Quote(l.RedisConf), remote.Quote(l.SentinelConf))
	}
	return fmt.Sprintf(`
if [ -r /etc/os-release ]; then . /etc/os-release; fi
echo "os_id=${ID:-unknown}"; echo "os_version=${VERSION_ID:-}"; echo "os_like=${ID_LIKE:-}"
printf 'arch='; uname -m
_sd=; if [ -d /run/systemd/system ]; then _sd=1; echo init=systemd; else echo init=sysv; fi
for p in apt-get dnf yum; do if command -v $p >/dev/null 2>&1; then echo "pkg=${p%%-get}"; break; fi; done
for t in gcc make tar pkg-config; do command -v $t >/dev/null 2>&1 || echo "missing_tool=$t"; done
if [ -n "$_sd" ] && ! pkg-config --exists libsystemd 2>/dev/null; then echo "missing_tool=libsystemd headers"; fi
if [ -x %[1]s/redis-server ]; then printf 'redis_version_line='; %[1]s/redis-server --version 2>/dev/null; echo
  _libs=$(head -c 1048576 %[1]s/redis-server 2>/dev/null | grep -a -o -E 'lib(ssl|systemd)\.so' 2>/dev/null)
  case "$_libs" in *libsystemd.so*) [ -n "$_sd" ] && echo redis_systemd=yes;; esac
  case "$_libs" in *libssl.so*) echo redis_tls=yes;; esac; fi
if [ -e /usr/include/openssl/ssl.h ]; then echo ssl_headers=yes; fi
%[10]s
for f in /lib/*/libssl.so.* /usr/lib/*/libssl.so.* /lib64/libssl.so.* /usr/lib64/libssl.so.* /usr/lib/libssl.so.*; do if [ -e "$f" ]; then echo libssl=yes; break; fi; done
if id -u redis >/dev/null 2>&1; then echo redis_user=yes; fi
%[6]s
printf 'redis_pid='; live_pid %[2]s %[1]s/redis-server; echo
printf 'sentinel_pid='; live_pid %[3]s %[1]s/redis-server; echo
if command -v ss >/dev/null 2>&1; then
  echo listen_begin; ss -Hltnp '( %[4]s )' 2>/dev/null; echo listen_end
fi
f=%[7]s; if [ -f "$f" ] && [ ! -L "$f" ]; then printf 'rdb_b64='; dd if="$f" iflag=nofollow bs=9 count=1 status=none 2>/dev/null | base64 -w0; echo; fi
for f in %[5]s/*.manifest.json %[5]s/manifest.json; do if [ -f "$f" ] && [ ! -L "$f" ]; then echo "manifest=${f##*/}"
  printf 'manifest_b64=%%s ' "${f##*/}"; dd if="$f" iflag=nofollow bs=65536 status=none 2>/dev/null | base64 -w0; echo; fi; done
for d in %[8]s; do [ -d "$d" ] && [ ! -L "$d" ] || echo "missing=$d"; done
for f in %[9]s; do [ -e "$f" ] && [ ! -L "$f" ] || echo "missing=$f"; done
echo missing_checked=yes
`, l.BinDir, l.RedisPid, l.SentinelPid, ports.filter(), l.StateDir, LivePidFunc, remote.Quote(path.Join(l.DataDir, rdb)),
		quoteAll(l.ConfDir, path.Dir(l.DataDir), l.DataDir, l.SentinelDir, l.TLSDir), quoteAll(l.RedisLog, l.SentinelLog), confTLS)
}

// confTLSLines are the lines factsScript prints for the configs' tls-port
// lines, from the configs' content (nil: the file is not there).
func confTLSLines(redisConf, sentinelConf []byte) string {
	var b strings.Builder
	for _, f := range []struct {
		data []byte
		key  string
	}{{redisConf, "redis_conf_tls"}, {sentinelConf, "sentinel_conf_tls"}} {
		for _, line := range strings.Split(string(f.data), "\n") {
			if strings.HasPrefix(line, "tls-port") {
				b.WriteString(f.key + "=yes\n")
				break
			}
		}
	}
	return b.String()
}

func quoteAll(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = remote.Quote(w)
	}
	return strings.Join(q, " ")
}

// GatherFacts reads a host's facts in one round trip.
func GatherFacts(ctx context.Context, h remote.Host, inv *inventory.Inventory) (*Facts, error) {
	out, err := remote.Output(ctx, h, factsScript(inv.Layout(), portsOf(inv), rdbFile(inv)))
	if err != nil {
		return nil, fmt.Errorf("gather facts: %w", err)
	}
	return parseFacts(out, portsOf(inv)), nil
}

// factPorts are the ports whose listeners the facts name.
type factPorts struct {
	redis, sentinel int
	plaintext       int // tls.plaintext_port, 0 for none
}

func portsOf(inv *inventory.Inventory) factPorts {
	return factPorts{inv.Redis.Port, inv.Sentinel.Port, inv.TLS.DataPlaintextPort()}
}

// filter is the ss filter for the listeners on the ports.
func (p factPorts) filter() string {
	f := fmt.Sprintf("sport = :%d or sport = :%d", p.redis, p.sentinel)
	if p.plaintext != 0 {
		f += fmt.Sprintf(" or sport = :%d", p.plaintext)
	}
	return f
}

func parseFacts(out string, ports factPorts) *Facts {
	f := &Facts{Init: "sysv"}
	var listen []string
	inListen := false
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "listen_begin":
			inListen = true
			continue
		case line == "listen_end":
			inListen = false
			continue
		case inListen:
			listen = append(listen, line)
			continue
		}
		k, v, ok := strings.Cut(line, "=")
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
		case "redis_tls":
			f.RedisTLS = true
		case "redis_conf_tls":
			f.RedisConfTLS = true
		case "sentinel_conf_tls":
			f.SentinelConfTLS = true
		case "ssl_headers":
			f.SSLHeaders = true
		case "libssl":
			f.LibSSL = true
		case "redis_version_line":
			f.RedisVersion, f.RedisEngine = parseServerVersion(v)
		case "rdb_b64":
			f.RDBFormat = rdbFormatOf(decodeB64(v))
		case "redis_user":
			f.RedisUser = true
		case "redis_pid":
			f.RedisPid, _ = strconv.Atoi(v)
		case "sentinel_pid":
			f.SentinelPid, _ = strconv.Atoi(v)
		case "manifest":
			f.Manifests = append(f.Manifests, v)
		case "missing":
			f.Missing = append(f.Missing, v)
		case "missing_checked":
			f.MissingChecked = true
		case "manifest_b64":
			// A manifest dd could not read (a link swapped in, say) comes
			// out empty, as no manifest ever is: it is left out, and read
			// again, which reports why.
			name, b64, _ := strings.Cut(v, " ")
			if data := decodeB64(b64); len(data) > 0 {
				if f.manifestData == nil {
					f.manifestData = map[string][]byte{}
				}
				f.manifestData[name] = data
			}
		}
	}
	f.RedisPortOwner = portOwner(listen, ports.redis)
	f.SentinelPortOwner = portOwner(listen, ports.sentinel)
	if ports.plaintext != 0 {
		f.PlaintextPortOwner = portOwner(listen, ports.plaintext)
	}
	return f
}

func decodeB64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil
	}
	return b
}

// parseServerVersion reads redis-server --version ("Redis server v=7.0.15
// sha=... malloc=..." or "Valkey server v=8.1.1 ..."): the version and the
// engine in lower case.
func parseServerVersion(line string) (version, engine string) {
	fields := strings.Fields(line)
	if len(fields) >= 2 && fields[1] == "server" {
		engine = strings.ToLower(fields[0])
	}
	for _, fl := range fields {
		if v, ok := strings.CutPrefix(fl, "v="); ok {
			version = v
			break
		}
	}
	return version, engine
}

// rdbFormatOf is the format version in an RDB file's header ("REDIS0012"),
// 0 when it is not one.
func rdbFormatOf(header []byte) int {
	h := string(header)
	digits, ok := strings.CutPrefix(h, "REDIS")
	if !ok || len(digits) != 4 {
		return 0
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// portOwner reads ss -Hltnp lines for the listener on port: "name[pid]"
// of the first line that names its process, "unknown" when a listener
// shows no process, "" when nothing listens.
func portOwner(lines []string, port int) string {
	suffix := ":" + strconv.Itoa(port)
	owner := ""
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasSuffix(f[3], suffix) {
			continue
		}
		if _, users, ok := strings.Cut(line, `users:(("`); ok {
			name, rest, _ := strings.Cut(users, `"`)
			if pid, _, ok := strings.Cut(strings.TrimPrefix(rest, ",pid="), ","); ok && strings.HasPrefix(rest, ",pid=") {
				return name + "[" + pid + "]"
			}
		}
		owner = "unknown"
	}
	return owner
}

// PortOwnedByUs reports whether the listener on a port is the process in our
// pid file (owner looks like "redis-server[1234]").
func PortOwnedByUs(owner string, pid int) bool {
	return owner == "" || (pid > 0 && strings.HasSuffix(owner, "["+strconv.Itoa(pid)+"]"))
}
