package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// backupDoc is redisctl backup -o json.
type backupDoc struct {
	File    string  `json:"file"`
	Size    int64   `json:"size"`
	SHA256  string  `json:"sha256"`
	Keys    int64   `json:"keys"`
	Source  string  `json:"source"`
	Role    string  `json:"role"`
	Cluster string  `json:"cluster"`
	Seconds float64 `json:"seconds"`
}

const restoreKeys = 500

// TestBackupRestore writes 500 keys, backs them up from a replica, flushes
// the cluster, restores the file and finds every key on every node again;
// the sentinels' down-after-milliseconds is what it was, status is
// healthy and up changes nothing afterwards. A restore without a terminal
// or --yes refuses and changes nothing; up --backup-to on an unchanged
// cluster takes no backup.
func TestBackupRestore(t *testing.T) {
	inv := labInventory()
	// Whatever an earlier test left, start from nothing: the key counts
	// below are exact.
	_ = run(t, inv, "uninstall", "--yes")
	labUp(t, 3)
	t.Cleanup(func() { _ = run(t, inv, "uninstall", "--yes") })
	mustRun(t, inv, "up")
	waitHealthy(t, inv)

	m := currentMaster(t)
	replicas := len(labHosts()) - 1
	writeKeys(t, m, replicas)

	// Backup, from a replica.
	dir := t.TempDir()
	r := mustRun(t, inv, "backup", "--to", dir, "-o", "json")
	var b backupDoc
	if err := json.Unmarshal([]byte(r.stdout), &b); err != nil {
		t.Fatalf("backup -o json is not JSON: %v\n%s", err, r.stdout)
	}
	if b.Keys != restoreKeys || b.Role != "replica" || b.Source == m.Name || b.Cluster != masterName {
		t.Errorf("backup: %+v; want %d keys saved on a replica (the master is %s)", b, restoreKeys, m.Name)
	}
	base := filepath.Base(b.File)
	if filepath.Dir(b.File) != dir || !strings.HasPrefix(base, masterName+"-") || !strings.HasSuffix(base, "Z.rdb") {
		t.Errorf("backup file %s: want %s/%s-<UTC time>.rdb", b.File, dir, masterName)
	}
	if st, err := os.Stat(b.File); err != nil || st.Size() != b.Size {
		t.Fatalf("backup file: %v (size %v, reported %d)", err, st, b.Size)
	}
	check := exec.Command("sha256sum", "-c", base+".sha256")
	check.Dir = dir
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c %s.sha256: %v\n%s", base, err, out)
	}
	var meta struct {
		Keys int64 `json:"keys"`
	}
	if data, err := os.ReadFile(b.File + ".json"); err != nil || json.Unmarshal(data, &meta) != nil || meta.Keys != restoreKeys {
		t.Errorf("%s.json: %s (%v); want keys %d", base, data, err, restoreKeys)
	}

	// Lose everything.
	flushAll(t, m, replicas)
	downAfter := sentinelDownAfter(t)

	// A restore without a terminal or --yes refuses and changes nothing.
	before := pids(t)
	if r := run(t, inv, "restore", "--from", b.File); r.code == 0 || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("restore without a terminal or --yes: exit %d, want a refusal naming --yes", r.code)
	}
	if after := pids(t); !mapsEqual(before, after) {
		t.Fatalf("a refused restore changed processes: %v -> %v", before, after)
	}

	r = mustRun(t, inv, "restore", "--from", b.File, "--yes")
	if !strings.Contains(r.stdout, fmt.Sprintf("%d keys", restoreKeys)) {
		t.Errorf("restore does not report %d keys:\n%s", restoreKeys, r.stdout)
	}
	if got := currentMaster(t); got != m {
		t.Errorf("the master moved from %s to %s during the restore", m.Name, got.Name)
	}
	for _, h := range labHosts() {
		checkKeys(t, h)
	}
	if got := sentinelDownAfter(t); !mapsEqual(got, downAfter) {
		t.Errorf("sentinels' down-after-milliseconds after the restore: %v, before: %v", got, downAfter)
	}
	if d, r := status(t, inv); r.code != 0 || d.Verdict != "healthy" {
		t.Errorf("status after the restore: exit %d, %s: %+v", r.code, d.Verdict, d.Problems)
	}
	if r := mustRun(t, inv, "up"); !strings.Contains(r.stdout, "up: 0 changed") {
		t.Errorf("up after the restore changed something:\n%s", r.stdout)
	}

	// up --backup-to on a cluster up does not change takes no backup.
	noChange := t.TempDir()
	if r := mustRun(t, inv, "up", "--backup-to", noChange); !strings.Contains(r.stdout, "up: 0 changed") {
		t.Errorf("up --backup-to changed something:\n%s", r.stdout)
	}
	if entries, _ := os.ReadDir(noChange); len(entries) != 0 {
		t.Errorf("up --backup-to with nothing to change wrote %d files to %s", len(entries), noChange)
	}
}

