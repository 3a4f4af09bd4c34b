package provision

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseFacts(t *testing.T) {
	out := `os_id=rocky
os_version=9.3
os_like=rhel centos fedora
arch=aarch64
init=systemd
pkg=dnf
missing_tool=gcc
missing_tool=make
redis_version_line=Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=6b5a7a3ad1c6e9ee
redis_systemd=yes
redis_user=yes
redis_pid=4100
sentinel_pid=4200
listen_begin
LISTEN 0      511          0.0.0.0:17000      0.0.0.0:*    users:(("nginx",pid=99,fd=6))
LISTEN 0      511          0.0.0.0:7000       0.0.0.0:*    users:(("redis-server",pid=4100,fd=6))
LISTEN 0      511             [::]:7000          [::]:*    users:(("redis-server",pid=4100,fd=7))
LISTEN 0      511          0.0.0.0:8000       0.0.0.0:*    users:(("redis-sentinel",pid=4200,fd=6))
listen_end
manifest=mymaster.manifest.json
manifest=other.manifest.json
  a line the script does not print
future_key=ignored
`
	want := &Facts{
		OSID: "rocky", OSVersion: "9.3", OSLike: "rhel centos fedora", Arch: "aarch64",
		Init: "systemd", PkgManager: "dnf", MissingTools: []string{"gcc", "make"},
		RedisVersion: "7.0.15", RedisEngine: "redis", RedisSystemd: true, RedisUser: true, RedisPid: 4100, SentinelPid: 4200,
		RedisPortOwner: "redis-server[4100]", SentinelPortOwner: "redis-sentinel[4200]", Manifests: []string{"mymaster.manifest.json", "other.manifest.json"},
	}
	got := parseFacts(out, factPorts{redis: 7000, sentinel: 8000})
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseFacts:\n got %+v\nwant %+v", got, want)
	}
	if p, err := got.Platform(); p != "rocky-9.3-aarch64-systemd" || err != nil {
		t.Errorf("Platform() = %q, %v", p, err)
	}
	// The parts name a directory on the control machine: a host cannot
	// choose that path.
	for _, bad := range []*Facts{
		{OSID: "../../etc", OSVersion: "12", Arch: "x86_64", Init: "sysv"},
		{OSID: "debian", OSVersion: "12/../../x", Arch: "x86_64", Init: "sysv"},
		{OSID: "debian", OSVersion: "12", Arch: "..", Init: "sysv"},
		{OSID: "debian", OSVersion: "12", Arch: "x86 64", Init: "sysv"},
		{OSID: "", OSVersion: "12", Arch: "x86_64", Init: "sysv"},
	} {
		if p, err := bad.Platform(); err == nil {
			t.Errorf("Platform(%+v) = %q, want an error", bad, p)
		}
	}
	if p, err := (&Facts{OSID: "debian", Arch: "x86_64", Init: "sysv"}).Platform(); p != "debian-unversioned-x86_64-sysv" || err != nil {
		t.Errorf("Platform() without a version = %q, %v", p, err)
	}

	// A bare host: nothing found means nothing installed or running, and
	// SysV unless systemd was seen.
	if got := parseFacts("os_id=debian\nos_version=\r\narch=x86_64\n", factPorts{redis: 7000, sentinel: 8000}); !reflect.DeepEqual(got, &Facts{OSID: "debian", Arch: "x86_64", Init: "sysv"}) {
		t.Errorf("bare host: %+v", got)
	}
}

func TestParseFactsParts(t *testing.T) {
	for _, tc := range []struct{ line, version, engine string }{
		{"Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=6b5a7a3ad1c6e9ee", "7.0.15", "redis"},
		{"Valkey server v=8.1.1 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=1", "8.1.1", "valkey"},
		{"", "", ""},
		{"garbage", "", ""},
	} {
		if v, e := parseServerVersion(tc.line); v != tc.version || e != tc.engine {
			t.Errorf("parseServerVersion(%q) = %q, %q; want %q, %q", tc.line, v, e, tc.version, tc.engine)
		}
	}
	for h, want := range map[string]int{"REDIS0012": 12, "REDIS0011": 11, "REDIS001": 0, "REDIX0012": 0, "REDIS00a2": 0, "": 0} {
		if got := rdbFormatOf([]byte(h)); got != want {
			t.Errorf("rdbFormatOf(%q) = %d, want %d", h, got, want)
		}
	}
	lines := []string{
		"LISTEN 0 511 0.0.0.0:7000 0.0.0.0:*",
		"LISTEN 0 511 127.0.0.1:8000 0.0.0.0:* users:((\"nginx\",pid=42,fd=3),(\"nginx\",pid=43,fd=3))",
	}
	for port, want := range map[int]string{7000: "unknown", 8000: "nginx[42]", 9000: ""} {
		if got := portOwner(lines, port); got != want {
			t.Errorf("portOwner(%d) = %q, want %q", port, got, want)
		}
	}
}

