package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/redisctl/redisctl/provision/inventory"
)

// UpOptions configure Up.
type UpOptions struct {
	Connect  Connector
	CacheDir string // control-side cache: sources, builds
	Progress *Progress
	// SyncTimeout bounds each wait for replication and sentinel agreement.
	SyncTimeout time.Duration
	// DryRun decides everything as up would and changes nothing: the
	// summary lists what up would change (redisctl plan).
	DryRun bool
	// Force starts a master that is down even when that rolls data back
	// (see checkStaleMaster); the operator has decided it holds the data
	// to keep.
	Force bool
	// ApplyTuning fixes the host settings the checks warn about (see
	// ApplyTuning) before anything else is changed.
	ApplyTuning bool
	// BackupDir, when set, receives a backup (as redisctl backup takes it)
	// before up changes a live cluster; see backupFirst.
	BackupDir string
	// Failover moves the master off a host the inventory no longer lists
	// (a graceful failover) so that it can be removed, instead of refusing.
	Failover bool
}

// Summary is what Up did, or with DryRun would do.
type Summary struct {
	DryRun   bool
	Changes  []Change
	Duration time.Duration
	Notes    []string // things the operator should know (live master kept ...)
}

// Change is one change on one host. Plan and up describe a change in the
// same words, so a plan can be compared with what up then did.
type Change struct {
	Host string `json:"host,omitempty"`
	What string `json:"what"`
	Diff string `json:"diff,omitempty"` // unified diff of a file, secrets hidden
}

func (ch Change) String() string {
	if ch.Host == "" {
		return ch.What
	}
	return ch.Host + ": " + ch.What
}

// upRun is the state one run of Up carries from step to step.
type upRun struct {
	c      *Cluster
	opts   UpOptions
	inv    *inventory.Inventory
	src    *Source
	master *Node
	sum    *Summary
	// restarts and sentinelRestarts hold, per node, the settings that
	// changed and need its data node or sentinel restarted.
	restarts         map[*Node][]string
	sentinelRestarts map[*Node][]string
	departed         []*departedNode          // hosts the inventory no longer lists (findDeparted)
	failedOver       bool                     // findDeparted moved the master off a departed host
	running          map[server]runningServer // servers found running before the start steps
	checks           *pendingChecks           // the host checks, run while the facts are gathered
	snap             *Snapshot                // findMaster's observation, before anything was started
	installing       *pendingInstall          // the install running beside prepare and findMaster
	unlock           func()
	mu               sync.Mutex
}

