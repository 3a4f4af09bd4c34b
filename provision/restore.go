package provision

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote"
)

// RestoreOptions configure Restore.
type RestoreOptions struct {
	Connect  Connector
	Progress *Progress
	File     string // the RDB on the control machine
	// Confirm is shown the plan and returns whether to go on.
	Confirm func(plan string) (bool, error)
	// SyncTimeout bounds the waits for the master to load and the replicas
	// to resync; 0 is ten minutes.
	SyncTimeout time.Duration
}

// RestoreResult says what was loaded where.
type RestoreResult struct {
	File         string   `json:"file"`
	SHA256       string   `json:"sha256"`
	Checked      bool     `json:"sha256_checked"` // against the .sha256 beside the file
	Master       string   `json:"master"`
	Keys         int64    `json:"keys"`                    // on the master after the load
	ExpectedKeys *int64   `json:"expected_keys,omitempty"` // from the .json beside the file
	Previous     string   `json:"previous"`                // the master's dataset before, kept on its host
	Seconds      float64  `json:"seconds"`
	Notes        []string `json:"notes,omitempty"`
}

// restoreHoldDownAfter is the down-after-milliseconds the sentinels get
// while the master restarts with the restored file. Redis 7 has no command
// that pauses failovers; a failover now would promote a replica with the
// old data, and the restored master would then be turned into its replica
// and lose the restore. SENTINEL SET down-after-milliseconds is persisted
// by each sentinel and taken back the same way; if redisctl dies before it
// sets it back, `redisctl up` does (the inventory's value differs, and up
// applies it live), and plan shows it.
const restoreHoldDownAfter = time.Hour

// restorePrep is what Restore learned before it changes anything.
type restorePrep struct {
	master   *Node
	replicas []*Node
	rdb      string // the server's dir/dbfilename
	staged   string // where the upload goes, beside it
	previous string // where the current dump goes
	sha      string
	size     int64
	meta     *BackupMeta
	checked  bool
	rdbVer   int
	server   Build // the master's engine and version
}

// Restore loads a backup into the cluster: checks the file, takes the lock,
// uploads it beside the master's RDB, holds the sentinels back from failing
// over, stops the master (which saves), moves its RDB aside and the upload
// into place, starts it, waits until every replica has resynced, sets the
// sentinels back, and compares the master's key count with the backup's.
func Restore(ctx context.Context, inv *inventory.Inventory, o RestoreOptions) (*RestoreResult, error) {
	start := time.Now()
	if o.SyncTimeout == 0 {
		o.SyncTimeout = 10 * time.Minute
	}
	res := &RestoreResult{File: o.File}
	sha, size, checked, err := checkBackupFile(o.File)
	if err != nil {
		return res, err
	}
	res.SHA256, res.Checked = sha, checked
	meta, err := readBackupMeta(o.File)
	if err != nil {
		return res, err
	}
	rdbVer, err := rdbFileVersion(o.File)
	if err != nil {
		return res, err
	}

	c, err := Connect(ctx, inv, o.Connect, o.Progress)
	if err != nil {
		return res, err
	}
	defer c.Close()
	if err := c.GatherFacts(ctx); err != nil {
		return res, err
	}
	unlock, err := c.authAndLock(ctx, "restore")
	if err != nil {
		return res, err
	}
	defer unlock()

	rp, err := c.prepareRestore(ctx)
	if err != nil {
		return res, err
	}
	rp.sha, rp.size, rp.meta, rp.checked, rp.rdbVer = sha, size, meta, checked, rdbVer
	// A release loads its own RDB format and older ones; when redisctl
	// does not know the format, the load is tried, and undone if it fails.
	if top, ok := RdbFormat(rp.server); ok && rdbVer > top {
		return res, fmt.Errorf("%s is RDB version %d, which %s cannot load (it reads up to %d); restore it on a cluster of the version that wrote it; nothing was changed", o.File, rdbVer, rp.server, top)
	}
	res.Master = rp.master.Spec.Name
	if meta != nil {
		k := meta.Keys
		res.ExpectedKeys = &k
	}
	if o.Confirm != nil {
		ok, err := o.Confirm(c.restorePlan(o.File, rp))
		if err != nil {
			return res, err
		}
		if !ok {
			return res, ErrNotConfirmed
		}
	}
	if err := c.restore(ctx, rp, o.File, o.SyncTimeout, res); err != nil {
		return res, err
	}
	res.Seconds = time.Since(start).Round(100 * time.Millisecond).Seconds()
	return res, nil
}

