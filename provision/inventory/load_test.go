package inventory

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const (
	testdata = "../../testdata/inventories/"
	// Passwords written in the bad inventories and given through the
	// environment; no message may contain them.
	filePassword = "hunter2-do-not-print"
	envPassword  = "env-secret-do-not-print"
)

// testEnv is the environment the tests parse with: a fixed HOME and a
// REDIS_PASSWORD, plus extra.
func testEnv(extra map[string]string) func(string) (string, bool) {
	vars := map[string]string{"HOME": "/home/op", "REDIS_PASSWORD": envPassword}
	for k, v := range extra {
		vars[k] = v
	}
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

// parseFile parses an inventory file under testdata with env.
func parseFile(t *testing.T, name string, env func(string) (string, bool)) (*Inventory, []Warning, error) {
	t.Helper()
	file := testdata + name
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return Parse(file, data, env)
}

// problems returns the problems of err, without the file name, one string
// each: "LINE:COL: field: message".
func problems(t *testing.T, file string, err error) []string {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a *ValidationError, got %T: %v", err, err)
	}
	var got []string
	for _, p := range ve.Problems {
		if p.File != testdata+file {
			t.Errorf("problem names file %q, want %q", p.File, testdata+file)
		}
		got = append(got, strings.TrimPrefix(p.String(), testdata+file+":"))
	}
	return got
}

// unbalanced is the message for a redis.config value Redis would not load.
const unbalanced = `unbalanced quotes: Redis would not start (a quoted argument must end with its quote, ` +
	`then a space or the end of the value; write a literal quote as \" inside double quotes)`

