package provision

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/redisx"
	"github.com/redisctl/redisctl/provision/remote"
)

// Failure modes of failover-test.
const (
	ModeStop   = "stop"   // stop the service, as the seed does
	ModeKill   = "kill"   // SIGKILL the master
	ModePause  = "pause"  // SIGSTOP longer than down-after, then SIGCONT
	ModeManual = "manual" // SENTINEL FAILOVER: graceful, should lose nothing
)

// FailoverOptions configure FailoverTest.
type FailoverOptions struct {
	Connect   Connector
	Progress  *Progress
	Mode      string
	NoRestore bool
	// WriteInterval is the pause between two writes of the test writer.
	WriteInterval time.Duration
}

// FailoverReport is what failover-test measured. A sentinel event that was
// not seen (a graceful failover has no +sdown) leaves its time nil, absent
// from the JSON.
type FailoverReport struct {
	Mode              string   `json:"mode"`
	OldMaster         string   `json:"old_master"`
	NewMaster         string   `json:"new_master"`
	DetectionSeconds  *float64 `json:"detection_seconds,omitempty"` // failure to first +sdown of the master
	ODownSeconds      *float64 `json:"odown_seconds,omitempty"`     // failure to first +odown
	PromotionSeconds  *float64 `json:"promotion_seconds,omitempty"` // failure to first +switch-master
	AgreementSeconds  float64  `json:"agreement_seconds"`           // failure to every sentinel naming the new master
	UnwritableSeconds float64  `json:"unwritable_seconds"`          // longest time the writer saw no writable master
	WritesAttempted   int      `json:"writes_attempted"`
	WritesAcked       int      `json:"writes_acknowledged"`
	WritesFailed      int      `json:"writes_failed"`
	AckedMissing      int      `json:"acknowledged_writes_missing"`
	Restored          bool     `json:"old_master_restored"`
	RestoreSeconds    *float64 `json:"restore_seconds,omitempty"` // absent with --no-restore
	FinalVerdict      Verdict  `json:"final_verdict"`
	FinalProblems     []string `json:"final_problems,omitempty"`
	Notes             []string `json:"notes,omitempty"`
}

// PreflightError is a failover test refused because the cluster is not
// healthy; nothing was changed.
type PreflightError struct{ Health *Health }

func (e *PreflightError) Error() string {
	var lines []string
	for _, p := range e.Health.Problems {
		lines = append(lines, "  - "+p.String())
	}
	return fmt.Sprintf("refusing to test a failover: the cluster is %s, nothing was changed:\n%s", e.Health.Verdict, strings.Join(lines, "\n"))
}

