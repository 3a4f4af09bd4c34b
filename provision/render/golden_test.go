package render

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redisctl/redisctl/provision/inventory"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

const (
	repoRoot   = "../.."
	goldenRoot = repoRoot + "/testdata/golden"
	tricky     = `p@ss w"o'rd#$\x`
)

// goldenSet is one inventory rendered for every host into
// testdata/golden/<name>/<host>/.
type goldenSet struct {
	name       string
	inv        *inventory.Inventory
	masterAddr string // "" for the inventory's master
	init       string
	opts       HostOptions
}

// exampleInventory is inventory.example.yaml from the repository root, with
// its ${REDIS_PASSWORD} set.
func exampleInventory(t *testing.T) *inventory.Inventory {
	t.Helper()
	file := filepath.Join(repoRoot, "inventory.example.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"HOME": "/home/op", "REDIS_PASSWORD": "example-password-0123456789"}
	env := func(name string) (string, bool) { v, ok := vars[name]; return v, ok }
	inv, _, err := inventory.Parse("inventory.example.yaml", data, env)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return inv
}

// testInventory is a three-host inventory built in code, with the seed's
// settings.
func testInventory(password string, addrs ...string) *inventory.Inventory {
	inv := &inventory.Inventory{
		File: "test.yaml",
		Name: inventory.DefaultName,
		Redis: inventory.Redis{
			Version:  "7.0.15",
			Port:     inventory.DefaultRedisPort,
			Password: password,
		},
		Sentinel: inventory.Sentinel{
			Port:              inventory.DefaultSentinelPort,
			Quorum:            inventory.DefaultQuorum,
			DownAfterMS:       inventory.DefaultDownAfterMS,
			ParallelSyncs:     inventory.DefaultParallelSyncs,
			FailoverTimeoutMS: inventory.DefaultFailoverTimeoutMS,
		},
	}
	for i, a := range addrs {
		role := inventory.RoleReplica
		if i == 0 {
			role = inventory.RoleMaster
		}
		inv.Hosts = append(inv.Hosts, inventory.Host{
			Name: fmt.Sprintf("node%d", i+1), Address: a, Role: role, Sentinel: true,
		})
	}
	return inv
}

func goldenSets(t *testing.T) []goldenSet {
	example := exampleInventory(t)

	trickyInv := testInventory(tricky, "10.231.0.11", "10.231.0.12", "10.231.0.13")

	// After a failover node2 is master; node3 runs no sentinel; addresses
	// are DNS names; extra directives need quoting.
	named := testInventory("s3cret-Pa55", "node1.lab.example", "node2.lab.example", "node3.lab.example")
	named.Name = "cache-eu.1"
	named.Redis.Port, named.Sentinel.Port = 7100, 8100
	named.Sentinel.DownAfterMS, named.Sentinel.FailoverTimeoutMS = 2000, 10000
	named.Hosts[2].Sentinel = false
	named.Redis.Config = []inventory.Directive{
		{Name: "maxmemory", Value: "2gb"},
		{Name: "save", Value: `""`},
		{Name: "client-output-buffer-limit", Value: `"replica 256mb 64mb 60"`},
		{Name: "notify-keyspace-events", Value: `'Ex$'`},
		{Name: "min-replicas-to-write", Value: "1"},
		{Name: "min-replicas-max-lag", Value: "10"},
	}

	// TLS on every link, clients asked for a certificate.
	tlsInv := testInventory("s3cret-Pa55", "10.231.0.11", "10.231.0.12", "10.231.0.13")
	tlsInv.TLS = inventory.TLS{Enabled: true, ClientAuth: "yes"}
	tlsOpts := HostOptions{TLS: &TLSFiles{
		CA:   []byte("-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"),
		Cert: []byte("-----BEGIN CERTIFICATE-----\nhost\n-----END CERTIFICATE-----\n"),
		Key:  []byte("-----BEGIN EC PRIVATE KEY-----\nkey\n-----END EC PRIVATE KEY-----\n"),
	}}

	return []goldenSet{
		{name: "tls", inv: tlsInv, init: InitSystemd, opts: tlsOpts},
		{name: "example-sysv", inv: example, init: InitSysV},
		{name: "example-systemd", inv: example, init: InitSystemd},
		{name: "tricky-password", inv: trickyInv, init: InitSysV},
		{name: "hostnames-after-failover", inv: named, masterAddr: "node2.lab.example", init: InitSystemd},
	}
}

// TestGolden renders every golden set and compares each file byte for byte
// with testdata/golden; files.txt in each host's directory pins the path,
// mode, owner and secrecy of every file. go test -update rewrites them.
func TestGolden(t *testing.T) {
	for _, set := range goldenSets(t) {
		t.Run(set.name, func(t *testing.T) {
			setDir := filepath.Join(goldenRoot, set.name)
			if *update {
				if err := os.RemoveAll(setDir); err != nil {
					t.Fatal(err)
				}
			}
			masterAddr := set.masterAddr
			if masterAddr == "" {
				masterAddr = set.inv.Master().Address
			}
			for i := range set.inv.Hosts {
				h := &set.inv.Hosts[i]
				files, err := HostFilesWith(set.inv, h, masterAddr, set.init, set.opts)
				if err != nil {
					t.Fatal(err)
				}
				want := map[string][]byte{"files.txt": filesList(files)}
				for _, f := range files {
					name := path.Base(f.Path)
					if _, dup := want[name]; dup {
						t.Fatalf("%s: two files named %s", h.Name, name)
					}
					want[name] = f.Data
				}
				compareDir(t, filepath.Join(setDir, h.Name), want)
			}
		})
	}
}

func filesList(files []File) []byte {
	var b bytes.Buffer
	b.WriteString("# mode owner secret path (content: the file of the same base name)\n")
	for _, f := range files {
		owner, secret := f.Owner, "-"
		if owner == "" {
			owner = "root"
		}
		if f.Secret {
			secret = "secret"
		}
		fmt.Fprintf(&b, "%04o %s %s %s\n", f.Mode, owner, secret, f.Path)
	}
	return b.Bytes()
}

func compareDir(t *testing.T, dir string, want map[string][]byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range want {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%v (run go test ./provision/render -update to create the golden files)", err)
	}
	for _, e := range entries {
		if _, ok := want[e.Name()]; !ok {
			t.Errorf("%s/%s: golden file no longer rendered (run with -update)", dir, e.Name())
		}
	}
	for name, data := range want {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s/%s: missing golden file (run with -update)", dir, name)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s/%s differs from the rendering (run with -update if intended):\n%s",
				dir, name, firstDiff(got, data))
		}
	}
}

