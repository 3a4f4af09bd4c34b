package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/redisctl/redisctl/provision/inventory"
)

// UpOptions configure Up.
type UpOptions struct {
	Connect  Connector
	CacheDir string // control-side cache: sources, builds
	Progress *Progress
	// SyncTimeout bounds each wait for replication and sentinel agreement.
	SyncTimeout time.Duration
}

// Summary is what Up did.
type Summary struct {
	Changed  int
	Changes  []string // "node1: wrote /etc/redis/redis_7000.conf"
	Duration time.Duration
	Notes    []string // things the operator should know (live master kept ...)
}

// upRun is the state one run of Up carries from step to step.
type upRun struct {
	c      *Cluster
	opts   UpOptions
	inv    *inventory.Inventory
	src    *Source
	master *Node
	sum    *Summary
	mu     sync.Mutex
}

func (r *upRun) changed(n *Node, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sum.Changed++
	name := ""
	if n != nil {
		name = n.Spec.Name + ": "
	}
	r.sum.Changes = append(r.sum.Changes, name+fmt.Sprintf(format, args...))
}

// Up brings the cluster to the inventory's state, the seed procedure in
// order: connect, learn, install, configure, start master, replicas and
// sentinels, and prove the result. Every step checks before it acts, so a
// second run on a healthy cluster changes nothing and restarts nothing.
func Up(ctx context.Context, inv *inventory.Inventory, opts UpOptions) (*Summary, error) {
	p := opts.Progress
	if opts.SyncTimeout == 0 {
		opts.SyncTimeout = 60*time.Second + 3*time.Duration(inv.Sentinel.DownAfterMS)*time.Millisecond
	}
	r := &upRun{inv: inv, opts: opts, sum: &Summary{}}
	start := time.Now()

	steps := []struct {
		title string
		run   func(context.Context) error
	}{
		{"verify the redis source", r.verifySource},
		{"connect", func(ctx context.Context) error {
			c, err := Connect(ctx, inv, opts.Connect, p)
			r.c = c
			return err
		}},
		{"gather facts", func(ctx context.Context) error { return r.c.GatherFacts(ctx) }},
		{"check hosts", r.checkHosts},
		{"password", r.password},
		{"install redis", r.install},
		{"prepare hosts", r.prepare},
		{"find the live master", r.findMaster},
		{"configure", r.configure},
		{"start the master", r.startMaster},
		{"start the replicas", r.startReplicas},
		{"start the sentinels", r.startSentinels},
		{"verify", r.verify},
	}
	defer func() {
		if r.c != nil {
			r.c.Close()
		}
	}()
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return r.sum, err
		}
		t := time.Now()
		p.Printf("", "==> %s", s.title)
		if err := s.run(ctx); err != nil {
			return r.sum, &StepError{Step: s.title, Err: err}
		}
		p.Debugf("step %q done in %s", s.title, time.Since(t).Round(time.Millisecond))
	}
	r.sum.Duration = time.Since(start)
	return r.sum, nil
}

// StepError is a failed step of up; it keeps every host's error.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string {
	msg := e.Err.Error()
	if strings.Contains(msg, "\n") {
		return fmt.Sprintf("%s failed:\n  %s", e.Step, strings.ReplaceAll(msg, "\n", "\n  "))
	}
	return fmt.Sprintf("%s failed: %s", e.Step, msg)
}

func (e *StepError) Unwrap() error { return e.Err }

func (r *upRun) verifySource(ctx context.Context) error {
	src, err := FetchSource(ctx, r.inv.Redis.Source, r.inv.Redis.SHA256, r.opts.CacheDir, r.opts.Progress)
	r.src = src
	return err
}