// prepare takes what is missing from the facts when the script checked it:
// the user, then the directories and logs of the node's servers only.
func TestMissingFromFacts(t *testing.T) {
	inv := testInventory(t)
	c := &Cluster{Inv: inv, Layout: inv.Layout()}
	l := c.Layout
	f := parseFacts("missing="+l.DataDir+"\nmissing="+l.SentinelDir+"\nmissing="+l.SentinelLog+"\nmissing="+l.RedisLog+"\nmissing_checked=yes\n", factPorts{redis: 7000, sentinel: 8000})
	spec := inv.Hosts[1]
	n := &Node{Spec: &spec, Facts: f}
	spec.Sentinel = false
	got, err := c.MissingOnHost(context.Background(), n)
	if want := []string{"the redis user", l.DataDir, l.RedisLog}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("without a sentinel: %q, %v; want %q", got, err, want)
	}
	spec.Sentinel = true
	f.RedisUser = true
	got, _ = c.MissingOnHost(context.Background(), n)
	if want := []string{l.DataDir, l.SentinelDir, l.RedisLog, l.SentinelLog}; !reflect.DeepEqual(got, want) {
		t.Errorf("with a sentinel: %q; want %q", got, want)
	}
}

func TestPortOwnedByUs(t *testing.T) {
	for _, tc := range []struct {
		owner string
		pid   int
		want  bool
	}{
		{"", 0, true},                      // free
		{"redis-server[4100]", 4100, true}, // our pid file's process
		{"redis-server[4100]", 0, false},   // a redis we did not start
		{"nginx[4242]", 0, false},
		{"nginx[4242]", 4100, false},
		{"redis-server[14100]", 4100, false},
		{"unknown", 4100, false},
	} {
		if got := PortOwnedByUs(tc.owner, tc.pid); got != tc.want {
			t.Errorf("portOwnedByUs(%q, %d) = %v, want %v", tc.owner, tc.pid, got, tc.want)
		}
	}
}

// The facts script is shell built with Sprintf: run it here, read-only as
// it is, with the redis port on a listener of this process, and check that
// it parses and finds that listener's owner.
func TestFactsScriptRunsLocally(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	inv := testInventory(t)
	script := factsScript(inv.Layout(), factPorts{redis: 7000, sentinel: 8000}, "dump.rdb")
	if out, err := exec.Command(sh, "-n", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("sh -n: %v\n%s", err, out)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	// Nobody listens on port 1; the listener is also the plaintext port.
	ports := factPorts{redis: port, sentinel: 1, plaintext: port}
	script = factsScript(inv.Layout(), ports, "dump.rdb")
	cmd := exec.CommandContext(context.Background(), sh, "-c", script)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("facts script: %v\n%s", err, out)
	}
	f := parseFacts(string(out), ports)
	if f.OSID == "" || f.Arch == "" || (f.Init != "sysv" && f.Init != "systemd") {
		t.Errorf("facts from this machine: %+v\n%s", f, out)
	}
	if f.SentinelPortOwner != "" {
		t.Errorf("port 1 has an owner: %q", f.SentinelPortOwner)
	}
	if !f.MissingChecked {
		t.Errorf("the script did not finish its check of the layout's paths:\n%s", out)
	}
	if _, err := exec.LookPath("ss"); err != nil {
		t.Logf("no ss: port owners not checked")
		return
	}
	if want := fmt.Sprintf("[%d]", os.Getpid()); !strings.HasSuffix(f.RedisPortOwner, want) || strings.HasPrefix(f.RedisPortOwner, "[") {
		t.Errorf("owner of port %d = %q, want name%s\n%s", port, f.RedisPortOwner, want, out)
	}
	if f.PlaintextPortOwner != f.RedisPortOwner {
		t.Errorf("owner of the plaintext port %d = %q, want %q", port, f.PlaintextPortOwner, f.RedisPortOwner)
	}
}