// badCases holds each bad inventory and its exact problems. Host indexes
// count from 0.
var badCases = []struct {
	name string
	env  map[string]string // added to testEnv
	want []string
}{
	{name: "unknown-key", want: []string{`6:3: redis: unknown key "prot" (did you mean "port"?)`}},
	{name: "unknown-key-list", want: []string{`2:1: unknown key "flavour" (want one of name, redis, sentinel, ssh, tls, hosts)`}},
	{name: "unknown-host-ssh-key", want: []string{`8:61: hosts[1].ssh: unknown key "jump" (a host can only override user, port and identity_file; set jump under the top-level ssh)`}},
	{name: "repeated-key", want: []string{`7:3: redis.port: repeated key (first set on line 6)`}},
	{name: "port-not-number", want: []string{`6:9: redis.port: "seven" is not a whole number (want a port, 1 to 65535)`}},
	{name: "port-quoted", want: []string{`3:9: sentinel.port: "8000" is a string, not a number (remove the quotes)`}},
	{name: "hosts-not-list", want: []string{`6:8: hosts: want a list of hosts, not a string`}},
	{name: "redis-not-mapping", want: []string{`2:8: redis: want a mapping with engine, version, source, sha256, port, password, password_file, config, users and default_user, not a string`}},
	{name: "not-mapping", want: []string{`2:1: want a mapping with name, redis, sentinel, ssh, tls and hosts, not a list`}},
	{name: "sentinel-not-bool", want: []string{`8:65: hosts[1].sentinel: "maybe" is not true or false`}},
	{name: "version-number", want: []string{`3:12: redis.version: 7.0 is a number to YAML (quote it: version: "7.0")`}},
	{name: "version-missing", want: []string{`2:1: redis.version: missing (want the Redis version, quoted, e.g. version: "7.0.15")`}},
	{name: "version-bad", want: []string{`3:12: redis.version: "latest" is not a Redis version (want e.g. "7.0.15")`}},
	{name: "no-master", want: []string{`6:1: hosts: no host has role: master (want exactly one)`}},
	{name: "two-masters", want: []string{`8:46: hosts[1].role: a second master (hosts[0] is the master already; want exactly one)`}},
	{name: "no-replica", want: []string{
		`6:1: hosts: no host has role: replica (want at least one)`,
		`6:1: hosts: the default quorum 2 is more than the 1 sentinel (want at most 1)`,
	}},
	{name: "bad-role", want: []string{`8:46: hosts[1].role: "primary" is not a role (want master, replica or slave)`}},
	{name: "role-typo", want: []string{`8:46: hosts[1].role: "Replica" is not a role (want master, replica or slave; did you mean replica?)`}},
	{name: "role-missing", want: []string{`7:5: hosts[0].role: missing (want master, replica or slave)`}},
	{name: "duplicate-name", want: []string{`9:12: hosts[2].name: "redis-1" is also the name of hosts[0] (want a different name)`}},
	{name: "duplicate-address", want: []string{`9:30: hosts[2].address: "10.0.0.1" is also the address of hosts[0] (want one host per address)`}},
	{name: "port-range", want: []string{
		`3:9: sentinel.port: 0 is out of range (want a port, 1 to 65535)`,
		`8:9: redis.port: 70000 is out of range (want a port, 1 to 65535)`,
	}},
	{name: "same-ports", want: []string{`3:9: sentinel.port: 7000 is also redis.port (want two different ports)`}},
	{name: "quorum-zero", want: []string{`3:11: sentinel.quorum: 0 is too small (want a number of sentinels, at least 1)`}},
	{name: "quorum-too-high", want: []string{`3:11: sentinel.quorum: 4 is more than the 3 sentinels (want at most 3)`}},
	{name: "no-sentinel", want: []string{`6:1: hosts: no host runs a sentinel (want at least 3; sentinel: false skips one)`}},
	{name: "bad-name", want: []string{`2:7: name: "my master" is not a valid name (want letters, digits, '.', '-' and '_' only)`}},
	{name: "bad-host-name", want: []string{`8:12: hosts[1].name: "redis 2" is not a valid host name (want letters, digits, '.', '-' and '_' only)`}},
	{name: "password-control", want: []string{`6:13: redis.password: the password (from the inventory) contains a newline; redis.conf cannot hold control characters`}},
	{name: "password-block", want: []string{`6:13: redis.password: the password (from the inventory) contains a newline; redis.conf cannot hold control characters (a | or > block keeps its last newline: use |- or write it on one line)`}},
	{
		name: "password-env-control",
		env:  map[string]string{"REDIS_PASSWORD": envPassword + "\t"},
		want: []string{`6:13: redis.password: the password (from the environment variable REDIS_PASSWORD) contains a tab; redis.conf cannot hold control characters`},
	},
	{name: "unset-var", want: []string{`6:13: redis.password: environment variable NO_SUCH_VARIABLE is not set (export it, or leave password out to have up generate one)`}},
	{
		name: "unset-var",
		env:  map[string]string{"NO_SUCH_VARIABLE": ""},
		want: []string{`6:13: redis.password: environment variable NO_SUCH_VARIABLE is empty (set it, or leave password out to have up generate one)`},
	},
	{name: "partial-var", want: []string{`6:13: redis.password: a ${NAME} reference must be the whole value, with NAME of letters, digits and _ (e.g. password: ${REDIS_PASSWORD})`}},
	{name: "url-without-sha256", want: []string{`4:11: redis.sha256: missing; a URL source needs its sha256 (Redis publishes them at https://github.com/redis/redis-hashes)`}},
	{name: "bad-sha256", want: []string{`5:11: redis.sha256: "98066f53" is not a sha256 (want 64 hex digits, as sha256sum prints)`}},
	{name: "bad-url", want: []string{`4:11: redis.source: "ftp://download.redis.io/releases/redis-7.0.15.tar.gz" is not a source redisctl can fetch (want an https:// or http:// URL, or a local path)`}},
	{name: "source-missing", want: []string{`2:1: redis.source: missing (want a URL such as https://download.redis.io/releases/redis-7.0.15.tar.gz with its sha256, or the path of a local tarball)`}},
	{name: "missing-source-file", want: []string{`4:11: redis.source: no such file: ` + testdata + `bad/no-such-redis.tar.gz (relative paths are relative to the inventory's directory)`}},
	{name: "source-sha256-mismatch", want: []string{`5:11: redis.sha256: does not match ` + testdata + `fake-redis.tar.gz, whose sha256 is 77832cdb5428ce707516e696b659824b125280fbc1177c69e6291f19fa3f20fd`}},
	{name: "empty-hosts", want: []string{`6:8: hosts: no hosts (want one master and at least one replica)`}},
	{name: "hosts-missing", want: []string{`2:1: hosts: missing (want a list of hosts: one master and at least one replica)`}},
	{name: "redis-missing", want: []string{`2:1: redis: missing (want at least version and source)`}},
	{name: "missing-address", want: []string{`8:5: hosts[1].address: missing (want the IP address or DNS name the other nodes reach this host at)`}},
	{name: "bad-address", want: []string{`8:30: hosts[1].address: "10.0.0.2:7000" is not an IP address or DNS name (want e.g. 10.0.0.5, without a port)`}},
	{name: "sentinel-timings", want: []string{
		`3:18: sentinel.down_after_ms: 0 is too small (want a number of milliseconds, at least 1)`,
		`4:19: sentinel.parallel_syncs: -1 is too small (want a number of replicas, at least 1)`,
		`5:24: sentinel.failover_timeout_ms: 0 is too small (want a number of milliseconds, at least 1)`,
	}},
	{name: "empty", want: []string{`1:1: the file is empty (want an inventory; see inventory.example.yaml)`}},
	{name: "syntax", want: []string{`6: YAML syntax: did not find expected ',' or '}'`}},
	{name: "two-documents", want: []string{`10:1: a second YAML document (want one inventory per file; remove the ---)`}},
	{name: "managed-directive", want: []string{
		`8:5: redis.config.requirepass: managed by redisctl (set redis.password instead)`,
		`9:5: redis.config.replicaof: managed by redisctl (set the hosts' roles instead)`,
	}},
	{name: "directive-render-refuses", want: []string{
		`7:11: redis.config.save: ` + unbalanced,
		`8:29: redis.config.notify-keyspace-events: ` + unbalanced,
		`9:16: redis.config.maxmemory: needs a value (for an empty argument write '""')`,
		`10:5: redis.config.9lives: "9lives" is not a redis.conf directive name (want lower-case letters, digits and '-', starting with a letter)`,
	}},
	{name: "directive-rendered", want: []string{
		`8:5: redis.config.protected-mode: managed by redisctl (it is always yes)`,
		`9:5: redis.config.repl-timeout: managed by redisctl (it is 60 seconds, as in the manual procedure)`,
		`10:5: redis.config.repl-ping-slave-period: managed by redisctl (it is 10 seconds, as in the manual procedure)`,
		`11:5: redis.config.primaryauth: managed by redisctl (set redis.password instead)`,
		`12:5: redis.config.aclfile: not allowed: set redis.users (and redis.default_user) instead: redisctl writes the ACL file with the users Sentinel, replicas and redisctl need`,
		`13:5: redis.config.sentinel: managed by redisctl (set the sentinel section instead; redis-server refuses sentinel lines)`,
	}},
	{name: "directive-guarantees", want: []string{
		`8:5: redis.config.user: not allowed: set redis.users (and redis.default_user) instead: redisctl writes the ACL file with the users Sentinel, replicas and redisctl need`,
		`9:5: redis.config.masteruser: not allowed: replicas log in as redisctl's replication user when redis.users or redis.default_user is set, else as the default user`,
		`10:5: redis.config.rename-command: not allowed: Sentinel, replicas and redisctl need the commands under their own names`,
		`11:5: redis.config.replica-announce-ip: not allowed: every replica would announce that address; Sentinel and redisctl know each node by its hosts[].address`,
		`12:5: redis.config.slave-announce-port: not allowed: every replica would announce that port; Sentinel and redisctl reach each node at redis.port`,
		`13:5: redis.config.replica-read-only: not allowed: replicas must refuse writes, and redisctl checks that they do; a write to a replica is lost at its next sync`,
		`14:5: redis.config.replica-priority: not allowed: it applies to every host alike: 0 would forbid every failover, and any other value changes nothing`,
		`15:5: redis.config.cluster-enabled: not allowed: redisctl sets up Sentinel, not Redis Cluster, whose nodes refuse replicaof`,
	}},
	{name: "address-not-canonical", want: []string{
		`8:30: hosts[1].address: "0:0::1" is not in canonical form (write ::1, as Redis and Sentinel print it)`,
		`8:30: hosts[1].address: "0:0::1" is also the address of hosts[0] (want one host per address)`,
		`9:30: hosts[2].address: "FD00::3" is not in canonical form (write fd00::3, as Redis and Sentinel print it)`,
		`10:30: hosts[3].address: "::ffff:10.0.0.4" is an IPv4 address written as IPv6 (write 10.0.0.4)`,
		`11:30: hosts[4].address: "10.0.0.010" is neither an IPv4 address in the usual form (four numbers 0 to 255 without leading zeros, e.g. 10.0.0.5) nor a DNS name`,
		`12:30: hosts[5].address: "10.6" is neither an IPv4 address in the usual form (four numbers 0 to 255 without leading zeros, e.g. 10.0.0.5) nor a DNS name`,
		`13:30: hosts[6].address: "fd00:0:0:0:0:0:0:7" is not in canonical form (write fd00::7, as Redis and Sentinel print it)`,
	}},
	{name: "directive-name", want: []string{`7:5: redis.config.MaxMemory: "MaxMemory" is not a redis.conf directive name (want lower-case letters, digits and '-', e.g. maxmemory)`}},
	{name: "directive-value", want: []string{
		`7:11: redis.config.save: want a single value as redis.conf takes it, not a list`,
		`8:17: redis.config.appendonly: true is not a redis.conf value (write yes or no)`,
		`9:5: redis.config.maxmemory: needs a value (for an empty argument write '""')`,
	}},
	{name: "bad-user", want: []string{`3:9: ssh.user: "deploy@bastion" is not a user name (want a login name without spaces, '@' or ':')`}},
	{name: "bad-jump", want: []string{`3:9: ssh.jump: "bastion:99999" is not a jump host (want [user@]host[:port], e.g. deploy@bastion.example.com:22)`}},
	{name: "bad-ssh-port", want: []string{`8:67: hosts[1].ssh.port: 65536 is out of range (want a port, 1 to 65535)`}},
	{name: "tilde-user", want: []string{`3:18: ssh.identity_file: "~deploy/.ssh/id_ed25519": only ~ and ~/ are expanded (write the full path)`}},
	{name: "several", want: []string{
		`2:7: name: "my/master" is not a valid name (want letters, digits, '.', '-' and '_' only)`,
		`4:12: redis.version: 7.0 is a number to YAML (quote it: version: "7.0")`,
		`5:11: redis.sha256: missing; a URL source needs its sha256 (Redis publishes them at https://github.com/redis/redis-hashes)`,
		`6:13: redis.password: the password (from the inventory) contains a carriage return; redis.conf cannot hold control characters`,
		`7:9: redis.port: 8000 is also sentinel.port (want two different ports)`,
		`9:11: sentinel.quorum: 5 is more than the 2 sentinels (want at most 2)`,
		`10:3: sentinel: unknown key "paralel_syncs" (did you mean "parallel_syncs"?)`,
		`13:12: hosts[1].name: "redis-1" is also the name of hosts[0] (want a different name)`,
		`13:30: hosts[1].address: "10.0.0.1" is also the address of hosts[0] (want one host per address)`,
		`13:46: hosts[1].role: "primary" is not a role (want master, replica or slave)`,
	}},
}