// change records one change and, unless this is a dry run, makes it with
// apply. Every change of up goes through here: that is what makes the plan
// the list of what up does.
func (r *upRun) change(n *Node, diff string, apply func() error, format string, args ...any) error {
	ch := Change{What: fmt.Sprintf(format, args...), Diff: diff}
	if n != nil {
		ch.Host = n.Spec.Name
	}
	if !r.opts.DryRun && apply != nil {
		if err := apply(); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.sum.Changes = append(r.sum.Changes, ch)
	r.mu.Unlock()
	if r.opts.DryRun {
		r.opts.Progress.Printf(ch.Host, "would %s", ch.What)
	}
	return nil
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
	r := &upRun{inv: inv, opts: opts, sum: &Summary{DryRun: opts.DryRun},
		restarts: map[*Node][]string{}, sentinelRestarts: map[*Node][]string{}}
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
		{"lock the cluster", r.lock},
		{"gather facts", r.gatherFacts},
		{"check hosts", r.checkHosts},
		{"back up before changing anything", r.backupFirst},
		{"check tuning and ports", r.checkTuning},
		{"password", r.password},
		{"find removed hosts", r.findDeparted},
		{"install redis", r.install},
		{"prepare hosts", r.prepare},
		{"find the live master", r.findMaster},
		{"wait for the install", r.waitInstall},
		{"rotate passwords", r.rotatePasswords},
		{"configure", r.configure},
		{"start the master", r.startMaster},
		{"start the replicas", r.startReplicas},
		{"start the sentinels", r.startSentinels},
		{"remove hosts", r.removeDeparted},
		{"rolling restart", r.rollingRestart},
		{"switch TLS on or off", r.switchTLS},
		{"verify", r.verify},
	}
	defer func() {
		if r.checks != nil {
			<-r.checks.done // before the connections close
		}
		if in := r.installing; in != nil { // a step failed before waitInstall
			in.cancel()
			<-in.done
		}
		if r.unlock != nil {
			r.unlock()
		}
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
			title := s.title
			if in := r.installing; in != nil {
				// The install runs beside the steps after it: when it
				// failed too, it failed first in the procedure's order,
				// and is often why the later step failed.
				<-in.done
				r.installing = nil
				if in.err != nil {
					title, err = "install redis", in.err
				}
			}
			if ctx.Err() != nil {
				// Every step checks before it acts, so the next run picks
				// up where this one stopped (an upgrade included).
				err = fmt.Errorf("interrupted (%v); run up again to finish", context.Cause(ctx))
			}
			return r.sum, &StepError{Step: title, Err: err}
		}
		if d := time.Since(t); d >= time.Second {
			p.Printf("", "    %s took %s", s.title, d.Round(100*time.Millisecond))
		} else {
			p.Debugf("step %q done in %s", s.title, d.Round(time.Millisecond))
		}
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

// lock takes the cluster's lock on every host, so that no other up,
// uninstall or failover-test decides on a cluster this run is changing. A
// plan changes nothing and takes no lock.
func (r *upRun) lock(ctx context.Context) error {
	if r.opts.DryRun {
		return nil
	}
	// The facts are read in the same round trip as the lock.
	unlock, err := r.c.LockAndGatherFacts(ctx, "up")
	r.unlock = unlock
	return err
}

// pendingChecks are host checks running in the background.
type pendingChecks struct {
	done chan struct{}
	rep  *TuningReport
	err  error
}

// gatherFacts reads every host's facts and, at the same time, runs the
// host checks (CheckHosts reads nothing the facts give), under the lock
// as before; checkTuning decides on their result after the steps that
// refuse on the facts.
func (r *upRun) gatherFacts(ctx context.Context) error {
	pc := &pendingChecks{done: make(chan struct{})}
	r.checks = pc
	go func() {
		defer close(pc.done)
		pc.rep, pc.err = r.c.CheckHosts(ctx)
	}()
	return r.c.GatherFacts(ctx)
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
		if !portOwnedByUs(f.PlaintextPortOwner, f.RedisPid) {
			fail("port %d is taken by another program (%s); free it or choose another tls.plaintext_port", c.Inv.TLS.PlaintextPort, f.PlaintextPortOwner)
		}
		bin := c.Layout.BinDir + "/redis-server"
		have := installedBuild(f)
		other := have.Version != "" && have != c.target()
		if other && !n.Manifest.Has(bin) && n.Manifest.Shared() {
			fail("%s is %s, installed for another cluster on this host (%s); clusters on one host share %s, so set redis.engine and redis.version to %s", bin, have, strings.Join(named(n.Manifest.Others), ", "), c.Layout.BinDir, have)
		} else if other && !n.Manifest.Has(bin) {
			fail("%s is %s and was not installed by redisctl; refusing to replace it (remove it, or set redis.engine and redis.version to %s)", bin, have, have)
		} else if other {
			if err := checkVersionChange(have, c.target()); err != nil {
				fail("%v", err)
			}
		}
		if top, ok := rdbFormat(c.target()); ok && f.RDBFormat > top && f.RedisPid == 0 {
			// Redis would refuse to start on it ("Can't handle RDB format
			// version"); say so before anything is written.
			fail("%s holds an RDB file of format %d (written by a newer build), which %s cannot load (it reads up to %d), so redis would refuse to start; move the file away (it is data: keep it) or set redis.version to the build that wrote it", c.Layout.DataDir, f.RDBFormat, c.target(), top)
		}
		if n.Init != nil && n.Init.Notify() && have == c.target() && !f.RedisSystemd {
			// No install will replace it: a Type=notify unit would make
			// systemd wait forever for a readiness message.
			fail("%s was built without systemd support (USE_SYSTEMD=yes), which the Type=notify units need; remove it so up builds one with it", bin)
		}
		if n.Init == nil {
			fail("unknown init system %q (redisctl knows SysV init and systemd)", f.Init)
		}
		if c.needsLibSSL(n) && n.Pkg == nil {
			fail("no OpenSSL library (libssl.so) found, which Redis built with TLS needs to run, and no apt-get, dnf or yum to install it; install libssl3 (Debian, Ubuntu) or openssl-libs (RHEL, Fedora)")
		}
		r.opts.Progress.Printf(n.Spec.Name, "%s %s %s, %s, %s%s", f.OSID, f.OSVersion, f.Arch, f.Init, have, running(f))
	}
	return errors.Join(errs...)
}

