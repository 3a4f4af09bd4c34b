package up

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/redisctl/redisctl/provision"
	"github.com/redisctl/redisctl/provision/remote"
)

// removeHostsStep is up's step "remove hosts".
type removeHostsStep struct{ *upRun }

func (removeHostsStep) Title() string { return "remove hosts" }

// Run removes the departed hosts: on each, its sentinel and its
// Redis are stopped and what its manifest lists is uninstalled (with
// uninstall's rules: what another cluster on the host still uses is kept
// and handed over); then each remaining sentinel forgets them.
func (r removeHostsStep) Run(ctx context.Context) error {
	c := r.c
	if len(r.departed) == 0 {
		return nil
	}
	for _, d := range r.departed {
		n := d.node
		if n.Host == nil {
			note := fmt.Sprintf("%s cannot be reached (%v): its processes cannot be stopped nor its files removed; --force: the sentinels forget it, but a sentinel or Redis still running there would be found again", n.Spec.Name, d.err)
			c.P.Printf(n.Spec.Name, "%s", note)
			r.sum.Notes = append(r.sum.Notes, note)
			continue
		}
		if err := r.removeHost(ctx, n); err != nil {
			return &provision.HostError{Host: n.Spec.Name, Step: "remove", Err: err}
		}
	}
	for _, s := range c.Sentinels() {
		err := r.change(s, "", func() error { return r.resetSentinel(ctx, s) },
			"SENTINEL RESET %s, then wait until it knows %d replicas and %d other sentinels", c.Inv.Name, len(c.Nodes)-1, len(c.Sentinels())-1)
		if err != nil {
			return &provision.HostError{Host: s.Spec.Name, Step: "SENTINEL RESET", Err: err}
		}
	}
	return nil
}

// removeHost stops the departed node's sentinel, then its Redis, then
// uninstalls what its manifest lists, and removes the cluster's lock file
// there (the run holds the lock on the inventory's hosts only).
func (r *upRun) removeHost(ctx context.Context, n *provision.Node) error {
	c := r.c
	l := c.Layout
	for _, svc := range []struct {
		name, pid string
		running   bool
	}{
		{l.SentinelService, l.SentinelPid, n.Facts.SentinelPid > 0},
		{l.RedisService, l.RedisPid, n.Facts.RedisPid > 0},
	} {
		if !svc.running {
			continue
		}
		err := r.change(n, "", func() error {
			_, err := c.StopService(ctx, n, svc.name, svc.pid)
			return err
		}, "stop %s", svc.name)
		if err != nil {
			return err
		}
	}
	hp := c.UninstallPlans([]*provision.Node{n}, false)[0]
	lock := provision.LockFile(l.StateDir, c.Inv.Name)
	rmLock := func() error {
		if err := n.Host.Run(ctx, remote.Cmd("rm", "-f", "--", lock), nil, nil, nil); err != nil {
			return fmt.Errorf("remove the lock file %s: %w", lock, err)
		}
		return nil
	}
	if hp.Empty() {
		c.P.Printf(n.Spec.Name, "nothing recorded by redisctl for cluster %s here; nothing to uninstall", c.Inv.Name)
		if r.opts.DryRun {
			return nil
		}
		return rmLock()
	}
	return r.change(n, "", func() error {
		if err := rmLock(); err != nil {
			return err
		}
		_, _, err := c.RemoveHost(ctx, hp)
		return err
	}, "uninstall: %s", provision.UninstallWhat(hp))
}

// resetSentinel has n's sentinel forget every replica and sentinel
// (SENTINEL RESET) and waits until it has found the remaining ones again:
// the replicas from the master's INFO, the sentinels from their hello
// messages. Only then is the next sentinel reset, so the others keep a
// quorum meanwhile.
func (r *upRun) resetSentinel(ctx context.Context, n *provision.Node) error {
	c := r.c
	sc := c.SentinelClient(n)
	defer sc.Close()
	c.P.Printf(n.Spec.Name, "SENTINEL RESET %s", c.Inv.Name)
	if err := sc.Reset(ctx, c.Inv.Name).Err(); err != nil {
		return fmt.Errorf("SENTINEL RESET %s: %w", c.Inv.Name, err)
	}
	wantReplicas, wantSentinels := len(c.Nodes)-1, len(c.Sentinels())-1
	var gone []string
	for _, d := range r.departed {
		gone = append(gone, d.addr.IP)
	}
	start := time.Now()
	err := c.WaitSnapshot(ctx, fmt.Sprintf("the sentinel on %s to know the master, %d replicas and %d other sentinels again, none of them removed", n.Spec.Name, wantReplicas, wantSentinels),
		r.opts.SyncTimeout, 500*time.Millisecond, func(s *provision.Snapshot, _ provision.Analysis) (bool, string) {
			return sentinelRediscovered(s.Node(n.Spec.Name), c.DataAddr(r.master), wantReplicas, wantSentinels, gone)
		})
	if err == nil {
		c.P.Printf(n.Spec.Name, "sentinel knows %d replicas and %d other sentinels again (%s)", wantReplicas, wantSentinels, time.Since(start).Round(100*time.Millisecond))
	}
	return err
}

// sentinelRediscovered reads from one host's observation whether its
// sentinel names master and knows exactly the wanted numbers of replicas
// and other sentinels, none at a removed address.
func sentinelRediscovered(nh *provision.NodeHealth, master string, replicas, sentinels int, gone []string) (bool, string) {
	if nh == nil || nh.Sentinel == nil {
		return false, "not observed"
	}
	sh := nh.Sentinel
	if !sh.Running {
		return false, sh.Error
	}
	var addrs []string
	removed := false
	for _, p := range slices.Concat(sh.Replicas, sh.Sentinels) {
		addrs = append(addrs, p.Addr)
		ip, _, _ := net.SplitHostPort(p.Addr)
		removed = removed || slices.Contains(gone, ip)
	}
	seen := fmt.Sprintf("names %s, knows %d replicas and %d sentinels (%s)", sh.Master, len(sh.Replicas), len(sh.Sentinels), strings.Join(addrs, ", "))
	return sh.Master == master && len(sh.Replicas) == replicas && len(sh.Sentinels) == sentinels && !removed, seen
}
