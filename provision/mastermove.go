package provision

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/redisx"
)

// Moving the master between data nodes, and waiting for the cluster to
// follow: the operations up (the rolling restart, an upgrade, removing a
// host, up --failover) and failover-test share. Each returns when what it
// waited for is seen, or with what was seen instead.

// GracefulFailover is SENTINEL FAILOVER made lossless. Sentinel promotes a
// replica without stopping writes on the old master, and what lands there
// before Sentinel turns it into a replica is discarded. So writes on the
// old master are paused first (CLIENT PAUSE WRITE), the replicas are let
// catch up to its offset, and only then is the failover asked for. Before
// the pause is lifted (the returned step) the caller makes the old master a
// replica (demote): a write the pause held then fails with READONLY, and
// none lands where it would be discarded.
func (c *Cluster) GracefulFailover(ctx context.Context, old *Node) (func() error, error) {
	cl := c.Data(old)
	// The pause outlasts every wait before the caller lifts it (the
	// replicas' catch-up, then the promotion), so that it cannot end on its
	// own while the old master is still a master; it ends by itself only if
	// redisctl is gone.
	pauseMS := max(10000, 2*c.Inv.Sentinel.FailoverTimeoutMS, int((CatchUpBound+PromotionBound(c.Inv)+5*time.Second)/time.Millisecond))
	c.P.Printf(old.Spec.Name, "CLIENT PAUSE %d WRITE", pauseMS)
	// go-redis's ClientPause has no WRITE mode, which leaves reads (and
	// INFO below) served.
	if err := cl.Do(ctx, "CLIENT", "PAUSE", pauseMS, "WRITE").Err(); err != nil {
		return nil, fmt.Errorf("pause writes on %s: %w", old.Spec.Name, err)
	}
	unpause := func() error {
		// A new client: Sentinel kills the old master's clients, the
		// run's included, when it makes it a replica.
		c.forgetClient(old, false)
		c.P.Printf(old.Spec.Name, "CLIENT UNPAUSE")
		return c.Data(old).ClientUnpause(context.WithoutCancel(ctx)).Err()
	}
	err := WaitFor(ctx, "every replica to reach the master's replication offset", CatchUpBound, 20*time.Millisecond, func(ctx context.Context) (bool, string) {
		s, err := cl.Info(ctx, "replication").Result()
		if err != nil {
			return false, err.Error()
		}
		i := redisx.ParseInfo(s)
		offset := i.Int("master_repl_offset")
		if lagging := c.replicasBehind(ctx, old, i.Replicas(), offset); len(lagging) > 0 {
			return false, strings.Join(lagging, ", ")
		}
		return true, ""
	})
	if err != nil {
		return nil, errors.Join(err, unpause())
	}
	s := c.Sentinels()[0]
	sc := c.SentinelClient(s)
	defer sc.Close()
	c.P.Printf(s.Spec.Name, "SENTINEL FAILOVER %s", c.Inv.Name)
	if err := sc.Failover(ctx, c.Inv.Name).Err(); err != nil {
		return nil, errors.Join(err, unpause())
	}
	return unpause, nil
}

// CatchUpBound bounds the wait for the replicas to reach a paused master's
// offset.
const CatchUpBound = 10 * time.Second

// PromotionBound bounds the wait for Sentinel to promote a replica, and for
// every sentinel to name it: the time to see the master down, two failover
// attempts (each at most 10 s of failover-timeout), and a margin.
func PromotionBound(inv *inventory.Inventory) time.Duration {
	return time.Duration(inv.Sentinel.DownAfterMS)*time.Millisecond + 2*time.Duration(min(inv.Sentinel.FailoverTimeoutMS, 10000))*time.Millisecond + 15*time.Second
}

