package provision

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/redis/go-redis/v9"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote"
	"github.com/redisctl/redisctl/provision/render"
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

func (r *upRun) install(ctx context.Context) error {
	var todo []*Node
	for _, n := range r.c.Nodes {
		if r.c.needsInstall(n) {
			todo = append(todo, n)
		}
	}
	if len(todo) == 0 {
		r.opts.Progress.Printf("", "every host has %s; nothing to install", r.c.target())
		return nil
	}
	what := func(n *Node) string {
		if stages(n) && installedBuild(n.Facts) == r.c.target() {
			return fmt.Sprintf("put a build of %s with TLS beside the one without in %s (switched to at each restart)", r.c.target(), r.c.Layout.BinDir)
		}
		if stages(n) {
			return fmt.Sprintf("put %s beside %s in %s (switched to at each restart)", r.c.target(), installedBuild(n.Facts), r.c.Layout.BinDir)
		}
		return fmt.Sprintf("install %s in %s", r.c.target(), r.c.Layout.BinDir)
	}
	if r.opts.DryRun {
		for _, n := range todo {
			if r.c.needsLibSSL(n) {
				r.change(n, "", nil, "install the OpenSSL library with %s (Redis built with TLS needs it)", n.Pkg.Name())
			}
			r.change(n, "", nil, "%s", what(n))
		}
		return nil
	}
	whats := map[*Node]string{}
	for _, n := range todo {
		whats[n] = what(n)
	}
	// The build (or the copy of cached binaries) runs while the hosts are
	// prepared and the live master is found. Nothing is configured before
	// it has succeeded everywhere (waitInstall): a host that cannot build
	// must leave the others without a config, or the next run would find
	// replicas configured for a master that never started.
	ctx, cancel := context.WithCancel(ctx)
	in := &pendingInstall{done: make(chan struct{}), cancel: cancel}
	r.installing = in
	go func() {
		defer close(in.done)
		in.nodes, in.err = r.c.Install(ctx, r.src, r.opts.CacheDir)
		in.whats = whats
	}()
	return nil
}

// pendingInstall is the install running beside the steps that follow it.
type pendingInstall struct {
	done   chan struct{}
	cancel context.CancelFunc
	nodes  []*Node // installed (or staged) by Install
	whats  map[*Node]string
	err    error
}

// waitInstall waits for the install started by install, then records what
// it did; it runs before anything is configured or started.
func (r *upRun) waitInstall(ctx context.Context) error {
	in := r.installing
	if in == nil {
		return nil
	}
	select {
	case <-in.done:
	case <-ctx.Done():
		in.cancel()
		<-in.done
	}
	r.installing = nil
	for _, n := range in.nodes {
		r.c.installedNow(n)
		r.change(n, "", nil, "%s", in.whats[n])
	}
	return in.err
}

