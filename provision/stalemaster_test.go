package provision

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisctl/redisctl/provision/redisx"
)

// TestRDBAuxFromRealServers reads the replication id and offset out of RDB
// files that a real master and replica wrote, and checks them against what
// the servers report: the figures up compares before it starts a master
// that is down.
func TestRDBAuxFromRealServers(t *testing.T) {
	bin := realRedisServer(t)
	ctx := context.Background()
	start := func(dir string, args ...string) (*redis.Client, int) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		cmd := exec.Command(bin, append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"}, args...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		cl := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
		t.Cleanup(func() { cl.Close() })
		for i := 0; cl.Ping(ctx).Err() != nil; i++ {
			if i > 100 {
				t.Fatalf("%s did not start", bin)
			}
			time.Sleep(50 * time.Millisecond)
		}
		return cl, port
	}
	mdir, rdir := t.TempDir(), t.TempDir()
	master, mport := start(mdir, "--repl-diskless-sync-delay", "0")
	replica, _ := start(rdir, "--replicaof", "127.0.0.1", strconv.Itoa(mport))
	for i := 0; i < 200; i++ {
		if err := master.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := master.Wait(ctx, 1, 5000).Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cl   *redis.Client
		dir  string
	}{{"master", master, mdir}, {"replica", replica, rdir}} {
		var info redisx.Info
		for i := 0; ; i++ {
			info = redisx.ParseInfo(c.cl.Info(ctx, "replication").Val())
			if c.name == "master" || info["master_link_status"] == "up" && info.Int("master_repl_offset") == redisx.ParseInfo(master.Info(ctx, "replication").Val()).Int("master_repl_offset") {
				break
			}
			if i > 100 {
				t.Fatalf("replica not in sync: %v", info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err := c.cl.Save(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(c.dir, "dump.rdb"))
		if err != nil {
			t.Fatal(err)
		}
		aux, err := rdbAux(data[:min(len(data), 16384)])
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if aux["repl-id"] != info["master_replid"] || aux["repl-offset"] != info["master_repl_offset"] {
			t.Errorf("%s: RDB says repl-id %q offset %q; server says %q %q", c.name, aux["repl-id"], aux["repl-offset"], info["master_replid"], info["master_repl_offset"])
		}
		if info.Int("master_repl_offset") == 0 {
			t.Errorf("%s: offset 0 after 200 writes", c.name)
		}
	}
}

func TestRDBAuxRefusesGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("REDIS"), []byte("NOTREDIS0010"), []byte("REDIS0010\xfa\x05ab")} {
		if aux, err := rdbAux(b); err == nil {
			t.Errorf("rdbAux(%q) = %v, want an error", b, aux)
		}
	}
	// Integer-encoded values: int8, int16 and int32, little-endian.
	b := []byte("REDIS0010\xfa\x03one\xc0\x7f\xfa\x03two\xc1\x00\x01\xfa\x05three\xc2\x00\x00\x01\x00\xfe\x00")
	aux, err := rdbAux(b)
	if err != nil || aux["one"] != "127" || aux["two"] != "256" || aux["three"] != "65536" {
		t.Errorf("rdbAux = %v, %v", aux, err)
	}
}

// realRedisServer finds a redis-server built by testdata/redis-bin.sh (make
// test builds one), or skips loudly.
func realRedisServer(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("REDISCTL_REDIS_SERVER"); p != "" {
		return p
	}
	cache := os.Getenv("REDISCTL_CACHE")
	if cache == "" {
		cache = filepath.Join("..", ".cache")
	}
	found, _ := filepath.Glob(filepath.Join(cache, "redis-*", "src", "redis-server"))
	if len(found) == 0 {
		t.Skip("!!! SKIPPED: no redis-server built; run `make redis-bin` (make test does)")
	}
	sort.Strings(found)
	p, err := filepath.Abs(found[len(found)-1])
	if err != nil {
		t.Fatal(err)
	}
	return p
}
