package provision

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redisctl/redisctl/provision/internal/testkit"
	"github.com/redisctl/redisctl/provision/remote/fakehost"
)

// saver makes node name of fc answer a backup (testkit.Saver) with rdb
// as its dump file, and returns its host.
func saver(fc *fakeCluster, name string, rdb []byte, keys int) *testHost {
	for i, n := range fc.Nodes {
		if n.Spec.Name == name {
			testkit.Saver(fc.data[name], fc.hosts[i], name == "node1", rdb, keys)
			return fc.hosts[i]
		}
	}
	panic("no node " + name)
}

// backupCluster is a fake cluster whose master node1 answers a BGSAVE and
// holds rdb as its dump file.
func backupCluster(t *testing.T, rdb []byte) (*fakeCluster, *testHost) {
	t.Helper()
	fc := newFakeCluster(t)
	for _, n := range fc.Nodes {
		n.Facts = &Facts{RedisPid: 4100}
	}
	return fc, saver(fc, "node1", rdb, 500)
}

func TestBackupStreamsTheRDB(t *testing.T) {
	rdb := make([]byte, 3<<20+5)
	_, _ = rand.Read(rdb)
	fc, h := backupCluster(t, rdb)
	dir := t.TempDir()
	file, err := fc.backupMaster(context.Background(), fc.Nodes, dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(file)
	if err != nil || !bytes.Equal(got, rdb) {
		t.Fatalf("backup %s: %d bytes (%v), want the %d of the RDB", file, len(got), err, len(rdb))
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", st.Mode())
	}
	base := path.Base(file)
	// No temporary file left; the checksum and the metadata beside it.
	assertFiles(t, dir, base, base+".json", base+".sha256")
	// A multi-gigabyte dataset must not be read into memory whole.
	if slices.Contains(h.Reads(), "/var/lib/redis/7000/dump.rdb") {
		t.Errorf("the RDB was read whole with ReadFile: %v", h.Reads())
	}
}

func TestBackupRefusesACopyThatDiffers(t *testing.T) {
	rdb := []byte("REDIS0010 a small dataset")
	fc, h := backupCluster(t, rdb)
	h.Answer(`^sha256sum `, fakehost.Result{Stdout: sha256Hex([]byte("another file")) + "  /var/lib/redis/7000/dump.rdb\n"})
	dir := t.TempDir()
	_, err := fc.backupMaster(context.Background(), fc.Nodes, dir)
	if err == nil || !strings.Contains(err.Error(), "does not match the host's sha256") {
		t.Fatalf("err = %v, want a sha256 mismatch", err)
	}
	assertFiles(t, dir) // neither a backup nor a temporary file
}

// A backup is named after the cluster and the UTC time of the save, with
// a sha256sum line and the metadata restore checks beside it.
func TestBackupNamingAndSidecars(t *testing.T) {
	rdb := []byte("REDIS0010 a small dataset")
	fc := newFakeCluster(t)
	saver(fc, "node2", rdb, 500)
	dir := t.TempDir()
	before := time.Now().UTC().Truncate(time.Second)
	res, err := fc.BackupNode(context.Background(), fc.Node("node2"), "replica", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^mymaster-\d{8}T\d{6}Z\.rdb$`).MatchString(filepath.Base(res.File)) {
		t.Errorf("backup named %s, want mymaster-YYYYmmddTHHMMSSZ.rdb", filepath.Base(res.File))
	}
	if res.Time.Before(before) || res.Time.Location() != time.UTC || filepath.Base(res.File) != backupName("mymaster", res.Time) {
		t.Errorf("time %v does not name the file %s", res.Time, res.File)
	}
	sum, _ := os.ReadFile(res.File + ".sha256")
	if want := sha256Hex(rdb) + "  " + filepath.Base(res.File) + "\n"; string(sum) != want {
		t.Errorf(".sha256 = %q, want %q (sha256sum -c format)", sum, want)
	}
	var meta BackupMeta
	js, _ := os.ReadFile(res.File + ".json")
	if err := json.Unmarshal(js, &meta); err != nil {
		t.Fatalf(".json: %v\n%s", err, js)
	}
	want := BackupMeta{Cluster: "mymaster", Source: "node2", Role: "replica", Time: res.Time, Keys: 500, Expires: 1,
		RedisVersion: "7.0.15", Size: int64(len(rdb)), SHA256: sha256Hex(rdb)}
	if meta != want || res.BackupMeta != want {
		t.Errorf("metadata %+v\n result %+v\n want %+v", meta, res.BackupMeta, want)
	}
	// The key count and the save come from one MULTI.
	cmds := strings.Join(fc.data["node2"].Commands(), " ")
	if !strings.Contains(cmds, "MULTI INFO BGSAVE EXEC") {
		t.Errorf("commands %s: want INFO keyspace and BGSAVE in one MULTI", cmds)
	}
}

// The source is the replica in sync that lags least; the master only with
// fromMaster and no replica in sync; and the refusal says why each replica
// was passed over.
func TestChooseBackupSource(t *testing.T) {
	snap := func(mod func(s *Snapshot)) (*Snapshot, Analysis) {
		fc := newFakeCluster(t)
		s := fc.Observe(context.Background())
		if mod != nil {
			mod(s)
		}
		return s, Analyze(s, fc.Expectations())
	}
	lag := func(name string, off int64) func(s *Snapshot) {
		return func(s *Snapshot) { s.Node(name).Redis.Offset = off }
	}
	cases := []struct {
		name       string
		mod        func(s *Snapshot)
		fromMaster bool
		want, err  string
	}{
		{name: "both in sync: the first", want: "node2"},
		{name: "the one less behind", mod: lag("node2", 900), want: "node3"},
		{name: "link down", mod: func(s *Snapshot) { s.Node("node2").Redis.LinkStatus = "down" }, want: "node3"},
		{name: "too far behind", mod: func(s *Snapshot) {
			lag("node2", 1000-2*LagThresholdBytes)(s)
			s.Node("node3").Redis.Running = false
		}, err: "node2: 2097152 bytes behind; node3: redis does not answer"},
		{name: "none in sync, from master", fromMaster: true, mod: func(s *Snapshot) {
			s.Node("node2").Redis.LinkStatus = "down"
			s.Node("node3").Redis.MasterAddr = "10.0.0.9:7000"
		}, want: "node1"},
		{name: "none in sync", mod: func(s *Snapshot) {
			s.Node("node2").Redis.LinkStatus = "down"
			s.Node("node3").Redis.MasterAddr = "10.0.0.9:7000"
		}, err: "node2: link down; node3: follows 10.0.0.9:7000); fix replication (redisctl status) or save on the master with --from-master"},
		{name: "no master", mod: func(s *Snapshot) { s.Node("node1").Redis.Running = false }, fromMaster: true, err: "no master to back up"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, a := snap(tc.mod)
			got, err := chooseBackupSource(s, a, 7000, tc.fromMaster)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %q, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %s", got, err, tc.want)
			}
		})
	}
}

var assertFiles = testkit.AssertFiles

// A save that ends in the same second as the one before leaves LASTSAVE
// as it was: backup waits for its own save by the count of saves, which
// the transaction read, and only for that (a BGSAVE in MULTI is scheduled,
// not forked, so "no save in progress" alone does not mean it is done).
func TestBackupWaitsForItsOwnSaveByCount(t *testing.T) {
	rdb := []byte("REDIS0010 a small dataset")
	fc, _ := backupCluster(t, rdb)
	var polls atomic.Int32
	keyspace := "# Persistence\r\nrdb_saves:5\r\n# Keyspace\r\ndb0:keys=500,expires=0,avg_ttl=0\r\n"
	fc.data["node1"].
		Reply("LASTSAVE", 1700000000). // never moves
		Reply("EXEC", func([]string) any { return []any{keyspace, status("Background saving scheduled")} }).
		Reply("INFO", func([]string) any {
			saves := "5" // the scheduled save has not run yet
			if polls.Add(1) > 2 {
				saves = "6"
			}
			return masterInfo("10.0.0.2 online", "10.0.0.3 online") + "\r\n# Persistence\r\nrdb_bgsave_in_progress:0\r\nrdb_last_bgsave_status:ok\r\nrdb_saves:" + saves + "\r\n"
		})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := fc.BackupNode(ctx, fc.Node("node1"), "master", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if n := polls.Load(); n < 3 {
		t.Errorf("done after %d looks at INFO, before the save count moved", n)
	}
	if res.Keys != 500 {
		t.Errorf("keys %d, want 500", res.Keys)
	}
}