// prepareRestore finds the master and refuses what a restore cannot do:
// a cluster that is not healthy (every replica must resync and every
// sentinel be held back), or a master with AOF on (it would load the AOF,
// not the RDB).
func (c *Cluster) prepareRestore(ctx context.Context) (*restorePrep, error) {
	s := c.Observe(ctx)
	a := Analyze(s, c.Expectations())
	if a.Verdict != Healthy {
		var lines []string
		for _, p := range a.Problems {
			lines = append(lines, p.String())
		}
		return nil, fmt.Errorf("the cluster is %s; a restore needs a healthy cluster (every replica resyncs, every sentinel is held back), so nothing was changed:\n  %s", a.Verdict, strings.Join(lines, "\n  "))
	}
	rp := &restorePrep{master: c.Node(a.Master)}
	for _, n := range c.Nodes {
		if n != rp.master {
			rp.replicas = append(rp.replicas, n)
		}
	}
	if m := s.Node(a.Master).Redis; m != nil {
		rp.server = Build{Engine: m.Engine, Version: m.Version}
	}
	cl := c.Data(rp.master)
	aof, err := cl.ConfigGet(ctx, "appendonly").Result()
	if err != nil {
		return nil, err
	}
	if aof["appendonly"] == "yes" {
		return nil, fmt.Errorf("%s has appendonly yes: Redis loads the AOF rather than the RDB at start, so a restore would not take; turn AOF off (appendonly no) first, nothing was changed", rp.master.Spec.Name)
	}
	if rp.rdb, err = rdbPath(ctx, cl); err != nil {
		return nil, err
	}
	dir, base := path.Split(rp.rdb)
	rp.staged = path.Join(dir, "redisctl-restore-"+base)
	rp.previous = path.Join(dir, base+".before-restore-"+time.Now().UTC().Format("20060102T150405Z"))
	return rp, nil
}

func (c *Cluster) restorePlan(file string, rp *restorePrep) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  load %s (%d bytes, sha256 %s", file, rp.size, rp.sha[:12])
	if rp.meta != nil {
		fmt.Fprintf(&b, ", %d keys, saved on %s of cluster %s at %s", rp.meta.Keys, rp.meta.Source, rp.meta.Cluster, rp.meta.Time.Format(time.RFC3339))
	}
	fmt.Fprintf(&b, ") into the master %s, replacing ALL of its data\n", rp.master.Spec.Name)
	if rp.meta != nil && rp.meta.Cluster != c.Inv.Name {
		fmt.Fprintf(&b, "  note: the backup is of cluster %s, this is cluster %s\n", rp.meta.Cluster, c.Inv.Name)
	}
	fmt.Fprintf(&b, "  hold every sentinel back from failing over (down-after-milliseconds %d) until the replicas are back in sync\n", restoreHoldDownAfter.Milliseconds())
	fmt.Fprintf(&b, "  %s: upload it as %s; stop redis; move %s to %s and the upload into place; start redis\n", rp.master.Spec.Name, rp.staged, rp.rdb, rp.previous)
	fmt.Fprintf(&b, "  the replicas resync from it in full; writes made meanwhile to the master are kept on top of the restored data\n")
	return b.String()
}