func TestBadInventories(t *testing.T) {
	for _, tc := range badCases {
		t.Run(tc.name, func(t *testing.T) {
			file := "bad/" + tc.name + ".yaml"
			inv, _, err := parseFile(t, file, testEnv(tc.env))
			if inv != nil {
				t.Errorf("got an inventory along with the error")
			}
			got := problems(t, file, err)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestEveryBadInventoryIsTested keeps the table and the files in step.
func TestEveryBadInventoryIsTested(t *testing.T) {
	files, err := filepath.Glob(testdata + "bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad inventories: %v", err)
	}
	tested := map[string]bool{}
	for _, tc := range badCases {
		tested[tc.name] = true
	}
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".yaml"); !tested[name] {
			t.Errorf("%s has no case in badCases", f)
		}
	}
}

func TestErrorListsEveryProblemOnItsOwnLine(t *testing.T) {
	_, _, err := parseFile(t, "bad/several.yaml", testEnv(nil))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a *ValidationError, got %v", err)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 10 || len(ve.Problems) != 10 {
		t.Fatalf("want 10 problems, one per line; got %d problems:\n%s", len(ve.Problems), err)
	}
	for i, line := range lines {
		if line != ve.Problems[i].String() {
			t.Errorf("line %d is %q, want %q", i+1, line, ve.Problems[i])
		}
		if !strings.HasPrefix(line, testdata+"bad/several.yaml:") {
			t.Errorf("line %d does not start with the file name: %q", i+1, line)
		}
	}
}

