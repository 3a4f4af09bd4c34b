package up

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/redisctl/redisctl/provision"

	"github.com/redis/go-redis/v9"
	"github.com/redisctl/redisctl/provision/render"
)

// The configure step of up: every host's files are rendered and compared
// with what it has; a change to a running server is applied live where
// Redis allows it (CONFIG SET, SENTINEL SET, ACL SETUSER), or left for the
// rolling restart.

// configureStep is up's step "configure".
type configureStep struct{ *upRun }

func (configureStep) Title() string { return "configure" }

func (r configureStep) Run(ctx context.Context) error {
	c := r.c
	// The files read with the lock are as this run found them; they
	// stand for the hosts' files only while this run has changed nothing.
	r.mu.Lock()
	usePrefetch := len(r.sum.Changes) == 0 && !r.failedOver && !r.opts.DryRun
	r.mu.Unlock()
	return provision.EachHost(ctx, c.Nodes, provision.NodeName, "configure", func(ctx context.Context, n *provision.Node) error {
		pre := c.TakePrefetch(n)
		if !usePrefetch {
			pre = nil
		}
		changes, err := c.PlanFilesFrom(ctx, n, r.master.Spec.Address, pre)
		if pre != nil && (err != nil || len(changes) > 0) {
			// Something to change: decided again on the files as they
			// are now, which is what is written.
			changes, err = c.PlanFiles(ctx, n, r.master.Spec.Address)
		}
		if err != nil {
			return err
		}
		tlsChanged := false
		var writes []provision.FileChange
		for _, ch := range changes {
			if !ch.Live {
				writes = append(writes, ch)
			}
		}
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
				// Every file written at once, with the first of them: the
				// others are recorded as written by it.
				var apply func() error
				if writes != nil {
					all := writes
					apply, writes = func() error { return c.WriteFiles(ctx, n, all) }, nil
				}
				err = r.change(n, provision.FileDiff(ch), apply, "%s", what)
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
		for _, svc := range c.Services(n) {
			if !slices.Contains(n.Manifest.Services, svc) {
				register = append(register, svc)
			}
		}
		for i, svc := range register {
			// All in one command (systemd reloads its units once), made
			// with the first change.
			apply := func() error { return c.EnableServices(ctx, n, register) }
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
func (r *upRun) reloadTLS(ctx context.Context, n *provision.Node) error {
	c := r.c
	if n.Facts.RedisPid > 0 && c.SpeaksTLS(n, false) {
		t := render.NewTLSConf(c.Inv)
		do := provision.Command("CONFIG", "SET", "tls-cert-file", t.CertFile, "tls-key-file", t.KeyFile, "tls-ca-cert-file", t.CAFile)
		if err := r.change(n, "", func() error { return do(ctx, c.Data(n)) }, "live: reload the TLS certificate of %s (CONFIG SET tls-cert-file)", c.Layout.RedisService); err != nil {
			return err
		}
	}
	if n.Spec.Sentinel && n.Facts.SentinelPid > 0 && c.SpeaksTLS(n, true) {
		r.mu.Lock()
		r.sentinelRestarts[n] = append(r.sentinelRestarts[n], "the TLS certificate")
		r.mu.Unlock()
	}
	return nil
}

// applyLive changes the settings of a running server without restarting it.
func (r *upRun) applyLive(ctx context.Context, n *provision.Node, ch provision.FileChange) error {
	c := r.c
	var ops []provision.LiveOp
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
		ops, restart = c.RedisLiveOps(ch)
	} else {
		cl = c.Sentinel(n)
		ops, restart, err = c.SentinelLiveOps(ch)
	}
	if err != nil {
		return err
	}
	for _, op := range ops {
		if err := r.change(n, "", func() error { return op.Do(ctx, cl) }, "live: %s", op.Desc); err != nil {
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
	var again []provision.FileChange
	if !r.opts.DryRun {
		if again, err = c.PlanFiles(ctx, n, r.master.Spec.Address); err != nil {
			return err
		}
	} else if len(restart) > 0 {
		again = []provision.FileChange{ch}
	}
	for _, a := range again {
		if a.File.Path != ch.File.Path {
			continue
		}
		apply := func() error { return c.WriteFiles(ctx, n, []provision.FileChange{a}) }
		if len(restart) == 0 {
			return apply() // formatting only: nothing a person needs to see
		}
		return r.change(n, provision.FileDiff(a), apply, "update %s (%s; takes effect at the restart)", a.File.Path, strings.Join(restart, ", "))
	}
	return nil
}

// applyACLLive changes the users of a running data node to what the
// inventory says, without a restart (see aclLiveOps).
func (r *upRun) applyACLLive(ctx context.Context, n *provision.Node, ch provision.FileChange) error {
	ops, err := r.c.AclLiveOps(ch)
	if err != nil {
		return err
	}
	cl := r.c.Data(n)
	for _, op := range ops {
		if err := r.change(n, "", func() error { return op.Do(ctx, cl) }, "live: %s", op.Desc); err != nil {
			return err
		}
	}
	return nil
}

// rewriteIfChanged writes one file of n again when it differs from what
// redisctl wants (merged, so the server's own state stays).
func (r *upRun) rewriteIfChanged(ctx context.Context, n *provision.Node, file string) error {
	changes, err := r.c.PlanFiles(ctx, n, r.master.Spec.Address)
	if err != nil {
		return err
	}
	for _, ch := range changes {
		if ch.File.Path == file {
			return r.c.WriteFiles(ctx, n, []provision.FileChange{ch})
		}
	}
	return nil
}