// restore does the changes. Order matters: the master saves when it
// stops (SIGTERM), which would overwrite a file put in place before, so
// the upload is moved over the RDB only once the process is gone.
func (c *Cluster) restore(ctx context.Context, rp *restorePrep, file string, timeout time.Duration, res *RestoreResult) (err error) {
	m := rp.master
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	c.P.Printf(m.Spec.Name, "uploading %s to %s", file, rp.staged)
	if err := m.Host.Upload(ctx, rp.staged, f, 0o640, "redis:redis"); err != nil {
		return err
	}
	out, err := remote.Output(ctx, m.Host, "sha256sum -- "+remote.Quote(rp.staged))
	if err != nil {
		return err
	}
	if got, _, _ := strings.Cut(strings.TrimSpace(out), " "); got != rp.sha {
		_ = m.Host.Run(ctx, remote.Cmd("rm", "-f", "--", rp.staged), nil, nil, nil)
		return fmt.Errorf("the upload %s has sha256 %q, not %s; nothing was changed", rp.staged, got, rp.sha)
	}

	swapped := false
	defer func() {
		if !swapped {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = m.Host.Run(rctx, remote.Cmd("rm", "-f", "--", rp.staged), nil, nil, nil)
		}
	}()
	release, err := c.holdSentinels(ctx)
	if err != nil {
		return errors.Join(err, release())
	}
	defer func() {
		if rerr := release(); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()

	// From the stop to the start the master is down: an interrupted run
	// (Ctrl-C) still finishes this part, so it never leaves it stopped.
	crit, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*timeout+time.Minute)
	defer cancel()
	if _, err := c.StopService(crit, m, c.Layout.RedisService, c.Layout.RedisPid); err != nil {
		return err
	}
	c.P.Printf(m.Spec.Name, "moving %s to %s and the upload into its place", rp.rdb, rp.previous)
	if err := m.Host.Run(crit, swapScript(rp.staged, rp.rdb, rp.previous), nil, nil, nil); err != nil {
		_, _, serr := c.StartService(crit, m, c.Layout.RedisService, c.Layout.RedisPid)
		return errors.Join(fmt.Errorf("put the backup in place: %w", err), serr)
	}
	swapped = true
	res.Previous = rp.previous
	if err := c.startLoaded(crit, m, timeout); err != nil {
		// The file does not load: put the dataset from before back.
		c.P.Printf(m.Spec.Name, "redis does not start with the restored file; putting %s back", rp.previous)
		_, _ = c.StopService(crit, m, c.Layout.RedisService, c.Layout.RedisPid)
		back := m.Host.Run(crit, fmt.Sprintf("mv -f -T -- %s %s", remote.Quote(rp.previous), remote.Quote(rp.rdb)), nil, nil, nil)
		res.Previous = ""
		return errors.Join(fmt.Errorf("start %s with the restored file: %w", m.Spec.Name, err), back, c.startLoaded(crit, m, timeout))
	}
	if err := c.WaitReplication(ctx, m, rp.replicas, timeout); err != nil {
		return fmt.Errorf("the master has the restored data, but the replicas did not resync: %w", err)
	}
	if err := release(); err != nil {
		return err
	}
	if err := c.Verify(ctx, m, timeout); err != nil {
		return err
	}
	info, err := c.Data(m).Info(ctx, "keyspace").Result()
	if err != nil {
		return err
	}
	res.Keys, _ = keyspaceCounts(info)
	return checkRestoredKeys(res, rp.meta)
}

// checkRestoredKeys compares the master's key count after the load with
// the backup's. Keys with a TTL may have expired since the backup: a
// shortfall up to the backup's count of them is a note, not an error.
func checkRestoredKeys(res *RestoreResult, meta *BackupMeta) error {
	if meta == nil {
		res.Notes = append(res.Notes, fmt.Sprintf("no %s.json beside the file: the master holds %d keys, not compared with the backup", path.Base(res.File), res.Keys))
		return nil
	}
	switch short := meta.Keys - res.Keys; {
	case short == 0:
		return nil
	case short > 0 && short <= meta.Expires:
		res.Notes = append(res.Notes, fmt.Sprintf("the master holds %d keys, the backup %d: %d of its %d keys with a TTL expired since", res.Keys, meta.Keys, short, meta.Expires))
		return nil
	default:
		return fmt.Errorf("the master holds %d keys after the restore, the backup %d (its %s.json); writes since the restore, or the wrong file?", res.Keys, meta.Keys, path.Base(res.File))
	}
}

// swapScript moves the current RDB aside and the staged file into its
// place, refusing a staged path that is not a plain file (the directory
// belongs to redis).
func swapScript(staged, rdb, previous string) string {
	return fmt.Sprintf(`set -e
s=%s; r=%s; p=%s
[ -f "$s" ] && [ ! -L "$s" ] || { echo "$s is missing or not a plain file" >&2; exit 1; }
if [ -e "$r" ] || [ -L "$r" ]; then mv -f -T -- "$r" "$p"; fi
mv -f -T -- "$s" "$r"
`, remote.Quote(staged), remote.Quote(rdb), remote.Quote(previous))
}

// startLoaded starts the master's redis and waits until it has loaded its
// dataset and answers (PING answers LOADING until then).
func (c *Cluster) startLoaded(ctx context.Context, n *Node, timeout time.Duration) error {
	if _, _, err := c.StartService(ctx, n, c.Layout.RedisService, c.Layout.RedisPid); err != nil {
		return err
	}
	return c.WaitPing(ctx, n, false, timeout)
}

