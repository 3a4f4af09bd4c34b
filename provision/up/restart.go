package up

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redisctl/redisctl/provision"
)

// The rolling restart step of up: servers whose settings or build need a
// restart are restarted one at a time (replicas, then the master after a
// graceful failover, then the sentinels), each waited for before the next.

// rollingRestartStep is up's step "rolling restart".
type rollingRestartStep struct{ *upRun }

func (rollingRestartStep) Title() string { return "rolling restart" }

// Run restarts the servers whose new settings need a restart,
// never more than one at a time: the replicas, each waited for until it is
// back in sync; then, when the master needs one, a graceful failover away
// from it and its restart as a replica; then the sentinels, one by one.
func (r rollingRestartStep) Run(ctx context.Context) error {
	c := r.c
	r.planUpgrade()
	r.tlsBuildRestarts()
	if len(r.restarts) == 0 && len(r.sentinelRestarts) == 0 {
		return nil
	}
	if !r.opts.DryRun {
		if h := c.CheckHealth(ctx, nil); h.Verdict != provision.Healthy {
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
func (r *upRun) restartData(ctx context.Context, n *provision.Node) error {
	c := r.c
	if err := r.rewriteIfChanged(ctx, n, c.Layout.RedisConf); err != nil {
		return err
	}
	if err := c.SwitchBinaries(ctx, n); err != nil {
		return err
	}
	if _, err := c.StopService(ctx, n, c.Layout.RedisService, c.Layout.RedisPid); err != nil {
		return err
	}
	if _, _, err := c.StartService(ctx, n, c.Layout.RedisService, c.Layout.RedisPid); err != nil {
		return err
	}
	if err := c.WaitPing(ctx, n, false, 20*time.Second); err != nil {
		return err
	}
	if err := c.WaitReplication(ctx, r.master, r.replicas(), r.opts.SyncTimeout); err != nil {
		return err
	}
	if err := c.Verify(ctx, r.master, r.opts.SyncTimeout); err != nil {
		return err
	}
	c.P.Printf(n.Spec.Name, "restarted %s on %s; back in sync", c.Layout.RedisService, c.Target())
	return nil
}

// restartSentinel restarts n's sentinel with its new config (and build).
// The config is merged while the sentinel is stopped, since a running
// sentinel rewrites its file on its own; if that fails, the sentinel is
// started again as it was, so that a failed run leaves no sentinel down.
func (r *upRun) restartSentinel(ctx context.Context, n *provision.Node) error {
	c := r.c
	if err := c.SwitchBinaries(ctx, n); err != nil {
		return err
	}
	if _, err := c.StopService(ctx, n, c.Layout.SentinelService, c.Layout.SentinelPid); err != nil {
		return err
	}
	if err := r.rewriteIfChanged(ctx, n, c.Layout.SentinelConf); err != nil {
		if _, _, serr := c.StartService(context.WithoutCancel(ctx), n, c.Layout.SentinelService, c.Layout.SentinelPid); serr != nil {
			return fmt.Errorf("%w; starting %s again as it was failed too: %v", err, c.Layout.SentinelService, serr)
		}
		return fmt.Errorf("%w (%s was started again with its old config)", err, c.Layout.SentinelService)
	}
	if _, _, err := c.StartService(ctx, n, c.Layout.SentinelService, c.Layout.SentinelPid); err != nil {
		return err
	}
	if err := c.Verify(ctx, r.master, r.opts.SyncTimeout); err != nil {
		return err
	}
	c.P.Printf(n.Spec.Name, "restarted %s on %s; it sees the master, every replica and every other sentinel", c.Layout.SentinelService, c.Target())
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
	want := r.c.Target()
	for _, n := range r.c.Nodes {
		nh := r.snap.Node(n.Spec.Name)
		if nh == nil {
			continue
		}
		if d := nh.Redis; d != nil && d.Running && d.Version != "" {
			if have := (provision.Build{Engine: d.Engine, Version: d.Version}); have != want {
				r.restarts[n] = append(r.restarts[n], fmt.Sprintf("the upgrade from %s to %s", have, want))
			}
		}
		if s := nh.Sentinel; n.Spec.Sentinel && s != nil && s.Running && s.Version != "" {
			if have := (provision.Build{Engine: s.Engine, Version: s.Version}); have != want {
				r.sentinelRestarts[n] = append(r.sentinelRestarts[n], fmt.Sprintf("the upgrade from %s to %s", have, want))
			}
		}
	}
}

// failoverAway moves the master role off old gracefully (writes paused,
// replicas caught up, SENTINEL FAILOVER) and reports how long writes were
// held.
func (r *upRun) failoverAway(ctx context.Context, old *provision.Node) error {
	newMaster, bound, err := r.moveMaster(ctx, old)
	if err != nil {
		return err
	}
	if err := r.c.WaitRole(ctx, old, "replica", bound); err != nil {
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
func (r *upRun) moveMaster(ctx context.Context, old *provision.Node) (*provision.Node, time.Duration, error) {
	c := r.c
	start := time.Now()
	unpause, err := c.GracefulFailover(ctx, old)
	if err != nil {
		return nil, 0, err
	}
	bound := provision.PromotionBound(c.Inv)
	promoted, err := c.WaitPromoted(ctx, old, bound)
	if err != nil {
		return nil, 0, errors.Join(err, unpause())
	}
	// Writes resume once the old master is a replica: a client still sent
	// there by a sentinel that has not heard of the switch gets READONLY
	// and asks again; nothing it writes is acknowledged and then lost.
	if err := c.Demote(ctx, old, promoted); err != nil {
		return nil, 0, errors.Join(err, unpause())
	}
	held := time.Since(start)
	if err := unpause(); err != nil {
		return nil, 0, err
	}
	newMaster, err := c.WaitNewMaster(ctx, old, bound)
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
