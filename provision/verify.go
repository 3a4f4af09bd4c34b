package provision

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redisctl/redisctl/provision/render"
)

// CheckSentinelPassword refuses a password that Sentinel would break: the
// Sentinel releases redisctl knows write auth-pass and requirepass back
// unquoted when they rewrite their config, so a password that needs quoting
// stops the Sentinel from starting after its first rewrite.
func CheckSentinelPassword(pw, version string, sentinels bool) error {
	if !sentinels || render.SentinelRewriteSafe(pw) {
		return nil
	}
	return fmt.Errorf("the password contains a space or a quote; Redis Sentinel %s writes passwords back unquoted when it rewrites its config, which would break it after the first failover: use letters, digits and punctuation other than quotes, without spaces (or leave redis.password out and redisctl generates one)", version)
}

// WaitReplication waits until the master lists every replica as online and
// every replica reports its link up, observing the cluster each time.
func (c *Cluster) WaitReplication(ctx context.Context, master *Node, replicas []*Node, timeout time.Duration) error {
	var want []string
	for _, n := range replicas {
		want = append(want, n.Spec.Name)
	}
	expected := fmt.Sprintf("%s to list %s as online replicas with their links up", master.Spec.Name, strings.Join(want, ", "))
	start := time.Now()
	err := c.WaitSnapshot(ctx, expected, timeout, 500*time.Millisecond, func(s *Snapshot, _ Analysis) (bool, string) {
		return replicationDone(s, master, replicas)
	})
	if err == nil {
		c.P.Printf("", "replication: %d replicas online at %s (%s)", len(replicas), master.Spec.Name, time.Since(start).Round(100*time.Millisecond))
	}
	return err
}

// replicationDone reads from a snapshot whether master lists every replica
// online and each replica follows master with its link up.
func replicationDone(s *Snapshot, master *Node, replicas []*Node) (bool, string) {
	m := s.Node(master.Spec.Name).Redis
	if !m.Running {
		return false, fmt.Sprintf("%s: %s", master.Spec.Name, m.Error)
	}
	// The master lists replicas by the IP they connect from, which need
	// not be the inventory's address (a DNS name, another interface), so
	// each replica's own report counts and the master's count must match.
	states := map[string]string{}
	online := 0
	for _, rl := range m.Replicas {
		states[rl.IP] = rl.State
		if rl.State == "online" {
			online++
		}
	}
	seen := []string{fmt.Sprintf("%s lists %d online replicas", master.Spec.Name, online)}
	ok := online >= len(replicas)
	for _, n := range replicas {
		state := "up"
		r := s.Node(n.Spec.Name).Redis
		followed, _, _ := net.SplitHostPort(r.MasterAddr)
		switch {
		case !r.Running:
			state = "error: " + r.Error
		case r.Role != "replica":
			state = "role " + r.Role
		case followed != master.Spec.Address:
			state = "follows " + followed
		case r.LinkStatus != "up":
			state = "link " + r.LinkStatus
		}
		if st, listed := states[n.Spec.Address]; listed && st != "online" && state == "up" {
			state = "state=" + st
		}
		if state != "up" {
			ok = false
		}
		seen = append(seen, n.Spec.Name+" "+state)
	}
	return ok, strings.Join(seen, "; ")
}

// verifyPollInterval is how often Verify observes the cluster until every
// sentinel agrees: one observation is a parallel round trip per server.
const verifyPollInterval = 100 * time.Millisecond

// Verify proves the cluster can fail over before up declares success:
// every sentinel names the same master, sees every replica and every other
// sentinel as reachable, CKQUORUM passes, and a replica refuses writes.
func (c *Cluster) Verify(ctx context.Context, master *Node, timeout time.Duration) error {
	start := time.Now()
	// Sentinels written by redisctl know their peers from their first
	// start, so agreement comes within a few hundred milliseconds, not
	// after the 2 s hello rounds: look again every 100 ms.
	err := c.WaitSnapshot(ctx, "a healthy cluster (every sentinel agreeing, reaching every peer, quorum OK)", timeout, verifyPollInterval,
		func(_ *Snapshot, a Analysis) (bool, string) {
			if a.Verdict == Healthy && a.Master == master.Spec.Name {
				return true, ""
			}
			var lines []string
			for _, p := range a.Problems {
				lines = append(lines, p.String())
			}
			if a.Master != master.Spec.Name {
				lines = append(lines, fmt.Sprintf("master is %q, expected %s", a.Named, master.Spec.Name))
			}
			return false, strings.Join(lines, "; ")
		})
	if err != nil {
		return err
	}
	for _, n := range c.Nodes {
		if n == master {
			continue
		}
		err := c.Data(n).Set(ctx, "redisctl:verify:readonly", "x", time.Second).Err()
		if err == nil || !strings.HasPrefix(err.Error(), "READONLY") {
			return fmt.Errorf("%s: replica should refuse writes with READONLY, got %v", n.Spec.Name, err)
		}
	}
	c.P.Printf("", "verified: master %s, %d replicas online, %d sentinels agree and reach each other, quorum OK, replicas read-only (%s)",
		master.Spec.Name, len(c.Nodes)-1, len(c.Sentinels()), time.Since(start).Round(100*time.Millisecond))
	return nil
}