// FailoverTest fails the master in the chosen mode while a writer runs,
// follows the sentinels' events, verifies the new topology, restores the
// old master as a replica and reads back every acknowledged write. It
// reports what it measured, loss included.
func FailoverTest(ctx context.Context, inv *inventory.Inventory, opts FailoverOptions) (*FailoverReport, error) {
	switch opts.Mode {
	case ModeStop, ModeKill, ModePause, ModeManual:
	default:
		return nil, fmt.Errorf("unknown mode %q (want stop, kill, pause or manual)", opts.Mode)
	}
	if opts.WriteInterval == 0 {
		opts.WriteInterval = 10 * time.Millisecond
	}
	p := opts.Progress
	pw, _, _, err := ResolvePassword(inv, false)
	if err != nil {
		return nil, err
	}
	c, err := Connect(ctx, inv, opts.Connect, p)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if _, err := c.UseSecrets(pw, false, false); err != nil {
		return nil, err
	}
	unlock, err := c.Lock(ctx, "failover-test --mode "+opts.Mode)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := c.GatherFacts(ctx); err != nil {
		return nil, err
	}

	p.Printf("", "==> preflight")
	// A sentinel reconnecting to a restarted peer looks degraded for a
	// moment: give the cluster a few seconds before refusing.
	var h *Health
	_ = WaitFor(ctx, "a healthy cluster", 5*time.Second, 500*time.Millisecond, func(ctx context.Context) (bool, string) {
		h = c.CheckHealth(ctx, nil)
		return h.Verdict == Healthy && h.Analysis.Master != "", h.Verdict.String()
	})
	if h.Verdict != Healthy || h.Analysis.Master == "" {
		return nil, &PreflightError{Health: h}
	}
	old := c.Node(h.Analysis.Master)
	rep := &FailoverReport{Mode: opts.Mode, OldMaster: old.Spec.Name}
	p.Printf("", "healthy; master %s", old.Spec)
	var pid int
	if opts.Mode == ModeKill || opts.Mode == ModePause {
		// Which process to signal is settled before anything starts.
		if pid, err = c.serverPid(ctx, old); err != nil {
			return rep, err
		}
	}

	p.Printf("", "==> start the writer and the sentinel event listeners")
	events := c.listenSentinels(ctx)
	defer events.stop()
	w := c.startWriter(ctx, opts.WriteInterval)
	defer w.stop()
	if err := w.waitAcks(ctx, 20, 10*time.Second); err != nil {
		return rep, fmt.Errorf("the writer cannot write before the failure: %w", err)
	}

	p.Printf("", "==> fail the master %s (mode %s)", old.Spec.Name, opts.Mode)
	t0 := time.Now()
	events.mark(t0)
	resume, err := c.failMaster(ctx, old, opts.Mode, pid)
	if err != nil {
		return rep, err
	}

	bound := PromotionBound(inv)
	p.Printf("", "==> wait for every sentinel to name a new master (at most %s)", bound.Round(time.Second))
	if resume != nil {
		var once sync.Once
		r := resume
		resume = func() (err error) {
			once.Do(func() { err = r() })
			return err
		}
		defer resume()
	}
	newMaster, err := c.WaitNewMaster(ctx, old, bound)
	if err == nil && opts.Mode == ModePause {
		err = resume()
	}
	if err != nil {
		return rep, err
	}
	rep.NewMaster = newMaster.Spec.Name
	rep.AgreementSeconds = secs(time.Since(t0))
	p.Printf("", "every sentinel names %s after %.1fs", newMaster.Spec, rep.AgreementSeconds)

	p.Printf("", "==> verify the new topology")
	// Sentinel ends the promoted node's client connections as it promotes
	// it (CLIENT KILL TYPE normal), and a pooled connection through SSH
	// cannot be seen to be dead before it is used: ask on new ones.
	c.forgetClient(newMaster, false)
	var others []*Node
	for _, n := range c.Nodes {
		if n != newMaster && n != old {
			others = append(others, n)
		}
	}
	if err := c.WaitReplication(ctx, newMaster, others, 30*time.Second); err != nil {
		return rep, fmt.Errorf("after the failover: %w", err)
	}
	if err := c.Data(newMaster).Set(ctx, "redisctl:failover-test:probe", "1", 10*time.Second).Err(); err != nil {
		return rep, fmt.Errorf("the new master %s refuses a write: %w", newMaster.Spec.Name, err)
	}

	// The writer's Sentinel-aware client must find the new master by itself.
	agreed := time.Now()
	if err := w.waitAcksSince(ctx, agreed, 20, 20*time.Second); err != nil {
		return rep, fmt.Errorf("the writer's Sentinel-aware client found no writable master after the failover: %w", err)
	}
	if opts.Mode == ModeManual {
		// The writer has moved; make the old master a replica before its
		// writes resume, so nothing held by the pause lands there.
		if err := c.Demote(ctx, old, newMaster); err != nil {
			return rep, errors.Join(err, resume())
		}
		if err := resume(); err != nil {
			return rep, err
		}
		if err := c.WaitRole(ctx, old, "replica", bound); err != nil {
			return rep, err
		}
	}

	if !opts.NoRestore {
		p.Printf("", "==> restore %s as a replica of %s", old.Spec.Name, newMaster.Spec.Name)
		rs := time.Now()
		if err := c.restoreOldMaster(ctx, old, newMaster, opts.Mode); err != nil {
			return rep, err
		}
		rep.Restored = true
		restore := secs(time.Since(rs))
		rep.RestoreSeconds = &restore
	}

	p.Printf("", "==> stop the writer and read back every acknowledged write")
	w.stop()
	events.stop()
	rep.DetectionSeconds, rep.ODownSeconds, rep.PromotionSeconds = events.first("+sdown"), events.first("+odown"), events.first("+switch-master")
	rep.WritesAttempted, rep.WritesAcked, rep.WritesFailed = w.counts()
	rep.UnwritableSeconds = secs(w.longestGap())
	for _, e := range w.errorsSeen() {
		rep.Notes = append(rep.Notes, "write error seen: "+e)
	}
	missing, err := c.countMissing(ctx, newMaster, w)
	if err != nil {
		return rep, err
	}
	rep.AckedMissing = missing
	if err := c.deleteKeys(ctx, newMaster, w); err != nil {
		rep.Notes = append(rep.Notes, "could not delete the test keys: "+err.Error())
	}
	if missing > 0 && opts.Mode == ModeManual {
		rep.Notes = append(rep.Notes, fmt.Sprintf("a graceful failover should lose no acknowledged write, but %d are missing", missing))
	}
	if missing > 0 && opts.Mode != ModeManual {
		rep.Notes = append(rep.Notes, "replication is asynchronous: writes acknowledged by the old master and not yet replicated are lost in a failover")
	}

	final := c.CheckHealth(ctx, nil)
	if !opts.NoRestore {
		// The sentinels take a moment to see the restored node as a healthy replica.
		_ = WaitFor(ctx, "a healthy cluster after the test", 30*time.Second, time.Second, func(ctx context.Context) (bool, string) {
			final = c.CheckHealth(ctx, nil)
			return final.Verdict == Healthy, final.Verdict.String()
		})
	}
	rep.FinalVerdict = final.Verdict
	for _, pr := range final.Problems {
		rep.FinalProblems = append(rep.FinalProblems, pr.String())
	}
	if !opts.NoRestore && final.Verdict != Healthy {
		return rep, fmt.Errorf("the cluster is %s after the failover test", final.Verdict)
	}
	if opts.Mode == ModeManual && missing > 0 {
		return rep, fmt.Errorf("%d acknowledged writes are missing after a graceful failover", missing)
	}
	return rep, nil
}