// TestPasswordNeverInMessages parses every inventory with passwords that
// also appear in the files, and in the environment, and checks that no
// problem or warning shows them.
func TestPasswordNeverInMessages(t *testing.T) {
	files, _ := filepath.Glob(testdata + "*/*.yaml")
	files = append(files, "../../inventory.example.yaml")
	envs := map[string]func(string) (string, bool){
		"plain":   testEnv(nil),
		"newline": testEnv(map[string]string{"REDIS_PASSWORD": envPassword + "\n"}),
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for envName, env := range envs {
			_, ws, err := Parse(file, data, env)
			var texts []string
			if err != nil {
				texts = append(texts, err.Error())
			}
			for _, w := range ws {
				texts = append(texts, w.String())
			}
			for _, text := range texts {
				for _, secret := range []string{filePassword, envPassword, "s3cret"} {
					if strings.Contains(text, secret) {
						t.Errorf("%s (env %s): message shows the password:\n%s", file, envName, text)
					}
				}
			}
		}
	}
}

// lineOf returns the 1-based line of the first line of file containing s.
func lineOf(t *testing.T, file, s string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, s) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line containing %q", file, s)
	return 0
}

func TestExampleInventory(t *testing.T) {
	const file = "../../inventory.example.yaml"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	inv, ws, err := Parse(file, data, testEnv(map[string]string{"REDIS_PASSWORD": "example password"}))
	if err != nil {
		t.Fatalf("the example has problems:\n%v", err)
	}
	if len(ws) > 0 {
		t.Errorf("the example has warnings: %v", ws)
	}
	global := SSH{
		User:         "deploy",
		Port:         22,
		IdentityFile: "/home/op/.ssh/id_ed25519",
		KnownHosts:   "/home/op/.ssh/known_hosts",
		Jump:         "bastion.example.com",
	}
	overridden := global
	overridden.User, overridden.Port, overridden.IdentityFile = "admin", 2222, "/home/op/.ssh/other"
	want := &Inventory{
		File: file,
		Name: "mymaster",
		Redis: Redis{
			Engine:         "redis",
			Version:        "7.0.15",
			Source:         "https://download.redis.io/releases/redis-7.0.15.tar.gz",
			SHA256:         "98066f5363504b26c34dd20fbcc3c957990d764cdf42576c836fc021073f4341",
			Port:           7000,
			Password:       "example password",
			PasswordSource: "environment variable REDIS_PASSWORD",
			PasswordFile:   "/home/op/.config/redisctl/mymaster.password",
			Config: []Directive{
				{Name: "maxmemory", Value: "2gb", Line: lineOf(t, file, "maxmemory: 2gb")},
				{Name: "maxmemory-policy", Value: "allkeys-lru", Line: lineOf(t, file, "maxmemory-policy:")},
				{Name: "appendonly", Value: "yes", Line: lineOf(t, file, "appendonly: yes")},
			},
		},
		Sentinel: Sentinel{Port: 8000, Quorum: 2, DownAfterMS: 30000, ParallelSyncs: 1, FailoverTimeoutMS: 180000},
		SSH:      global,
		TLS:      TLS{ClientAuth: DefaultClientAuth},
		Hosts: []Host{
			{Name: "redis-1", Address: "10.160.0.6", Role: RoleMaster, Sentinel: true, SSH: global, Line: lineOf(t, file, "name: redis-1")},
			{Name: "redis-2", Address: "10.160.0.7", Role: RoleReplica, Sentinel: true, SSH: global, Line: lineOf(t, file, "name: redis-2")},
			{Name: "redis-3", Address: "10.160.0.8", Role: RoleReplica, Sentinel: true, SSH: overridden, Line: lineOf(t, file, "name: redis-3")},
		},
	}
	if !reflect.DeepEqual(inv, want) {
		t.Errorf("example inventory:\n got %+v\nwant %+v", inv, want)
	}
}

