package testkit

import (
	"encoding/base64"
	"os"
	"regexp"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/redisctl/redisctl/provision/remote/fakehost"
	"github.com/redisctl/redisctl/provision/render"
)

// RunningFacts is what the facts script prints on a host where redisctl
// installed Redis and both servers run (pids 4100 and 4200).
const RunningFacts = FreshFacts + "redis_version_line=Redis server v=7.0.15 sha=00000000:0\nredis_user=yes\nredis_pid=4100\nsentinel_pid=4200\n" +
	"listen_begin\nLISTEN 0 511 0.0.0.0:7000 0.0.0.0:* users:((\"redis-server\",pid=4100,fd=6))\n" +
	"LISTEN 0 511 0.0.0.0:8000 0.0.0.0:* users:((\"redis-server\",pid=4200,fd=6))\nlisten_end\nmanifest=mymaster.manifest.json\n" +
	"missing_checked=yes\n"

// OpenProbes are the check script's probes of a cluster whose servers all
// run: every port of the other hosts answers.
var OpenProbes = []string{
	"probe=10.0.0.1 7000 open", "probe=10.0.0.1 8000 open", "probe=10.0.0.2 7000 open",
	"probe=10.0.0.2 8000 open", "probe=10.0.0.3 7000 open", "probe=10.0.0.3 8000 open",
}

// Running makes h a host on which up has already run: it holds files as
// up renders them and its manifest (at manifestPath, as JSON), both
// servers run and answer (pid files redisPid and sentinelPid), nothing is
// missing, and every port of the other hosts answers the checks.
func Running(h *Host, files []render.File, manifestPath string, manifest []byte, redisPid, sentinelPid string) {
	h.On(CheckPattern, CheckReply(Tuned(append([]string{"redis_pid=4100", "sentinel_pid=4200"}, OpenProbes...)...)))
	for _, f := range files {
		h.SetFile(f.Path, f.Data, f.Mode, f.Owner)
	}
	h.SetFile(manifestPath, manifest, 0o600, "")
	// The facts script reads the manifest it lists.
	h.Answer(FactsPattern, fakehost.Result{Stdout: RunningFacts + "manifest_b64=mymaster.manifest.json " + base64.StdEncoding.EncodeToString(manifest) + "\n"})
	// prepare finds nothing missing; the pid files name live servers.
	h.Answer(`^id -u redis >/dev/null 2>&1 \|\| echo`, fakehost.Result{})
	h.Answer(`\nlive_pid '?`+regexp.QuoteMeta(redisPid)+`'? \S+\n$`, fakehost.Result{Stdout: "4100\n"})
	h.Answer(`\nlive_pid '?`+regexp.QuoteMeta(sentinelPid)+`'? \S+\n$`, fakehost.Result{Stdout: "4200\n"})
	h.Answer(`\necho "redis=\$\(live_pid `, fakehost.Result{Stdout: "redis=4100\nsentinel=4200\n"})
}

// Saver makes data, a fake data node on host h, answer a backup: MULTI /
// INFO keyspace / BGSAVE / EXEC, LASTSAVE moving on with each save, INFO
// persistence, and CONFIG GET dir and dbfilename; h holds rdb as the dump
// file. A master's INFO names node2 and node3 online, a replica's node1.
func Saver(data *FakeRedis, h *Host, master bool, rdb []byte, keys int) {
	var saves atomic.Int32
	info := MasterInfo("10.0.0.2 online", "10.0.0.3 online")
	if !master {
		info = ReplicaInfo("10.0.0.1", "up")
	}
	keyspace := "# Keyspace\r\ndb0:keys=" + strconv.Itoa(keys-2) + ",expires=1,avg_ttl=0\r\ndb3:keys=2,expires=0,avg_ttl=0\r\n"
	data.
		Reply("INFO", info+"\r\n# Persistence\r\nrdb_bgsave_in_progress:0\r\nrdb_last_bgsave_status:ok\r\n").
		Reply("LASTSAVE", func([]string) any { return 1700000000 + int(saves.Load()) }).
		Reply("MULTI", Status("OK")).
		Reply("BGSAVE", Status("QUEUED")).
		Reply("EXEC", func([]string) any {
			saves.Add(1)
			return []any{keyspace, Status("Background saving started")}
		}).
		Reply("CONFIG GET", func(args []string) any {
			switch args[2] {
			case "dir":
				return []string{"dir", "/var/lib/redis/7000"}
			case "dbfilename":
				return []string{"dbfilename", "dump.rdb"}
			}
			return []string{}
		})
	h.SetFile("/var/lib/redis/7000/dump.rdb", rdb, 0o600, "redis:redis")
	h.Answer(`^sha256sum `, fakehost.Result{Stdout: Sha256Hex(rdb) + "  /var/lib/redis/7000/dump.rdb\n"})
}

// AssertFiles fails t unless dir holds exactly the files names, in order.
func AssertFiles(t testing.TB, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, names) {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}