func secs(d time.Duration) float64 {
	return float64(d.Round(10*time.Millisecond)) / float64(time.Second)
}

// failMaster injects the failure; for pause it returns the resume step.
// For kill and pause, pid is the master's process as serverPid confirmed it.
func (c *Cluster) failMaster(ctx context.Context, old *Node, mode string, pid int) (func() error, error) {
	switch mode {
	case ModeStop:
		_, err := c.StopService(ctx, old, c.Layout.RedisService, c.Layout.RedisPid)
		return nil, err
	case ModeKill:
		c.P.Printf(old.Spec.Name, "kill -9 %d", pid)
		c.forgetClient(old, false)
		return nil, old.Host.Run(ctx, remote.Cmd("kill", "-KILL", strconv.Itoa(pid)), nil, nil, nil)
	case ModePause:
		c.P.Printf(old.Spec.Name, "kill -STOP %d (until the sentinels agree on a new master)", pid)
		if err := old.Host.Run(ctx, remote.Cmd("kill", "-STOP", strconv.Itoa(pid)), nil, nil, nil); err != nil {
			return nil, err
		}
		return func() error {
			c.P.Printf(old.Spec.Name, "kill -CONT %d", pid)
			return old.Host.Run(context.WithoutCancel(ctx), remote.Cmd("kill", "-CONT", strconv.Itoa(pid)), nil, nil, nil)
		}, nil
	default: // manual
		return c.GracefulFailover(ctx, old)
	}
}

// serverPid is the pid of the Redis that answers on old's port, as the
// server itself reports it (INFO server process_id, through the SSH
// tunnel), confirmed by the pid file and /proc/PID/exe. A signal sent as
// root goes to that process only: the pid file alone is writable by redis
// and could name any process.
func (c *Cluster) serverPid(ctx context.Context, n *Node) (int, error) {
	s, err := c.Data(n).Info(ctx, "server").Result()
	if err != nil {
		return 0, fmt.Errorf("%s: ask redis for its pid: %w", n.Spec.Name, err)
	}
	pid := int(redisx.ParseInfo(s).Int("process_id"))
	if pid <= 0 {
		return 0, fmt.Errorf("%s: redis reported no process_id in INFO server", n.Spec.Name)
	}
	file, err := c.LivePid(ctx, n, c.Layout.RedisPid)
	if err != nil {
		return 0, err
	}
	if file != pid {
		return 0, fmt.Errorf("%s: redis on port %d reports pid %d, but %s names %s; refusing to signal a process redisctl cannot confirm is its redis-server (restart it with the service script first)",
			n.Spec.Name, c.Inv.Redis.Port, pid, c.Layout.RedisPid, pidText(file))
	}
	return pid, nil
}

func pidText(pid int) string {
	if pid == 0 {
		return "no live redis-server"
	}
	return fmt.Sprintf("pid %d", pid)
}