func TestMinimalInventoryTakesDefaults(t *testing.T) {
	inv, ws, err := parseFile(t, "good/minimal.yaml", testEnv(nil))
	if err != nil || len(ws) > 0 {
		t.Fatalf("problems: %v; warnings: %v", err, ws)
	}
	if inv.Name != DefaultName || inv.Redis.Port != DefaultRedisPort {
		t.Errorf("name %q, redis port %d; want the defaults", inv.Name, inv.Redis.Port)
	}
	wantSentinel := Sentinel{
		Port: DefaultSentinelPort, Quorum: DefaultQuorum, DownAfterMS: DefaultDownAfterMS,
		ParallelSyncs: DefaultParallelSyncs, FailoverTimeoutMS: DefaultFailoverTimeoutMS,
	}
	if inv.Sentinel != wantSentinel {
		t.Errorf("sentinel %+v, want %+v", inv.Sentinel, wantSentinel)
	}
	if want := (SSH{KnownHosts: "/home/op/.ssh/known_hosts"}); inv.SSH != want {
		t.Errorf("ssh %+v, want %+v", inv.SSH, want)
	}
	r := inv.Redis
	if r.Password != "" || r.PasswordSource != "" || r.PasswordFile != "" || r.SHA256 != "" || r.Config != nil {
		t.Errorf("redis %+v: want no password, password file, sha256 or config", r)
	}
	if want := testdata + "fake-redis.tar.gz"; r.Source != want {
		t.Errorf("source %q, want %q", r.Source, want)
	}
	roles := []Role{RoleMaster, RoleReplica, RoleReplica} // node2 says "slave"
	for i, h := range inv.Hosts {
		if h.Role != roles[i] || !h.Sentinel || h.SSH != inv.SSH {
			t.Errorf("host %d: %+v; want role %s, a sentinel and the global ssh", i, h, roles[i])
		}
	}
	if m := inv.Master(); m == nil || m.Name != "node1" {
		t.Errorf("master %v, want node1", m)
	}
}