// firstDiff describes the first differing line of golden and rendered text.
func firstDiff(golden, rendered []byte) string {
	g, r := strings.Split(string(golden), "\n"), strings.Split(string(rendered), "\n")
	for i := 0; i < max(len(g), len(r)); i++ {
		var gl, rl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(r) {
			rl = r[i]
		}
		if gl != rl || i >= len(g) || i >= len(r) {
			return fmt.Sprintf("line %d:\n  golden:   %q\n  rendered: %q", i+1, gl, rl)
		}
	}
	return "(no line differs)"
}

// The rendered config files must read back, through Redis's own splitting
// rules, with the password and replication settings they were made from.
func TestRenderedConfigsReadBack(t *testing.T) {
	for _, set := range goldenSets(t) {
		masterAddr := set.masterAddr
		if masterAddr == "" {
			masterAddr = set.inv.Master().Address
		}
		l := set.inv.Layout()
		for i := range set.inv.Hosts {
			h := &set.inv.Hosts[i]
			files, err := HostFiles(set.inv, h, masterAddr, set.init)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				where := set.name + "/" + h.Name + ":" + f.Path
				switch f.Path {
				case l.RedisConf:
					lines, err := ParseConfig(f.Data)
					if err != nil {
						t.Fatalf("%s: %v", where, err)
					}
					for _, d := range []string{"requirepass", "masterauth"} {
						if got := argsOf(lines, d); !slices.Equal(got, []string{set.inv.Redis.Password}) {
							t.Errorf("%s: %s reads back as %q", where, d, got)
						}
					}
					var want []string
					if h.Address != masterAddr {
						want = []string{masterAddr, fmt.Sprint(set.inv.Redis.Port)}
					}
					if got := argsOf(lines, "replicaof"); !slices.Equal(got, want) {
						t.Errorf("%s: replicaof %q, want %q", where, got, want)
					}
					for _, d := range set.inv.Redis.Config {
						want, _ := inventory.SplitArgs(d.Value)
						if got := argsOf(lines, d.Name); !slices.Equal(got, want) {
							t.Errorf("%s: %s reads back as %q, want %q", where, d.Name, got, want)
						}
					}
				case l.SentinelConf:
					if err := CheckSentinelConf(f.Data, set.inv.Name, set.inv.Redis.Password); err != nil {
						t.Errorf("%s: %v", where, err)
					}
				case l.RedisInitScript, l.SentinelInitScript:
					cmd := exec.Command("sh", "-n")
					cmd.Stdin = bytes.NewReader(f.Data)
					if out, err := cmd.CombinedOutput(); err != nil {
						t.Errorf("%s: sh -n: %v\n%s", where, err, out)
					}
				}
			}
		}
	}
}

// argsOf returns the arguments of the only line setting directive d.
func argsOf(lines []Line, d string) []string {
	found := Find(lines, d)
	if len(found) != 1 {
		return nil
	}
	return found[0].Args[1:]
}