// replicasBehind returns, for each of a master's replicas (links, from
// its INFO) that has not yet processed the stream up to offset, where it
// is. A replica of the inventory is asked itself: the offsets in the
// master's INFO come from the replicas' acknowledgements, sent once a
// second (and not asked for while writes are paused), so they lag by up
// to a second behind what the replicas have.
func (c *Cluster) replicasBehind(ctx context.Context, master *Node, links []redisx.ReplicaLink, offset int64) []string {
	behind := make([]string, len(links))
	var wg sync.WaitGroup
	for k, r := range links {
		n := c.NodeByAddr(r.IP)
		if n == nil || n == master {
			if r.Offset < offset {
				behind[k] = fmt.Sprintf("%s at %d, master at %d", r.IP, r.Offset, offset)
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := c.Data(n).Info(ctx, "replication").Result()
			if err != nil {
				behind[k] = fmt.Sprintf("%s: %v", n.Spec.Name, err)
				return
			}
			i := redisx.ParseInfo(s)
			have := i.Int("slave_repl_offset")
			if _, ok := i["slave_repl_offset"]; !ok {
				have = i.Int("master_repl_offset")
			}
			if i["master_link_status"] != "up" || have < offset {
				behind[k] = fmt.Sprintf("%s at %d (link %s), master at %d", n.Spec.Name, have, i["master_link_status"], offset)
			}
		}()
	}
	wg.Wait()
	var out []string
	for _, b := range behind {
		if b != "" {
			out = append(out, b)
		}
	}
	return out
}

// WaitPromoted waits until a replica of old reports role:master: the
// replica Sentinel promoted, once it has executed the SLAVEOF NO ONE that
// Sentinel sends it. The sentinel itself confirms that only at its next
// INFO of the replica (once a second during a failover), and the others
// hear of it a hello period (2 s) later, each; asking the replicas (every
// 50 ms, concurrently) lets the old master be demoted and its writes
// resume a few hundred milliseconds after the failover was asked for, on
// any number of hosts. Writes are paused and every replica had reached
// the old master's offset, so the promoted one has every acknowledged
// write; that the sentinels agree on it is waited for afterwards
// (waitNewMaster), and a disagreement is an error.
func (c *Cluster) WaitPromoted(ctx context.Context, old *Node, bound time.Duration) (*Node, error) {
	var candidates []*Node
	for _, n := range c.Nodes {
		if n != old {
			candidates = append(candidates, n)
		}
	}
	var found *Node
	err := WaitFor(ctx, "a replica of "+old.Spec.Name+" to be promoted", bound, 50*time.Millisecond, func(ctx context.Context) (bool, string) {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		roles := make([]string, len(candidates))
		var wg sync.WaitGroup
		for i, n := range candidates {
			wg.Add(1)
			go func() {
				defer wg.Done()
				info, err := c.Data(n).Info(ctx, "replication").Result()
				if err != nil {
					roles[i] = "not answering"
					return
				}
				roles[i] = redisx.ParseInfo(info)["role"]
			}()
		}
		wg.Wait()
		var seen []string
		for i, n := range candidates {
			if roles[i] == "master" {
				found = n
				return true, ""
			}
			seen = append(seen, n.Spec.Name+": "+roles[i])
		}
		return false, strings.Join(seen, ", ")
	})
	return found, err
}

// Demote makes old a replica of newMaster (REPLICAOF, then CONFIG REWRITE
// so a restart keeps it one) while its writes are still paused. Sentinel
// converts an old master only seconds after the switch (four hello
// periods), and until then a write the pause held, or a client that did
// not move, would land on it, be acknowledged and then be discarded; once
// it is a replica such a write fails with READONLY instead.
func (c *Cluster) Demote(ctx context.Context, old, newMaster *Node) error {
	cl := c.Data(old)
	port := strconv.Itoa(c.Inv.Redis.Port)
	c.P.Printf(old.Spec.Name, "REPLICAOF %s %s, before its writes resume", newMaster.Spec.Address, port)
	if err := cl.Do(ctx, "REPLICAOF", newMaster.Spec.Address, port).Err(); err != nil {
		return fmt.Errorf("make %s a replica of %s: %w", old.Spec.Name, newMaster.Spec.Name, err)
	}
	if err := cl.Do(ctx, "CONFIG", "REWRITE").Err(); err != nil {
		return fmt.Errorf("%s: CONFIG REWRITE after REPLICAOF: %w", old.Spec.Name, err)
	}
	return nil
}

// WaitNewMaster waits until every sentinel names the same master, other
// than old, and that node reports role:master. Old is not asked: it may be
// paused, and a short timeout keeps each round short.
func (c *Cluster) WaitNewMaster(ctx context.Context, old *Node, bound time.Duration) (*Node, error) {
	var found *Node
	sentinels := len(c.Sentinels())
	err := c.waitObserving(ctx, "every sentinel to name the same new master", bound, 200*time.Millisecond, time.Second, old,
		func(s *Snapshot, a Analysis) (bool, string) {
			var seen []string
			for _, nh := range s.Nodes {
				switch sh := nh.Sentinel; {
				case sh == nil:
				case sh.Running:
					seen = append(seen, nh.Name+" names "+sh.Master)
				default:
					seen = append(seen, fmt.Sprintf("%s: %s", nh.Name, sh.Error))
				}
			}
			if len(a.Views) != 1 || a.Answering() != sentinels || a.Named == old.Spec.Name || c.Node(a.Named) == nil {
				return false, strings.Join(seen, ", ")
			}
			if a.Master == "" {
				return false, fmt.Sprintf("%s; %s does not report role master yet", strings.Join(seen, ", "), a.Named)
			}
			found = c.Node(a.Master)
			return true, ""
		})
	return found, err
}

// WaitRole waits until n reports the given role ("master" or "replica").
func (c *Cluster) WaitRole(ctx context.Context, n *Node, role string, timeout time.Duration) error {
	return c.WaitSnapshot(ctx, fmt.Sprintf("%s to report role:%s", n.Spec.Name, role), timeout, 200*time.Millisecond, func(s *Snapshot, _ Analysis) (bool, string) {
		r := s.Node(n.Spec.Name).Redis
		if !r.Running {
			return false, r.Error
		}
		return r.Role == role, "role:" + r.Role
	})
}