// restoreOldMaster brings the failed master back as a replica of the new
// one. Its config gets replicaof <new master> before it starts, so it never
// comes back as a second master (see the facts note on stale masters).
func (c *Cluster) restoreOldMaster(ctx context.Context, old, newMaster *Node, mode string) error {
	if mode == ModeStop || mode == ModeKill {
		changes, err := c.PlanFiles(ctx, old, newMaster.Spec.Address)
		if err != nil {
			return err
		}
		var redisConf []FileChange
		for _, ch := range changes {
			if ch.File.Path == c.Layout.RedisConf {
				ch.Live = false
				redisConf = append(redisConf, ch)
			}
		}
		if err := c.WriteFiles(ctx, old, redisConf); err != nil {
			return err
		}
		if _, _, err := c.StartService(ctx, old, c.Layout.RedisService, c.Layout.RedisPid); err != nil {
			return err
		}
	}
	return c.WaitSnapshot(ctx, fmt.Sprintf("%s to replicate from %s with its link up", old.Spec.Name, newMaster.Spec.Name), 60*time.Second, 500*time.Millisecond,
		func(s *Snapshot, _ Analysis) (bool, string) {
			r := s.Node(old.Spec.Name).Redis
			if !r.Running {
				return false, r.Error
			}
			if r.Role == "replica" && r.MasterAddr == c.DataAddr(newMaster) && r.LinkStatus == "up" {
				return true, ""
			}
			return false, fmt.Sprintf("role=%s master=%s link=%s", r.Role, r.MasterAddr, r.LinkStatus)
		})
}

// sentinelEvents records when each sentinel event was first seen.
type sentinelEvents struct {
	mu     sync.Mutex
	t0     time.Time
	firsts map[string]time.Duration
	cancel context.CancelFunc
	subs   []*redis.PubSub
	once   sync.Once
}

func (c *Cluster) listenSentinels(ctx context.Context) *sentinelEvents {
	ctx, cancel := context.WithCancel(ctx)
	ev := &sentinelEvents{firsts: map[string]time.Duration{}, cancel: cancel}
	for _, s := range c.Sentinels() {
		cl := c.Sentinel(s)
		ps := cl.Subscribe(ctx, "+sdown", "+odown", "+switch-master", "+failover-end", "+convert-to-slave")
		ev.subs = append(ev.subs, ps)
		go func(name string) {
			for msg := range ps.Channel() {
				if (msg.Channel == "+sdown" || msg.Channel == "+odown") && !strings.HasPrefix(msg.Payload, "master ") {
					continue
				}
				c.P.Printf(name, "sentinel event %s %s", msg.Channel, msg.Payload)
				ev.record(msg.Channel)
			}
		}(s.Spec.Name)
	}
	return ev
}

func (e *sentinelEvents) mark(t time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.t0 = t
}

func (e *sentinelEvents) record(ch string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.t0.IsZero() {
		return
	}
	if _, ok := e.firsts[ch]; !ok {
		e.firsts[ch] = time.Since(e.t0)
	}
}

// first is the time from the failure to the first ch event, nil when
// none was seen.
func (e *sentinelEvents) first(ch string) *float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if d, ok := e.firsts[ch]; ok {
		s := secs(d)
		return &s
	}
	return nil
}

func (e *sentinelEvents) stop() {
	e.once.Do(func() {
		for _, s := range e.subs {
			s.Close()
		}
		e.cancel()
	})
}

// writer writes uniquely numbered keys through a Sentinel-aware client
// and records which writes were acknowledged.
type writer struct {
	prefix  string
	mu      sync.Mutex
	acked   []int
	okAt    []time.Time
	tries   int
	fails   int
	errs    []string // the first distinct write errors, for the report
	stopped time.Time
	cancel  context.CancelFunc
	done    chan struct{}
	once    sync.Once
	client  *redis.Client
}