// The facts script reads the manifests it lists, so loading the manifest
// costs no second round trip; a link is neither listed nor read.
func TestFactsScriptReadsManifests(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	l := testInventory(t).Layout()
	l.StateDir = t.TempDir()
	own := []byte("{\"version\":2,\"cluster\":\"mymaster\",\n\"created\":[\"/etc/redis/redis_7000.conf\"]}\n")
	if err := os.WriteFile(filepath.Join(l.StateDir, "mymaster.manifest.json"), own, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.StateDir, "empty.manifest.json"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(l.StateDir, "link.manifest.json")); err != nil {
		t.Fatal(err)
	}
	l.DataDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(l.DataDir, "dump.rdb"), []byte("REDIS0012\xfa\x09redis-ver"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(l.DataDir, "link.rdb")); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sh, "-c", factsScript(l, factPorts{redis: 1, sentinel: 1}, "dump.rdb")).Output()
	if err != nil {
		t.Fatalf("facts script: %v\n%s", err, out)
	}
	f := parseFacts(string(out), factPorts{redis: 1, sentinel: 1})
	if f.RDBFormat != 12 {
		t.Errorf("RDB format %d, want 12 (from the header REDIS0012)", f.RDBFormat)
	}
	if out, err := exec.Command(sh, "-c", factsScript(l, factPorts{redis: 1, sentinel: 1}, "link.rdb")).Output(); err != nil || parseFacts(string(out), factPorts{redis: 1, sentinel: 1}).RDBFormat != 0 {
		t.Errorf("an RDB file that is a link was read: %v", err)
	}
	if want := []string{"empty.manifest.json", "mymaster.manifest.json"}; !reflect.DeepEqual(f.Manifests, want) {
		t.Errorf("manifests %q, want %q", f.Manifests, want)
	}
	if got := f.manifestData["mymaster.manifest.json"]; !bytes.Equal(got, own) {
		t.Errorf("manifest read as %q, want %q", got, own)
	}
	// An empty one looks like one dd could not read: left to ReadFile.
	if got, ok := f.manifestData["empty.manifest.json"]; ok {
		t.Errorf("empty manifest kept: %q", got)
	}
	if _, ok := f.manifestData["link.manifest.json"]; ok {
		t.Error("a link was read")
	}
	// One the script could not read is left to ReadFile.
	f = parseFacts("manifest=a.manifest.json\nmanifest_b64=a.manifest.json \nmanifest=b.manifest.json\nmanifest_b64=b.manifest.json not*base64\n", factPorts{redis: 1, sentinel: 1})
	if len(f.manifestData) != 0 {
		t.Errorf("a manifest the script could not read was kept: %q", f.manifestData)
	}
}

// The facts say whether each config has a tls-port line. The configs live
// in a directory the redis user can write, so a config that is a link is
// not read (root would otherwise read the link's target).
func TestFactsScriptConfigTLS(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	l := testInventory(t).Layout()
	l.StateDir, l.DataDir = t.TempDir(), t.TempDir()
	dir := t.TempDir()
	l.RedisConf, l.SentinelConf = filepath.Join(dir, "redis_7000.conf"), filepath.Join(dir, "sentinel_8000.conf")
	target := filepath.Join(t.TempDir(), "target.conf")
	if err := os.WriteFile(target, []byte("tls-port 8000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	facts := func() *Facts {
		t.Helper()
		out, err := exec.Command(sh, "-c", factsScript(l, factPorts{redis: 1, sentinel: 1}, "dump.rdb")).Output()
		if err != nil {
			t.Fatalf("facts script: %v\n%s", err, out)
		}
		return parseFacts(string(out), factPorts{redis: 1, sentinel: 1})
	}
	if err := os.WriteFile(l.RedisConf, []byte("port 0\ntls-port 7000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, l.SentinelConf); err != nil {
		t.Fatal(err)
	}
	if f := facts(); !f.RedisConfTLS || f.SentinelConfTLS {
		t.Errorf("redis conf TLS %v (want true), sentinel conf (a link) TLS %v (want false)", f.RedisConfTLS, f.SentinelConfTLS)
	}
	if err := os.Remove(l.SentinelConf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.SentinelConf, []byte("port 8000\n# tls-port 8000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.RedisConf, []byte("port 7000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if f := facts(); f.RedisConfTLS || f.SentinelConfTLS {
		t.Errorf("plaintext configs read as TLS: redis %v, sentinel %v", f.RedisConfTLS, f.SentinelConfTLS)
	}
}

// Which libraries the installed redis-server links is read from the start
// of the binary (where an ELF file's dynamic strings are): a build that
// names libssl there is a TLS build, one that does not is not.
func TestFactsScriptBinaryLibraries(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, c := range []struct {
		name, tail string
		tls        bool
	}{
		{"TLS build", "# NEEDED libssl.so.3 libcrypto.so.3\n", true},
		{"plain build", "# NEEDED libm.so.6 libc.so.6\n", false},
		{"libssl named only past the first MiB", "#" + strings.Repeat("x", 1<<20) + "\n# libssl.so.3\n", false},
	} {
		l := testInventory(t).Layout()
		l.StateDir, l.DataDir, l.BinDir = t.TempDir(), t.TempDir(), t.TempDir()
		bin := "#!/bin/sh\necho 'Redis server v=7.0.15 sha=00000000:0 malloc=libc bits=64 build=1'\nexit 0\n" + c.tail
		if err := os.WriteFile(filepath.Join(l.BinDir, "redis-server"), []byte(bin), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(sh, "-c", factsScript(l, factPorts{redis: 1, sentinel: 1}, "dump.rdb")).Output()
		if err != nil {
			t.Fatalf("%s: facts script: %v\n%s", c.name, err, out)
		}
		f := parseFacts(string(out), factPorts{redis: 1, sentinel: 1})
		if f.RedisVersion != "7.0.15" || f.RedisTLS != c.tls {
			t.Errorf("%s: version %q, TLS %v; want 7.0.15, %v\n%s", c.name, f.RedisVersion, f.RedisTLS, c.tls, out)
		}
	}
}