// named lists cluster names, an older redisctl's unnamed manifest as such.
func named(clusters []string) []string {
	out := make([]string, len(clusters))
	for i, c := range clusters {
		out[i] = c
		if c == "" {
			out[i] = "a cluster recorded by an older redisctl"
		}
	}
	return out
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
	sp, err := LoadPassword(r.c.Inv, !r.opts.DryRun)
	pw, file, created := sp.Password, sp.File, sp.Created
	if sp.Note != "" {
		r.opts.Progress.Printf("", "%s", sp.Note)
	}
	if r.opts.DryRun && err != nil && file != "" && r.c.Inv.Redis.Password == "" {
		// Nothing stored yet: up would generate one. Plan with a stand-in.
		if pw, err = generatePassword(40); err != nil {
			return err
		}
		return errors.Join(r.change(nil, "", nil, "generate a password and store it in %s", file), r.setPassword(ctx, pw))
	}
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
	return r.setPassword(ctx, pw)
}

func (r *upRun) setPassword(ctx context.Context, pw string) error {
	if err := checkSentinelPassword(pw, r.c.Inv.Redis.Version, len(r.c.Sentinels()) > 0); err != nil {
		return err
	}
	notes, err := r.c.useSecrets(pw, !r.opts.DryRun, r.opts.DryRun)
	for _, note := range notes {
		if r.opts.DryRun {
			err = errors.Join(err, r.change(nil, "", nil, "%s", note))
		} else {
			r.opts.Progress.Printf("", "%s", note)
		}
	}
	if err != nil {
		return err
	}
	return r.findLoginPassword(ctx)
}

// findMaster decides, from one observation of the cluster, which node is
// the master, after checking that nothing forbids going on.
func (r *upRun) findMaster(ctx context.Context) error {
	s := r.c.Observe(ctx)
	r.snap = s
	if err := r.c.checkPasswordAccepted(s); err != nil {
		return err
	}
	if m := r.plannedMaster(); m != nil {
		r.master = m
		return nil
	}
	m, note, err := r.c.liveMaster(s, Analyze(s, r.c.Expectations()))
	if err != nil {
		return err
	}
	r.master = m
	if err := r.c.checkStaleMaster(ctx, m, s); err != nil {
		var stale *StaleMasterError
		if !r.opts.Force || !errors.As(err, &stale) {
			return err
		}
		r.opts.Progress.Printf(m.Spec.Name, "--force: starting it as master although: %s", strings.Join(stale.Reasons, "; "))
	}
	if note != "" {
		r.opts.Progress.Printf("", "%s", note)
		r.sum.Notes = append(r.sum.Notes, note)
	} else {
		r.opts.Progress.Printf("", "master: %s", m.Spec)
	}
	return nil
}

func (r *upRun) verify(ctx context.Context) error {
	if r.opts.DryRun {
		return nil
	}
	return r.c.Verify(ctx, r.master, r.opts.SyncTimeout)
}

// fileDiff is a unified diff of a planned file change, the values of
// secret directives hidden (maskSecrets). A secret file that is not a
// config file has no diff at all: all of it may be secret.
func fileDiff(ch fileChange) string {
	if ch.Old == nil || ch.File.Secret && !ch.IsConfig {
		return ""
	}
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(maskSecrets(ch.Old)), B: difflib.SplitLines(maskSecrets(ch.New)),
		FromFile: ch.File.Path, ToFile: ch.File.Path + " (new)", Context: 1,
	})
	if err != nil {
		return ""
	}
	return d
}