func (r *upRun) prepare(ctx context.Context) error {
	return eachHost(ctx, r.c.Nodes, nodeName, "prepare", func(ctx context.Context, n *Node) error {
		missing, err := r.c.missingOnHost(ctx, n)
		if err != nil || len(missing) == 0 {
			return err
		}
		return r.change(n, "", func() error { return r.c.prepareHost(ctx, n) }, "create %s", strings.Join(missing, ", "))
	})
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

func (r *upRun) configure(ctx context.Context) error {
	c := r.c
	return eachHost(ctx, c.Nodes, nodeName, "configure", func(ctx context.Context, n *Node) error {
		changes, err := c.planFiles(ctx, n, r.master.Spec.Address)
		if err != nil {
			return err
		}
		if !r.opts.DryRun {
			// One manifest save for every new file, not one per file.
			if err := recordNewFiles(ctx, n, changes); err != nil {
				return err
			}
		}
		tlsChanged := false
		for _, ch := range changes {
			if path.Dir(ch.File.Path) == c.Layout.TLSDir {
				tlsChanged = true
			}
			if ch.Live && ch.ACL != nil {
				err = r.applyACLLive(ctx, n, ch)
			} else if ch.Live {
				err = r.applyLive(ctx, n, ch)
			} else {
				what := "write " + ch.File.Path
				if ch.Old != nil && len(ch.Keys) > 0 {
					what = fmt.Sprintf("update %s (%s)", ch.File.Path, strings.Join(ch.Keys, ", "))
				}
				err = r.change(n, fileDiff(ch), func() error { return c.writeFiles(ctx, n, []fileChange{ch}) }, "%s", what)
			}
			if err != nil {
				return err
			}
		}
		if tlsChanged {
			if err := r.reloadTLS(ctx, n); err != nil {
				return err
			}
		}
		var register []string
		for _, svc := range c.services(n) {
			if !slices.Contains(n.Manifest.Services, svc) {
				register = append(register, svc)
			}
		}
		for i, svc := range register {
			// All in one command (systemd reloads its units once), made
			// with the first change.
			apply := func() error { return c.enableServices(ctx, n, register) }
			if i > 0 {
				apply = nil
			}
			if err := r.change(n, "", apply, "register %s to start at boot", svc); err != nil {
				return err
			}
		}
		return nil
	})
}

// reloadTLS makes n's running servers take the TLS files just written (a
// renewed certificate): the data node at once, as CONFIG SET of a
// certificate file reloads it even when its path is unchanged; the
// sentinel, which accepts no CONFIG SET of them, at its turn in the
// rolling restart.
func (r *upRun) reloadTLS(ctx context.Context, n *Node) error {
	c := r.c
	if n.Facts.RedisPid > 0 && c.speaksTLS(n, false) {
		t := render.NewTLSConf(c.Inv)
		do := command("CONFIG", "SET", "tls-cert-file", t.CertFile, "tls-key-file", t.KeyFile, "tls-ca-cert-file", t.CAFile)
		if err := r.change(n, "", func() error { return do(ctx, c.Data(n)) }, "live: reload the TLS certificate of %s (CONFIG SET tls-cert-file)", c.Layout.RedisService); err != nil {
			return err
		}
	}
	if n.Spec.Sentinel && n.Facts.SentinelPid > 0 && c.speaksTLS(n, true) {
		r.mu.Lock()
		r.sentinelRestarts[n] = append(r.sentinelRestarts[n], "the TLS certificate")
		r.mu.Unlock()
	}
	return nil
}

// applyLive changes the settings of a running server without restarting it.
func (r *upRun) applyLive(ctx context.Context, n *Node, ch fileChange) error {
	c := r.c
	var ops []liveOp
	var restart []string
	var err error
	isRedis := ch.File.Path == c.Layout.RedisConf
	if isRedis && slices.Contains(ch.Keys, "aclfile") {
		now, want := "with ACL users", "without them"
		if c.Inv.Redis.ACL() {
			now, want = "without ACL users", "with them"
		}
		return fmt.Errorf("%s runs %s, and the inventory wants it %s (redis.users, redis.default_user): "+
			"switching a running cluster is not supported yet; set the inventory back, or uninstall and set the cluster up again",
			c.Layout.RedisService, now, want)
	}
	var cl *redis.Client
	if isRedis {
		cl = c.Data(n)
		ops, restart = c.redisLiveOps(ch)
	} else {
		cl = c.Sentinel(n)
		ops, restart, err = c.sentinelLiveOps(ch)
	}
	if err != nil {
		return err
	}
	for _, op := range ops {
		if err := r.change(n, "", func() error { return op.do(ctx, cl) }, "live: %s", op.desc); err != nil {
			return err
		}
	}
	if len(restart) > 0 {
		r.mu.Lock()
		if isRedis {
			r.restarts[n] = restart
		} else {
			r.sentinelRestarts[n] = restart
		}
		r.mu.Unlock()
		if !isRedis {
			// A sentinel rewrites its file from memory: the file is written
			// while it is stopped, in the rolling restart.
			return nil
		}
	}
	// The server rewrote its file (CONFIG REWRITE writes what runs, so a
	// setting that needs a restart is undone there): bring the file in line
	// again; the process takes the rest when it restarts.
	var again []fileChange
	if !r.opts.DryRun {
		if again, err = c.planFiles(ctx, n, r.master.Spec.Address); err != nil {
			return err
		}
	} else if len(restart) > 0 {
		again = []fileChange{ch}
	}
	for _, a := range again {
		if a.File.Path != ch.File.Path {
			continue
		}
		apply := func() error { return c.writeFiles(ctx, n, []fileChange{a}) }
		if len(restart) == 0 {
			return apply() // formatting only: nothing a person needs to see
		}
		return r.change(n, fileDiff(a), apply, "update %s (%s; takes effect at the restart)", a.File.Path, strings.Join(restart, ", "))
	}
	return nil
}

// applyACLLive changes the users of a running data node to what the
// inventory says, without a restart (see aclLiveOps).
func (r *upRun) applyACLLive(ctx context.Context, n *Node, ch fileChange) error {
	ops, err := r.c.aclLiveOps(ch)
	if err != nil {
		return err
	}
	cl := r.c.Data(n)
	for _, op := range ops {
		if err := r.change(n, "", func() error { return op.do(ctx, cl) }, "live: %s", op.desc); err != nil {
			return err
		}
	}
	return nil
}

// rollingRestart restarts the servers whose new settings need a restart,
// never more than one at a time: the replicas, each waited for until it is
// back in sync; then, when the master needs one, a graceful failover away
// from it and its restart as a replica; then the sentinels, one by one.
func (r *upRun) rollingRestart(ctx context.Context) error {
	c := r.c
	r.planUpgrade()
	r.tlsBuildRestarts()
	if len(r.restarts) == 0 && len(r.sentinelRestarts) == 0 {
		return nil
	}
	if !r.opts.DryRun {
		if h := c.CheckHealth(ctx, nil); h.Verdict != Healthy {
			return fmt.Errorf("settings need a restart, but the cluster is %s; refusing to restart anything until it is healthy: %s", h.Verdict, h.ProblemsText())
		}
	}
	for _, n := range r.replicas() {
		if keys := r.restarts[n]; keys != nil {
			if err := r.change(n, "", func() error { return r.restartData(ctx, n) }, "restart %s to apply %s", c.Layout.RedisService, strings.Join(keys, ", ")); err != nil {
				return err
			}
		}
	}
	if keys := r.restarts[r.master]; keys != nil {
		old := r.master
		err := r.change(old, "", func() error { return r.failoverAway(ctx, old) }, "fail over away from %s with SENTINEL FAILOVER, to restart it", old.Spec.Name)
		if err != nil {
			return err
		}
		if err := r.change(old, "", func() error { return r.restartData(ctx, old) }, "restart %s to apply %s", c.Layout.RedisService, strings.Join(keys, ", ")); err != nil {
			return err
		}
	}
	for _, n := range c.Nodes {
		if keys := r.sentinelRestarts[n]; keys != nil {
			if err := r.change(n, "", func() error { return r.restartSentinel(ctx, n) }, "restart %s to apply %s", c.Layout.SentinelService, strings.Join(keys, ", ")); err != nil {
				return err
			}
		}
	}
	return nil
}

// restartData restarts one data node with its current config (written
// again first: Sentinel may have rewritten it during a failover) and waits
// until it is back in sync and the cluster is healthy.
func (r *upRun) restartData(ctx context.Context, n *Node) error {
	c := r.c
	if err := r.rewriteIfChanged(ctx, n, c.Layout.RedisConf); err != nil {
		return err
	}
	if err := c.switchBinaries(ctx, n); err != nil {
		return err
	}
	if _, err := c.stopService(ctx, n, c.Layout.RedisService, c.Layout.RedisPid); err != nil {
		return err
	}
	if _, _, err := c.startService(ctx, n, c.Layout.RedisService, c.Layout.RedisPid); err != nil {
		return err
	}
	if err := c.waitPing(ctx, n, false, 20*time.Second); err != nil {
		return err
	}
	if err := c.WaitReplication(ctx, r.master, r.replicas(), r.opts.SyncTimeout); err != nil {
		return err
	}
	if err := c.Verify(ctx, r.master, r.opts.SyncTimeout); err != nil {
		return err
	}
	c.P.Printf(n.Spec.Name, "restarted %s on %s; back in sync", c.Layout.RedisService, c.target())
	return nil
}

func (r *upRun) restartSentinel(ctx context.Context, n *Node) error {
	c := r.c
	if _, err := c.stopService(ctx, n, c.Layout.SentinelService, c.Layout.SentinelPid); err != nil {
		return err
	}
	if err := r.rewriteIfChanged(ctx, n, c.Layout.SentinelConf); err != nil {
		return err
	}
	if err := c.switchBinaries(ctx, n); err != nil {
		return err
	}
	if _, _, err := c.startService(ctx, n, c.Layout.SentinelService, c.Layout.SentinelPid); err != nil {
		return err
	}
	if err := c.Verify(ctx, r.master, r.opts.SyncTimeout); err != nil {
		return err
	}
	c.P.Printf(n.Spec.Name, "restarted %s on %s; it sees the master, every replica and every other sentinel", c.Layout.SentinelService, c.target())
	return nil
}

// planUpgrade adds to the rolling restart every server that runs another
// build than the inventory's (found so by findMaster's observation, before
// anything was started): an upgrade, or a change of engine, is a rolling
// restart onto the new binaries (see upgrade.go). A resumed upgrade finds
// only the servers still on the old build.
func (r *upRun) planUpgrade() {
	if r.snap == nil {
		return
	}
	want := r.c.target()
	for _, n := range r.c.Nodes {
		nh := r.snap.Node(n.Spec.Name)
		if nh == nil {
			continue
		}
		if d := nh.Redis; d != nil && d.Running && d.Version != "" {
			if have := (build{d.Engine, d.Version}); have != want {
				r.restarts[n] = append(r.restarts[n], fmt.Sprintf("the upgrade from %s to %s", have, want))
			}
		}
		if s := nh.Sentinel; n.Spec.Sentinel && s != nil && s.Running && s.Version != "" {
			if have := (build{s.Engine, s.Version}); have != want {
				r.sentinelRestarts[n] = append(r.sentinelRestarts[n], fmt.Sprintf("the upgrade from %s to %s", have, want))
			}
		}
	}
}

// rewriteIfChanged writes one file of n again when it differs from what
// redisctl wants (merged, so the server's own state stays).
func (r *upRun) rewriteIfChanged(ctx context.Context, n *Node, file string) error {
	changes, err := r.c.planFiles(ctx, n, r.master.Spec.Address)
	if err != nil {
		return err
	}
	for _, ch := range changes {
		if ch.File.Path == file {
			return r.c.writeFiles(ctx, n, []fileChange{ch})
		}
	}
	return nil
}

// failoverAway moves the master role off old gracefully (writes paused,
// replicas caught up, SENTINEL FAILOVER) and reports how long writes were
// held.
func (r *upRun) failoverAway(ctx context.Context, old *Node) error {
	newMaster, bound, err := r.moveMaster(ctx, old)
	if err != nil {
		return err
	}
	if err := r.c.waitRole(ctx, old, "replica", bound); err != nil {
		return err
	}
	r.master = newMaster
	return nil
}

// moveMaster is the graceful failover both the rolling restart and the
// removal of a master's host use: writes paused, replicas caught up,
// SENTINEL FAILOVER, the promoted replica waited for, the old master made
// its replica, writes resumed, and the time writes were held noted; then
// every sentinel is waited for to name the new master. It returns the new
// master and the bound used for the waits, for the caller's own wait on
// old.
func (r *upRun) moveMaster(ctx context.Context, old *Node) (*Node, time.Duration, error) {
	c := r.c
	start := time.Now()
	unpause, err := c.gracefulFailover(ctx, old)
	if err != nil {
		return nil, 0, err
	}
	bound := time.Duration(c.Inv.Sentinel.DownAfterMS)*time.Millisecond + 2*time.Duration(min(c.Inv.Sentinel.FailoverTimeoutMS, 10000))*time.Millisecond + 15*time.Second
	promoted, err := c.waitPromoted(ctx, old, bound)
	if err != nil {
		return nil, 0, errors.Join(err, unpause())
	}
	// Writes resume once the old master is a replica: a client still sent
	// there by a sentinel that has not heard of the switch gets READONLY
	// and asks again; nothing it writes is acknowledged and then lost.
	if err := c.demote(ctx, old, promoted); err != nil {
		return nil, 0, errors.Join(err, unpause())
	}
	held := time.Since(start)
	if err := unpause(); err != nil {
		return nil, 0, err
	}
	newMaster, err := c.waitNewMaster(ctx, old, bound)
	if err != nil {
		return nil, 0, err
	}
	if newMaster != promoted {
		return nil, 0, fmt.Errorf("%s was promoted and %s made its replica, but the sentinels then agreed on %s; run up again once status shows one master", promoted.Spec.Name, old.Spec.Name, newMaster.Spec.Name)
	}
	note := fmt.Sprintf("writes were held for %.1fs while the master moved from %s to %s", held.Seconds(), old.Spec.Name, newMaster.Spec.Name)
	c.P.Printf("", "%s", note)
	r.sum.Notes = append(r.sum.Notes, note)
	return newMaster, bound, nil
}

func (r *upRun) startMaster(ctx context.Context) error {
	if err := r.findRunning(ctx); err != nil {
		return err
	}
	return r.start(ctx, r.master, false)
}

// server is one node's Redis or sentinel.
type server struct {
	n        *Node
	sentinel bool
}

// runningServer is a server findRunning found running: its pid, and
// whether it answered PING (pingErr nil) within start's wait.
type runningServer struct {
	pid     int
	pingErr error
}

// findRunning checks, for every server at once, what start checks for
// each one: a live pid of the installed redis-server in its pid file, then
// that it answers PING. On a run with nothing to start that is one round
// trip per host and the PINGs in parallel, not every server in turn; only
// the servers that need starting are then started in order (start).
func (r *upRun) findRunning(ctx context.Context) error {
	c := r.c
	exe := remote.Quote(c.Layout.BinDir + "/redis-server")
	found := map[server]runningServer{}
	var mu sync.Mutex
	// Nothing changed yet in this run (a no-change up): the pids the facts
	// read under this run's lock are still the servers', unless one has
	// died since, which a PING that fails tells; then the host is asked
	// again, as in any other run.
	unchanged := len(r.sum.Changes) == 0 && !r.opts.DryRun
	err := eachHost(ctx, c.Nodes, nodeName, "find running servers", func(ctx context.Context, n *Node) error {
		if unchanged && n.Facts != nil {
			fromFacts := map[server]runningServer{{n, false}: {pid: n.Facts.RedisPid}}
			if n.Spec.Sentinel {
				fromFacts[server{n, true}] = runningServer{pid: n.Facts.SentinelPid}
			}
			ok := true
			for sv, rs := range fromFacts {
				if rs.pid == 0 || !c.answersPing(ctx, sv.n, sv.sentinel) {
					ok = false
				}
			}
			if ok {
				mu.Lock()
				maps.Copy(found, fromFacts)
				mu.Unlock()
				return nil
			}
		}
		script := livePidFunc + "echo \"redis=$(live_pid " + remote.Quote(c.Layout.RedisPid) + " " + exe + ")\"\n"
		if n.Spec.Sentinel {
			script += "echo \"sentinel=$(live_pid " + remote.Quote(c.Layout.SentinelPid) + " " + exe + ")\"\n"
		}
		out, err := remote.Output(ctx, n.Host, script)
		if err != nil {
			return err
		}
		var live []server
		pids := map[server]int{}
		for _, line := range strings.Split(out, "\n") {
			k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
			pid, _ := strconv.Atoi(v)
			if (k == "redis" || k == "sentinel") && pid > 0 {
				sv := server{n, k == "sentinel"}
				live = append(live, sv)
				pids[sv] = pid
			}
		}
		var wg sync.WaitGroup
		for _, sv := range live {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rs := runningServer{pid: pids[sv]}
				if !r.opts.DryRun {
					rs.pingErr = c.waitPing(ctx, sv.n, sv.sentinel, 20*time.Second)
				}
				mu.Lock()
				found[sv] = rs
				mu.Unlock()
			}()
		}
		wg.Wait()
		return nil
	})
	r.running = found
	return err
}