func (r *upRun) checkHosts(ctx context.Context) error {
	c := r.c
	var errs []error
	for _, n := range c.Nodes {
		f := n.Facts
		fail := func(format string, args ...any) {
			errs = append(errs, &HostError{Host: n.Spec.Name, Err: fmt.Errorf(format, args...)})
		}
		if !portOwnedByUs(f.RedisPortOwner, f.RedisPid) {
			fail("port %d is taken by another program (%s); free it or choose another redis.port", c.Inv.Redis.Port, f.RedisPortOwner)
		}
		if n.Spec.Sentinel && !portOwnedByUs(f.SentinelPortOwner, f.SentinelPid) {
			fail("port %d is taken by another program (%s); free it or choose another sentinel.port", c.Inv.Sentinel.Port, f.SentinelPortOwner)
		}
		bin := c.Layout.BinDir + "/redis-server"
		if f.RedisVersion != "" && f.RedisVersion != c.Inv.Redis.Version && !n.Manifest.Has(bin) {
			fail("%s is Redis %s and was not installed by redisctl; refusing to replace it (remove it, or set redis.version to %s)", bin, f.RedisVersion, f.RedisVersion)
		}
		if f.RedisVersion != "" && f.RedisVersion != c.Inv.Redis.Version && n.Manifest.Has(bin) && f.RedisPid > 0 {
			fail("redis %s is running; changing the version of a live cluster (to %s) is not supported yet", f.RedisVersion, c.Inv.Redis.Version)
		}
		if f.Init != "sysv" && f.Init != "systemd" {
			fail("unknown init system %q", f.Init)
		}
		r.opts.Progress.Printf(n.Spec.Name, "%s %s %s, %s, redis %s%s", f.OSID, f.OSVersion, f.Arch, f.Init, orNone(f.RedisVersion), running(f))
	}
	return errors.Join(errs...)
}

func orNone(s string) string {
	if s == "" {
		return "not installed"
	}
	return s
}

func running(f *Facts) string {
	var s []string
	if f.RedisPid > 0 {
		s = append(s, fmt.Sprintf("redis pid %d", f.RedisPid))
	}
	if f.SentinelPid > 0 {
		s = append(s, fmt.Sprintf("sentinel pid %d", f.SentinelPid))
	}
	if len(s) == 0 {
		return ", nothing running"
	}
	return ", running: " + strings.Join(s, ", ")
}

func (r *upRun) password(ctx context.Context) error {
	pw, file, created, err := ResolvePassword(r.c.Inv, true)
	if err != nil {
		return err
	}
	if created {
		r.opts.Progress.Printf("", "generated a password for the cluster and stored it in %s (mode 0600); keep that file", file)
	} else if file != "" {
		r.opts.Progress.Printf("", "using the password stored in %s", file)
	} else {
		r.opts.Progress.Printf("", "using the password from the %s", r.c.Inv.Redis.PasswordSource)
	}
	if err := checkSentinelPassword(pw, r.c.Inv.Redis.Version, len(r.c.Sentinels()) > 0); err != nil {
		return err
	}
	r.c.SetPassword(pw)
	return nil
}

func (r *upRun) install(ctx context.Context) error {
	n, err := r.c.Install(ctx, r.src, r.opts.CacheDir)
	for i := 0; i < n; i++ {
		r.changed(nil, "installed redis %s", r.c.Inv.Redis.Version)
	}
	if n == 0 && err == nil {
		r.opts.Progress.Printf("", "every host has redis %s; nothing to install", r.c.Inv.Redis.Version)
	}
	return err
}

func (r *upRun) prepare(ctx context.Context) error {
	return eachHost(ctx, r.c.Nodes, nodeName, "prepare", func(ctx context.Context, n *Node) error {
		k, err := r.c.prepareHost(ctx, n)
		if k > 0 {
			r.changed(n, "created the redis user, directories or log files")
		}
		return err
	})
}

func (r *upRun) findMaster(ctx context.Context) error {
	m, note, err := r.c.LiveMaster(ctx)
	if err != nil {
		return err
	}
	r.master = m
	if note != "" {
		r.opts.Progress.Printf("", "%s", note)
		r.sum.Notes = append(r.sum.Notes, note)
	} else {
		r.opts.Progress.Printf("", "master: %s", m.Spec)
	}
	return nil
}