func (c *Cluster) startWriter(ctx context.Context, interval time.Duration) *writer {
	var addrs []string
	for _, s := range c.Sentinels() {
		addrs = append(addrs, c.SentinelAddr(s))
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		via := c.NodeByAddr(addr)
		if via == nil {
			via = c.Nodes[0]
		}
		return c.dialServer(via, addr == c.SentinelAddr(via))(ctx, network, addr)
	}
	user, pw := c.dataLogin()
	cl := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:       c.Inv.Name,
		SentinelAddrs:    addrs,
		SentinelPassword: c.Password,
		Username:         user,
		Password:         pw,
		Dialer:           dial,
		DialTimeout:      time.Second,
		ReadTimeout:      time.Second,
		WriteTimeout:     time.Second,
		MaxRetries:       -1,
		// One dial per write: go-redis would otherwise dial a refused
		// master 5 times, 100 ms apart, inside one SET, and a write that
		// fails would not be counted as failed.
		DialerRetries:   1,
		PoolSize:        2,
		DisableIdentity: true,
		Protocol:        2,
	})
	cl.AddHook(c.P.redisHook("writer"))
	ctx, cancel := context.WithCancel(ctx)
	w := &writer{prefix: fmt.Sprintf("redisctl:failover-test:%d:", time.Now().UnixNano()), cancel: cancel, done: make(chan struct{}), client: cl}
	go func() {
		defer close(w.done)
		defer cl.Close()
		for i := 0; ctx.Err() == nil; i++ {
			err := cl.Set(ctx, w.prefix+strconv.Itoa(i), i, 0).Err()
			w.mu.Lock()
			w.tries++
			if err == nil {
				w.acked = append(w.acked, i)
				w.okAt = append(w.okAt, time.Now())
			} else if ctx.Err() == nil {
				w.fails++
				if msg := err.Error(); len(w.errs) < 5 && !slices.Contains(w.errs, msg) {
					w.errs = append(w.errs, msg)
				}
			}
			w.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(interval):
			}
		}
	}()
	return w
}

func (w *writer) waitAcks(ctx context.Context, n int, timeout time.Duration) error {
	return WaitFor(ctx, fmt.Sprintf("%d acknowledged writes", n), timeout, 50*time.Millisecond, func(context.Context) (bool, string) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.acked) >= n, fmt.Sprintf("%d acknowledged, %d failed", len(w.acked), w.fails)
	})
}

// waitAcksSince waits until n writes were acknowledged after t.
func (w *writer) waitAcksSince(ctx context.Context, t time.Time, n int, timeout time.Duration) error {
	return WaitFor(ctx, fmt.Sprintf("%d acknowledged writes", n), timeout, 50*time.Millisecond, func(context.Context) (bool, string) {
		w.mu.Lock()
		defer w.mu.Unlock()
		k := 0
		for i := len(w.okAt) - 1; i >= 0 && w.okAt[i].After(t); i-- {
			k++
		}
		last := "none"
		if len(w.errs) > 0 {
			last = w.errs[len(w.errs)-1]
		}
		return k >= n, fmt.Sprintf("%d acknowledged since, %d failed in all, an error seen: %s", k, w.fails, last)
	})
}

func (w *writer) stop() {
	w.once.Do(func() {
		w.mu.Lock()
		w.stopped = time.Now()
		w.mu.Unlock()
		w.cancel()
		<-w.done
	})
}

func (w *writer) counts() (tries, acked, fails int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tries, len(w.acked), w.fails
}

// longestGap is the longest time between two acknowledged writes, or
// between the last one and the writer's stop: the longest time the writer
// had no writable master.
func (w *writer) longestGap() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var gap time.Duration
	for i := 1; i < len(w.okAt); i++ {
		gap = max(gap, w.okAt[i].Sub(w.okAt[i-1]))
	}
	if n := len(w.okAt); n > 0 && !w.stopped.IsZero() {
		gap = max(gap, w.stopped.Sub(w.okAt[n-1]))
	}
	return gap
}

func (w *writer) errorsSeen() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.errs)
}

func (w *writer) keys() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, len(w.acked))
	for i, k := range w.acked {
		out[i] = w.prefix + strconv.Itoa(k)
	}
	return out
}

// countMissing reads back every acknowledged key from the master.
func (c *Cluster) countMissing(ctx context.Context, master *Node, w *writer) (int, error) {
	cl := c.Data(master)
	keys := w.keys()
	missing := 0
	for i := 0; i < len(keys); i += 500 {
		batch := keys[i:min(i+500, len(keys))]
		vals, err := cl.MGet(ctx, batch...).Result()
		if err != nil {
			return 0, fmt.Errorf("read back acknowledged writes: %w", err)
		}
		for _, v := range vals {
			if v == nil {
				missing++
			}
		}
	}
	return missing, nil
}

func (c *Cluster) deleteKeys(ctx context.Context, master *Node, w *writer) error {
	cl := c.Data(master)
	var errs []error
	var it int
	for {
		keys, next, err := cl.Scan(ctx, uint64(it), w.prefix+"*", 1000).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			errs = append(errs, cl.Unlink(ctx, keys...).Err())
		}
		if next == 0 {
			break
		}
		it = int(next)
	}
	errs = append(errs, cl.Del(ctx, "redisctl:failover-test:probe").Err())
	return errors.Join(errs...)
}