// writeKeys writes e2e:restore:0..499 on the master and waits (WAIT on the
// same connection) until every replica has them.
func writeKeys(t *testing.T, m labHost, replicas int) {
	t.Helper()
	c := client(t, addr(m, redisPort))
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < restoreKeys; i++ {
			p.Set(ctx, "e2e:restore:"+strconv.Itoa(i), strconv.Itoa(i), 0)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("write keys on %s: %v", m.Name, err)
	}
	waitReplicas(t, ctx, c, replicas)
}

// flushAll empties the master (the replicas follow) and waits for them.
func flushAll(t *testing.T, m labHost, replicas int) {
	t.Helper()
	c := client(t, addr(m, redisPort))
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatalf("FLUSHALL on %s: %v", m.Name, err)
	}
	waitReplicas(t, ctx, c, replicas)
	for _, h := range labHosts() {
		if n, err := do(t, addr(h, redisPort), "DBSIZE"); err != nil || fmt.Sprint(n) != "0" {
			t.Fatalf("%s after FLUSHALL: DBSIZE %v, %v", h.Name, n, err)
		}
	}
}

// waitReplicas runs WAIT on c, the connection that wrote, until every
// replica acknowledged its writes.
func waitReplicas(t *testing.T, ctx context.Context, c *redis.Client, replicas int) {
	t.Helper()
	n, err := c.Do(ctx, "WAIT", replicas, 10000).Int()
	if err != nil || n < replicas {
		t.Fatalf("WAIT %d: %d replicas acknowledged, %v", replicas, n, err)
	}
}

// checkKeys reads every key back from h.
func checkKeys(t *testing.T, h labHost) {
	t.Helper()
	c := client(t, addr(h, redisPort))
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < restoreKeys; i++ {
			p.Get(ctx, "e2e:restore:"+strconv.Itoa(i))
		}
		return nil
	})
	if err != nil && err != redis.Nil {
		t.Fatalf("%s: read the keys: %v", h.Name, err)
	}
	missing := 0
	for i, cmd := range cmds {
		if v, err := cmd.(*redis.StringCmd).Result(); err != nil || v != strconv.Itoa(i) {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%s: %d of %d keys missing or wrong after the restore", h.Name, missing, restoreKeys)
	}
	if n, err := do(t, addr(h, redisPort), "DBSIZE"); err != nil || fmt.Sprint(n) != strconv.Itoa(restoreKeys) {
		t.Errorf("%s: DBSIZE %v (%v), want %d", h.Name, n, err, restoreKeys)
	}
}

// sentinelDownAfter reads every sentinel's down-after-milliseconds.
func sentinelDownAfter(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range labHosts() {
		v, err := do(t, addr(h, sentinelPort), "SENTINEL", "MASTER", masterName)
		if err != nil {
			t.Fatalf("%s sentinel: %v", h.Name, err)
		}
		switch l := v.(type) {
		case []any:
			for i := 0; i+1 < len(l); i += 2 {
				if fmt.Sprint(l[i]) == "down-after-milliseconds" {
					out[h.Name] = fmt.Sprint(l[i+1])
				}
			}
		case map[any]any:
			out[h.Name] = fmt.Sprint(l["down-after-milliseconds"])
		}
	}
	return out
}