func (r *upRun) start(ctx context.Context, n *Node, sentinel bool) error {
	c := r.c
	svc, pidFile := c.Layout.RedisService, c.Layout.RedisPid
	if sentinel {
		svc, pidFile = c.Layout.SentinelService, c.Layout.SentinelPid
	}
	if rs, ok := r.running[server{n, sentinel}]; ok {
		// Found running by findRunning, which checked what follows.
		if r.opts.DryRun {
			return nil
		}
		if rs.pingErr != nil {
			return &HostError{Host: n.Spec.Name, Step: "start " + svc, Err: rs.pingErr}
		}
		c.P.Printf(n.Spec.Name, "%s already running (pid %d)", svc, rs.pid)
		return nil
	}
	pid, err := c.livePid(ctx, n, pidFile)
	if err != nil {
		return err
	}
	started := pid == 0
	if started {
		err = r.change(n, "", func() (err error) {
			pid, _, err = c.startService(ctx, n, svc, pidFile)
			return err
		}, "start %s", svc)
		if err != nil {
			return &HostError{Host: n.Spec.Name, Step: "start " + svc, Err: err}
		}
	}
	if r.opts.DryRun {
		return nil
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

// startReplicas starts the replicas that are not running, all at once:
// each syncs from the master on its own (one diskless transfer serves
// those that connect together, repl-diskless-sync-max-replicas), and on
// 15 hosts one after the other took seconds.
func (r *upRun) startReplicas(ctx context.Context) error {
	if err := eachHost(ctx, r.replicas(), nodeName, "start redis", func(ctx context.Context, n *Node) error {
		return r.start(ctx, n, false)
	}); err != nil {
		return err
	}
	if r.opts.DryRun {
		return nil
	}
	return r.c.WaitReplication(ctx, r.master, r.replicas(), r.opts.SyncTimeout)
}

// startSentinels starts the master's sentinel, then the others at once:
// each knows its peers from its config (myid, known-sentinel).
func (r *upRun) startSentinels(ctx context.Context) error {
	if r.master.Spec.Sentinel {
		if err := r.start(ctx, r.master, true); err != nil {
			return err
		}
	}
	var rest []*Node
	for _, n := range r.replicas() {
		if n.Spec.Sentinel {
			rest = append(rest, n)
		}
	}
	return eachHost(ctx, rest, nodeName, "start sentinel", func(ctx context.Context, n *Node) error {
		return r.start(ctx, n, true)
	})
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
