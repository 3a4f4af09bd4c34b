package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/redisx"
	"github.com/redisctl/redisctl/provision/remote"
)

// BackupOptions configure Backup.
type BackupOptions struct {
	Connect  Connector
	Progress *Progress
	Dir      string // local directory the RDB and its sidecars go to
	// FromMaster saves on the master when no replica is in sync; without
	// it Backup refuses rather than make the master fork under load.
	FromMaster bool
}

// BackupMeta is what a backup holds, kept beside it as <file>.json: restore
// checks the loaded dataset against Keys.
type BackupMeta struct {
	Cluster      string    `json:"cluster"`
	Source       string    `json:"source"` // node the RDB was saved on
	Role         string    `json:"role"`   // its role then: master or replica
	Time         time.Time `json:"time"`   // when BGSAVE forked, UTC
	Keys         int64     `json:"keys"`   // INFO keyspace of the source at the fork, all databases
	Expires      int64     `json:"expires"`
	RedisVersion string    `json:"redis_version"`
	Size         int64     `json:"size"`
	SHA256       string    `json:"sha256"`
}

// BackupResult is one backup on the control machine.
type BackupResult struct {
	File string `json:"file"`
	BackupMeta
	Duration time.Duration `json:"-"`
	Seconds  float64       `json:"seconds"`
}

// Backup saves the dataset of a replica that is in sync with the master
// (BGSAVE there, so the master does not fork under load) and copies the RDB
// to o.Dir as <cluster>-<UTC time>.rdb with a .sha256 (sha256sum format)
// and a .json (BackupMeta) beside it. It holds the cluster lock meanwhile.
func Backup(ctx context.Context, inv *inventory.Inventory, o BackupOptions) (*BackupResult, error) {
	if o.Dir == "" {
		return nil, errors.New("no backup directory given")
	}
	c, err := Connect(ctx, inv, o.Connect, o.Progress)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	unlock, err := c.authAndLock(ctx, "backup")
	if err != nil {
		return nil, err
	}
	defer unlock()
	n, role, err := c.BackupSource(ctx, o.FromMaster)
	if err != nil {
		return nil, err
	}
	return c.BackupNode(ctx, n, role, o.Dir)
}

// BackupSource chooses where to save, from one observation of the cluster.
func (c *Cluster) BackupSource(ctx context.Context, fromMaster bool) (*Node, string, error) {
	s := c.Observe(ctx)
	a := Analyze(s, c.Expectations())
	name, err := chooseBackupSource(s, a, c.Inv.Redis.Port, fromMaster)
	if err != nil {
		return nil, "", err
	}
	role := "replica"
	if name == a.Master {
		role = "master"
	}
	return c.Node(name), role, nil
}

// chooseBackupSource picks the replica least behind the master among those
// in sync with it: following the master with the link up and a lag no
// bigger than status tolerates (LagThresholdBytes). The master itself only
// when fromMaster is set and no replica is in sync. The error says why
// each replica was passed over.
func chooseBackupSource(s *Snapshot, a Analysis, redisPort int, fromMaster bool) (string, error) {
	if a.Master == "" {
		return "", fmt.Errorf("no master to back up: %s", a.Why)
	}
	masterAddr := net.JoinHostPort(s.Node(a.Master).Address, strconv.Itoa(redisPort))
	best, bestLag := "", int64(-1)
	var passed []string
	for _, nh := range s.Nodes {
		if nh.Name == a.Master {
			continue
		}
		r := nh.Redis
		lag, measured := a.Lag[nh.Name]
		switch {
		case !nh.Reachable:
			passed = append(passed, nh.Name+": unreachable")
		case r == nil || !r.Running:
			passed = append(passed, nh.Name+": redis does not answer")
		case r.Role != "replica":
			passed = append(passed, nh.Name+": role "+r.Role)
		case r.MasterAddr != masterAddr:
			passed = append(passed, nh.Name+": follows "+r.MasterAddr)
		case r.LinkStatus != "up":
			passed = append(passed, nh.Name+": link "+r.LinkStatus)
		case !measured:
			passed = append(passed, nh.Name+": lag unknown")
		case lag > LagThresholdBytes:
			passed = append(passed, fmt.Sprintf("%s: %d bytes behind", nh.Name, lag))
		case best == "" || lag < bestLag:
			best, bestLag = nh.Name, lag
		}
	}
	if best != "" {
		return best, nil
	}
	if fromMaster {
		return a.Master, nil
	}
	why := "there is none"
	if len(passed) > 0 {
		why = strings.Join(passed, "; ")
	}
	return "", fmt.Errorf("no replica is in sync with the master %s (%s); fix replication (redisctl status) or save on the master with --from-master", a.Master, why)
}