func (r *upRun) configure(ctx context.Context) error {
	c := r.c
	return eachHost(ctx, c.Nodes, nodeName, "configure", func(ctx context.Context, n *Node) error {
		changes, err := c.planFiles(ctx, n, r.master.Spec.Address)
		if err != nil {
			return err
		}
		var offline []fileChange
		for _, ch := range changes {
			if !ch.Live {
				offline = append(offline, ch)
				continue
			}
			if err := r.applyLive(ctx, n, ch); err != nil {
				return err
			}
		}
		if err := c.writeFiles(ctx, n, offline); err != nil {
			return err
		}
		for _, ch := range offline {
			r.changed(n, "wrote %s", ch.File.Path)
		}
		k, err := c.enableServices(ctx, n)
		if k > 0 {
			r.changed(n, "enabled %d services at boot", k)
		}
		return err
	})
}

// applyLive changes the settings of a running server without restarting it.
func (r *upRun) applyLive(ctx context.Context, n *Node, ch fileChange) error {
	c := r.c
	var restart []string
	var err error
	if ch.File.Path == c.Layout.RedisConf {
		restart, err = c.applyRedisLive(ctx, n, ch)
	} else {
		restart, err = c.applySentinelLive(ctx, n, ch)
	}
	if err != nil {
		return err
	}
	if len(restart) > 0 {
		return fmt.Errorf("%s: changing %s on a running server needs a restart, which redisctl does not do yet; apply it by hand, one node at a time", ch.File.Path, strings.Join(restart, ", "))
	}
	r.changed(n, "applied %s live (%s)", ch.File.Path, strings.Join(ch.Keys, ", "))
	// The server rewrote its file; bring anything it did not write (our
	// header, quoting) in line, then the file and the process agree.
	again, err := c.planFiles(ctx, n, r.master.Spec.Address)
	if err != nil {
		return err
	}
	for _, a := range again {
		if a.File.Path == ch.File.Path {
			return c.writeFiles(ctx, n, []fileChange{a})
		}
	}
	return nil
}

func (r *upRun) startMaster(ctx context.Context) error {
	return r.start(ctx, r.master, false)
}

func (r *upRun) start(ctx context.Context, n *Node, sentinel bool) error {
	c := r.c
	svc, pidFile := c.Layout.RedisService, c.Layout.RedisPid
	if sentinel {
		svc, pidFile = c.Layout.SentinelService, c.Layout.SentinelPid
	}
	pid, started, err := c.startService(ctx, n, svc, pidFile)
	if err != nil {
		return &HostError{Host: n.Spec.Name, Step: "start " + svc, Err: err}
	}
	if started {
		r.changed(n, "started %s", svc)
	}
	if err := c.waitPing(ctx, n, sentinel, 20*time.Second); err != nil {
		return &HostError{Host: n.Spec.Name, Step: "start " + svc, Err: err}
	}
	if started {
		c.P.Printf(n.Spec.Name, "%s running (pid %d)", svc, pid)
	} else {
		c.P.Printf(n.Spec.Name, "%s already running (pid %d)", svc, pid)
	}
	return nil
}

func (r *upRun) replicas() []*Node {
	var out []*Node
	for _, n := range r.c.Nodes {
		if n != r.master {
			out = append(out, n)
		}
	}
	return out
}

func (r *upRun) startReplicas(ctx context.Context) error {
	for _, n := range r.replicas() {
		if err := r.start(ctx, n, false); err != nil {
			return err
		}
	}
	return r.c.WaitReplication(ctx, r.master, r.replicas(), r.opts.SyncTimeout)
}

func (r *upRun) startSentinels(ctx context.Context) error {
	order := append([]*Node{r.master}, r.replicas()...)
	for _, n := range order {
		if !n.Spec.Sentinel {
			continue
		}
		if err := r.start(ctx, n, true); err != nil {
			return err
		}
	}
	return nil
}

func (r *upRun) verify(ctx context.Context) error {
	return r.c.Verify(ctx, r.master, r.opts.SyncTimeout)
}

// Print writes a short summary of what Up did.
func (s *Summary) Print(w io.Writer) {
	for _, ch := range s.Changes {
		fmt.Fprintf(w, "  changed: %s\n", ch)
	}
	fmt.Fprintf(w, "up: %d changed in %s\n", s.Changed, s.Duration.Round(100*time.Millisecond))
}