func TestHostFilesRefuses(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(inv *inventory.Inventory, masterAddr, init *string)
		want   string
	}{
		{"unknown init", func(_ *inventory.Inventory, _, init *string) { *init = "upstart" },
			`node1: unknown init system "upstart" (want "sysv" or "systemd")`},
		{"no master address", func(_ *inventory.Inventory, m, _ *string) { *m = "" },
			"node1: no master address"},
		{"no password", func(inv *inventory.Inventory, _, _ *string) { inv.Redis.Password = "" },
			"node1: no Redis password"},
		{"control character", func(inv *inventory.Inventory, _, _ *string) {
			inv.Redis.Password, inv.Redis.PasswordSource = "secret\nline", "environment variable RP"
		}, "node1: the Redis password (from environment variable RP) contains a control character; " +
			"Redis config files cannot hold one safely"},
		{"master name", func(inv *inventory.Inventory, _, _ *string) { inv.Name = "my master" },
			`node1: master name "my master": use only letters, digits, '.', '-' and '_'`},
		{"managed directive", func(inv *inventory.Inventory, _, _ *string) {
			inv.Redis.Config = []inventory.Directive{{Name: "bind", Value: "0.0.0.0", Line: 12}}
		}, `test.yaml:12: redis.config.bind: managed by redisctl (it binds the host's address and loopback)`},
		{"directive undoing a guarantee", func(inv *inventory.Inventory, _, _ *string) {
			inv.Redis.Config = []inventory.Directive{{Name: "user", Value: "default on nopass ~* +@all", Line: 7}}
		}, `test.yaml:7: redis.config.user: not allowed: set redis.users (and redis.default_user) instead: ` +
			`redisctl writes the ACL file with the users Sentinel, replicas and redisctl need`},
		{"directive name", func(inv *inventory.Inventory, _, _ *string) {
			inv.Redis.Config = []inventory.Directive{{Name: "9lives", Value: "yes", Line: 4}}
		}, `test.yaml:4: redis.config.9lives: "9lives" is not a redis.conf directive name (want lower-case letters, digits and '-', starting with a letter)`},
		{"unbalanced value", func(inv *inventory.Inventory, _, _ *string) {
			inv.Redis.Config = []inventory.Directive{{Name: "save", Value: `"900 1`, Line: 3}}
		}, `test.yaml:3: redis.config.save: unbalanced quotes: Redis would not start (a quoted argument must end ` +
			`with its quote, then a space or the end of the value; write a literal quote as \" inside double quotes)`},
		{"empty value", func(inv *inventory.Inventory, _, _ *string) {
			inv.Redis.Config = []inventory.Directive{{Name: "save", Value: " ", Line: 3}}
		}, `test.yaml:3: redis.config.save: needs a value (for an empty argument write '""')`},
		{"address with blank", func(_ *inventory.Inventory, m, _ *string) { *m = "10.0.0.1 6379" },
			`node1: address "10.0.0.1 6379": empty or contains blanks or control characters`},
		{"address not canonical", func(_ *inventory.Inventory, m, _ *string) { *m = "fd00:0::1" },
			`node1: address "fd00:0::1" is not in canonical form (write fd00::1, as Redis and Sentinel print it)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			inv := testInventory("pw", "10.0.0.1", "10.0.0.2", "10.0.0.3")
			masterAddr, init := "10.0.0.1", InitSysV
			c.change(inv, &masterAddr, &init)
			_, err := HostFiles(inv, &inv.Hosts[0], masterAddr, init)
			if err == nil || err.Error() != c.want {
				t.Errorf("got error %v\nwant %s", err, c.want)
			}
		})
	}
}

func TestServiceRefusesSharedPidDir(t *testing.T) {
	redis, _ := NewServices(testInventory("pw", "10.0.0.1", "10.0.0.2"))
	redis.PidFile = "/var/run/redis_7000.pid"
	want := "service redis_7000: pid file /var/run/redis_7000.pid must be in a directory of its own " +
		"(e.g. /var/run/redis), because the init script hands that directory to user redis"
	for _, render := range []func(Service) ([]byte, error){RenderInitScript, RenderUnit} {
		if _, err := render(redis); err == nil || err.Error() != want {
			t.Errorf("got error %v\nwant %s", err, want)
		}
	}
}

func TestUnitQuote(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/usr/local/bin/redis-server", "/usr/local/bin/redis-server"},
		{"--sentinel", "--sentinel"},
		{"", `""`},
		{"a b", `"a b"`},
		{`say "hi" \o/`, `"say \"hi\" \\o/"`},
		{"100% $HOME", `"100%% $$HOME"`},
	} {
		if got := unitQuote(c.in); got != c.want {
			t.Errorf("unitQuote(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}