func TestLocalSourceAndRelativePaths(t *testing.T) {
	inv, ws, err := parseFile(t, "good/local-source.yaml", testEnv(nil))
	if err != nil || len(ws) > 0 {
		t.Fatalf("problems: %v; warnings: %v", err, ws)
	}
	dir := testdata + "good/"
	got := []string{inv.Name, inv.Redis.Source, inv.Redis.SHA256, inv.Redis.Password, inv.Redis.PasswordSource,
		inv.Redis.PasswordFile, inv.SSH.IdentityFile, inv.SSH.KnownHosts, inv.Hosts[2].Address}
	want := []string{"lab.cluster_1", testdata + "fake-redis.tar.gz",
		"77832cdb5428ce707516e696b659824b125280fbc1177c69e6291f19fa3f20fd", "s3cret with spaces#", "inventory",
		dir + "secrets/lab.password", dir + "keys/id_ed25519", "/etc/ssh/ssh_known_hosts", "fd00::13"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	var config []string
	for _, d := range inv.Redis.Config {
		config = append(config, d.Name+" "+d.Value)
	}
	if want := []string{"save 900 1 300 10", "appendonly yes", "maxmemory 100mb"}; !reflect.DeepEqual(config, want) {
		t.Errorf("config %q, want %q (in the order written)", config, want)
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct{ name, want string }{
		{"quorum-below-majority", `3:11: sentinel.quorum: 1 is less than a majority of the 3 sentinels (want at least 2, or a minority of sentinels can judge the master down)`},
		{"two-sentinels", `6:1: hosts: only 2 sentinels (want at least 3, so that the sentinels left after losing a host are a majority)`},
		{"version-mismatch", `4:11: redis.source: the file name says Redis 7.0.15 but redis.version is 7.0.14`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := "warn/" + tc.name + ".yaml"
			inv, ws, err := parseFile(t, file, testEnv(nil))
			if err != nil || inv == nil {
				t.Fatalf("want an inventory and warnings, got error %v", err)
			}
			var got []string
			for _, w := range ws {
				got = append(got, strings.TrimPrefix(w.String(), testdata+file+":"))
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), tc.want)
			}
		})
	}
}