// holdSentinels raises down-after-milliseconds on every sentinel to
// restoreHoldDownAfter, so none sees the restarting master as down and
// fails over. release sets each sentinel back to the value it had, checks
// that it took, and may be called more than once; it runs on a context of
// its own, so a cancelled run still sets the sentinels back.
func (c *Cluster) holdSentinels(ctx context.Context) (release func() error, err error) {
	name := c.Inv.Name
	type held struct {
		n   *Node
		old string
	}
	var done []held
	released := false
	release = func() error {
		if released {
			return nil
		}
		released = true
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		var errs []error
		for _, h := range done {
			if err := c.setDownAfter(rctx, h.n, name, h.old); err != nil {
				errs = append(errs, &HostError{Host: h.n.Spec.Name, Step: "set the sentinel's down-after-milliseconds back to " + h.old, Err: err})
			}
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("%w\nrun `redisctl up` to set the inventory's value again", err)
		}
		if len(done) > 0 {
			c.P.Printf("", "sentinels: down-after-milliseconds set back")
		}
		return nil
	}
	hold := strconv.FormatInt(restoreHoldDownAfter.Milliseconds(), 10)
	for _, n := range c.Sentinels() {
		mp, err := readSentinelMaster(ctx, c.Sentinel(n), name)
		if err != nil {
			return release, &HostError{Host: n.Spec.Name, Step: "read the sentinel's down-after-milliseconds", Err: err}
		}
		old := mp["down-after-milliseconds"]
		if _, err := strconv.Atoi(old); err != nil {
			return release, &HostError{Host: n.Spec.Name, Step: "read the sentinel's down-after-milliseconds", Err: fmt.Errorf("SENTINEL MASTER gives %q", old)}
		}
		if err := c.setDownAfter(ctx, n, name, hold); err != nil {
			return release, &HostError{Host: n.Spec.Name, Step: "hold the sentinel back", Err: err}
		}
		done = append(done, held{n, old})
	}
	c.P.Printf("", "sentinels: down-after-milliseconds %s while the master restarts", hold)
	return release, nil
}

// setDownAfter sets one sentinel's down-after-milliseconds and reads it back.
func (c *Cluster) setDownAfter(ctx context.Context, n *Node, name, ms string) error {
	cl := c.Sentinel(n)
	if err := cl.Do(ctx, "SENTINEL", "SET", name, "down-after-milliseconds", ms).Err(); err != nil {
		return err
	}
	mp, err := readSentinelMaster(ctx, cl, name)
	if err != nil {
		return err
	}
	if got := mp["down-after-milliseconds"]; got != ms {
		return fmt.Errorf("down-after-milliseconds is %q after SENTINEL SET %s", got, ms)
	}
	return nil
}

// readSentinelMaster is SENTINEL MASTER name as go-redis's SentinelClient
// types it (SentinelClient.Master), on the sentinel's shared client.
func readSentinelMaster(ctx context.Context, cl *redis.Client, name string) (map[string]string, error) {
	cmd := redis.NewMapStringStringCmd(ctx, "sentinel", "master", name)
	_ = cl.Process(ctx, cmd)
	return cmd.Result()
}

// checkBackupFile hashes file and, when file.sha256 exists, compares.
func checkBackupFile(file string) (sum string, size int64, checked bool, err error) {
	f, err := os.Open(file)
	if err != nil {
		return "", 0, false, err
	}
	defer f.Close()
	h := sha256.New()
	if size, err = io.Copy(h, f); err != nil {
		return "", 0, false, err
	}
	sum = hex.EncodeToString(h.Sum(nil))
	want, err := os.ReadFile(file + ".sha256")
	if errors.Is(err, fs.ErrNotExist) {
		return sum, size, false, nil
	}
	if err != nil {
		return "", 0, false, err
	}
	w, _, _ := strings.Cut(strings.TrimSpace(string(want)), " ")
	if w != sum {
		return "", 0, false, fmt.Errorf("%s has sha256 %s, but %s.sha256 says %s: the file is damaged or not the one backed up; nothing was changed", file, sum, path.Base(file), w)
	}
	return sum, size, true, nil
}

// readBackupMeta reads file.json, nil when there is none.
func readBackupMeta(file string) (*BackupMeta, error) {
	data, err := os.ReadFile(file + ".json")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m BackupMeta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s.json: %w", file, err)
	}
	return &m, nil
}

// rdbFileVersion reads the "REDIS0010" header of an RDB file.
func rdbFileVersion(file string) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	head := make([]byte, 9)
	if _, err := io.ReadFull(bufio.NewReader(f), head); err != nil || string(head[:5]) != "REDIS" {
		return 0, fmt.Errorf("%s is not an RDB file (it does not start with REDIS and a version)", file)
	}
	v, err := strconv.Atoi(string(head[5:]))
	if err != nil {
		return 0, fmt.Errorf("%s is not an RDB file (version %q)", file, head[5:])
	}
	return v, nil
}