// BackupNode saves n's dataset with BGSAVE and copies the RDB to dir,
// checked against the host's sha256, with its .sha256 and .json beside it.
func (c *Cluster) BackupNode(ctx context.Context, n *Node, role, dir string) (*BackupResult, error) {
	if c.Password == "" {
		return nil, errors.New("no password known for the cluster, cannot talk to redis")
	}
	start := time.Now()
	cl := c.Data(n)
	meta := BackupMeta{Cluster: c.Inv.Name, Source: n.Spec.Name, Role: role}
	if s, err := cl.Info(ctx, "server").Result(); err == nil {
		meta.RedisVersion = redisx.ParseInfo(s)["redis_version"]
	}
	before, err := cl.LastSave(ctx).Result()
	if err != nil {
		return nil, err
	}
	c.P.Printf(n.Spec.Name, "BGSAVE (%s)", role)
	var savesBefore string
	if meta.Keys, meta.Expires, savesBefore, err = bgsave(ctx, cl); err != nil {
		return nil, err
	}
	meta.Time = time.Now().UTC().Truncate(time.Second)
	err = WaitFor(ctx, "BGSAVE to finish on "+n.Spec.Name, 30*time.Minute, 200*time.Millisecond, func(ctx context.Context) (bool, string) {
		s, err := cl.Info(ctx, "persistence").Result()
		if err != nil {
			return false, err.Error()
		}
		i := redisx.ParseInfo(s)
		// A BGSAVE in a transaction is only scheduled: it forks at the
		// next cron tick, so "not in progress" may come before it. The
		// count of saves (rdb_saves, Redis 7.0 and Valkey) tells; LASTSAVE
		// counts seconds, and a save that ends in the second of the one
		// before (a FLUSHALL's, say) would leave it unchanged for ever.
		var done bool
		if saves, ok := i["rdb_saves"]; ok && savesBefore != "" {
			done = i["rdb_bgsave_in_progress"] == "0" && saves != savesBefore
		} else {
			last, _ := cl.LastSave(ctx).Result()
			done = i["rdb_bgsave_in_progress"] == "0" && last > before
		}
		if done && i["rdb_last_bgsave_status"] != "ok" {
			return false, "rdb_last_bgsave_status:" + i["rdb_last_bgsave_status"]
		}
		return done, fmt.Sprintf("in progress %s, status %s", i["rdb_bgsave_in_progress"], i["rdb_last_bgsave_status"])
	})
	if err != nil {
		return nil, err
	}
	remotePath, err := rdbPath(ctx, cl)
	if err != nil {
		return nil, err
	}
	sumOut, err := remote.Output(ctx, n.Host, "sha256sum -- "+remote.Quote(remotePath))
	if err != nil {
		return nil, err
	}
	wantSum, _, _ := strings.Cut(strings.TrimSpace(sumOut), " ")
	if len(wantSum) != sha256.Size*2 {
		return nil, fmt.Errorf("sha256sum %s printed %q, not a sha256", remotePath, remote.Tail(sumOut, 1))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	local := filepath.Join(dir, backupName(c.Inv.Name, meta.Time))
	if meta.Size, err = streamToFile(ctx, n.Host, remotePath, local, wantSum); err != nil {
		return nil, err
	}
	meta.SHA256 = wantSum
	if err := writeSidecars(local, meta); err != nil {
		return nil, err
	}
	res := &BackupResult{File: local, BackupMeta: meta, Duration: time.Since(start)}
	res.Seconds = res.Duration.Round(100 * time.Millisecond).Seconds()
	c.P.Printf(n.Spec.Name, "backed up %s (%d bytes, %d keys, sha256 %s) to %s", remotePath, meta.Size, meta.Keys, wantSum[:12], local)
	return res, nil
}

// backupName is <cluster>-<UTC time YYYYmmddTHHMMSSZ>.rdb.
func backupName(cluster string, t time.Time) string {
	return fmt.Sprintf("%s-%s.rdb", cluster, t.UTC().Format("20060102T150405Z"))
}

// bgsave counts the keys and starts a BGSAVE in one MULTI, so the count is
// that of the forked dataset even while writes (or the replication stream)
// go on. A save already running (a full sync to a replica, say) is waited
// for and the BGSAVE tried again. saves is rdb_saves as the transaction
// saw it ("" before Redis 7.0): the save is done when it has grown.
func bgsave(ctx context.Context, cl *redis.Client) (keys, expires int64, saves string, err error) {
	for attempt := 0; ; attempt++ {
		var info *redis.StringCmd
		_, err = cl.TxPipelined(ctx, func(p redis.Pipeliner) error {
			info = p.Info(ctx) // the default sections: keyspace and persistence among them, in every version
			p.BgSave(ctx)
			return nil
		})
		if err == nil {
			keys, expires = keyspaceCounts(info.Val())
			return keys, expires, redisx.ParseInfo(info.Val())["rdb_saves"], nil
		}
		if !strings.Contains(err.Error(), "already in progress") || attempt >= 3 {
			return 0, 0, "", fmt.Errorf("BGSAVE: %w", err)
		}
		err = WaitFor(ctx, "the save in progress to finish", 30*time.Minute, 500*time.Millisecond, func(ctx context.Context) (bool, string) {
			s, err := cl.Info(ctx, "persistence").Result()
			if err != nil {
				return false, err.Error()
			}
			v := redisx.ParseInfo(s)["rdb_bgsave_in_progress"]
			return v == "0", "rdb_bgsave_in_progress:" + v
		})
		if err != nil {
			return 0, 0, "", err
		}
	}
}

// keyspaceCounts sums keys and expires over the databases of INFO
// keyspace ("db0:keys=500,expires=0,avg_ttl=0").
func keyspaceCounts(info string) (keys, expires int64) {
	for k, v := range redisx.ParseInfo(info) {
		if !strings.HasPrefix(k, "db") {
			continue
		}
		if _, err := strconv.Atoi(k[2:]); err != nil {
			continue
		}
		f := redisx.Fields(v)
		n, _ := strconv.ParseInt(f["keys"], 10, 64)
		e, _ := strconv.ParseInt(f["expires"], 10, 64)
		keys += n
		expires += e
	}
	return keys, expires
}

// authAndLock gives c the cluster's stored password and takes the run
// lock for command (see Lock), as the commands that work on a live cluster
// (backup, restore) begin.
func (c *Cluster) authAndLock(ctx context.Context, command string) (func(), error) {
	pw, _, _, err := ResolvePassword(c.Inv, false)
	if err != nil {
		return nil, err
	}
	if _, err := c.UseSecrets(pw, false, false); err != nil {
		return nil, err
	}
	return c.Lock(ctx, command)
}

// rdbPath is the server's RDB file: CONFIG GET dir and dbfilename.
func rdbPath(ctx context.Context, cl *redis.Client) (string, error) {
	dir, err := cl.ConfigGet(ctx, "dir").Result()
	if err != nil {
		return "", err
	}
	fn, err := cl.ConfigGet(ctx, "dbfilename").Result()
	if err != nil {
		return "", err
	}
	if dir["dir"] == "" || fn["dbfilename"] == "" || strings.Contains(fn["dbfilename"], "/") {
		return "", fmt.Errorf("CONFIG GET dir %q and dbfilename %q do not name a file", dir["dir"], fn["dbfilename"])
	}
	return path.Join(dir["dir"], fn["dbfilename"]), nil
}

// writeSidecars writes <rdb>.sha256 (sha256sum -c checks it in that
// directory) and <rdb>.json (the BackupMeta), each whole or absent.
func writeSidecars(rdb string, meta BackupMeta) error {
	sum := fmt.Sprintf("%s  %s\n", meta.SHA256, filepath.Base(rdb))
	js, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(rdb+".sha256", []byte(sum)); err != nil {
		return err
	}
	return writeFileAtomic(rdb+".json", append(js, '\n'))
}

// writeFileAtomic writes a new file through a temporary one and a rename.
func writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".partial-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// streamToFile copies remotePath from h into a new file local, hashing the
// bytes as they go to disk: the dataset may be bigger than memory. It
// writes a temporary file next to local and renames it only once the
// sha256 of what was written is wantSum, so local is whole or absent.
func streamToFile(ctx context.Context, h remote.Host, remotePath, local, wantSum string) (int64, error) {
	if _, err := os.Lstat(local); err == nil {
		return 0, fmt.Errorf("backup %s exists already; not overwriting it", local)
	}
	tmp, err := os.CreateTemp(filepath.Dir(local), "."+filepath.Base(local)+".partial-*")
	if err != nil {
		return 0, err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	hash := sha256.New()
	size, err := h.ReadFileTo(ctx, remotePath, io.MultiWriter(tmp, hash))
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", remotePath, err)
	}
	if got := hex.EncodeToString(hash.Sum(nil)); got != wantSum {
		return 0, fmt.Errorf("the copy of %s (%d bytes, sha256 %s) does not match the host's sha256 %s; did a save replace the file meanwhile? Run again", remotePath, size, got, wantSum)
	}
	if err := tmp.Sync(); err != nil {
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), local); err != nil {
		return 0, err
	}
	done = true
	// The rename itself must reach the disk too.
	if d, err := os.Open(filepath.Dir(local)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return size, nil
}