func TestLoadReadsTheProcessEnvironment(t *testing.T) {
	t.Setenv("HOME", "/home/someone")
	t.Setenv("REDIS_PASSWORD", "from the process")
	inv, _, err := Load("../../inventory.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if inv.Redis.Password != "from the process" || inv.SSH.KnownHosts != "/home/someone/.ssh/known_hosts" {
		t.Errorf("password %q, known_hosts %q: want them from the environment", inv.Redis.Password, inv.SSH.KnownHosts)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, _, err := Load(testdata + "no-such-inventory.yaml")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("want an error that is fs.ErrNotExist, got %v", err)
	}
}

func TestEngine(t *testing.T) {
	for _, tc := range []struct{ yaml, want, problem string }{
		{"", "redis", ""},
		{"  engine: valkey\n", "valkey", ""},
		{"  engine: redis\n", "redis", ""},
		{"  engine: keydb\n", "", `redis.engine: "keydb" is not an engine redisctl knows (want redis or valkey)`},
	} {
		src := "redis:\n" + tc.yaml + "  version: \"7.0.15\"\n  source: https://example.com/r.tar.gz\n  sha256: \"" + strings.Repeat("a", 64) + "\"\nhosts:\n  - {name: a, address: 10.0.0.1, role: master}\n  - {name: b, address: 10.0.0.2, role: replica}\n  - {name: c, address: 10.0.0.3, role: replica}\n"
		inv, _, err := Parse("inv.yaml", []byte(src), func(string) (string, bool) { return "", false })
		if tc.problem != "" {
			if err == nil || !strings.Contains(err.Error(), tc.problem) {
				t.Errorf("engine %q: error %v, want %q", tc.yaml, err, tc.problem)
			}
			continue
		}
		if err != nil {
			t.Fatalf("engine %q: %v", tc.yaml, err)
		}
		if inv.Redis.Engine != tc.want {
			t.Errorf("engine %q: got %q, want %q", tc.yaml, inv.Redis.Engine, tc.want)
		}
	}
}
