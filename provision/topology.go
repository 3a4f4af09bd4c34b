package provision

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redisctl/redisctl/provision/redisx"
)

// LiveMaster decides which node is the master before anything is rendered:
// the one the running sentinels name, else the one running data node that
// reports role:master, else the inventory's. It never picks a master on
// its own: when the sentinels disagree, or name an address that is not in
// the inventory, or several data nodes claim the role with no sentinel to
// settle it, it stops and explains.
func (c *Cluster) LiveMaster(ctx context.Context) (*Node, string, error) {
	type answer struct {
		node *Node
		addr string
		err  error
	}
	var mu sync.Mutex
	var answers []answer
	var wg sync.WaitGroup
	for _, n := range c.Sentinels() {
		if n.Facts == nil || n.Facts.SentinelPid == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := c.Sentinel(n)
			defer cl.Close()
			v, err := cl.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", c.Inv.Name).StringSlice()
			a := answer{node: n, err: err}
			if err == nil && len(v) == 2 {
				a.addr = net.JoinHostPort(v[0], v[1])
			}
			mu.Lock()
			answers = append(answers, a)
			mu.Unlock()
		}()
	}
	wg.Wait()
	views := map[string][]string{}
	for _, a := range answers {
		if a.err == nil && a.addr != "" {
			views[a.addr] = append(views[a.addr], a.node.Spec.Name)
		}
	}
	inv := c.Node(c.Inv.Master().Name)
	switch len(views) {
	case 1:
		for addr, who := range views {
			n := c.NodeByAddr(addr)
			if n == nil || c.DataAddr(n) != addr {
				return nil, "", fmt.Errorf("the sentinels (%s) name %s as master, which is not a host of the inventory; fix the inventory or the cluster by hand first", strings.Join(who, ", "), addr)
			}
			if n != inv {
				return n, fmt.Sprintf("inventory names %s as master; the sentinels have promoted %s since; keeping %s", inv.Spec.Name, n.Spec.Name, n.Spec.Name), nil
			}
			return n, "", nil
		}
	case 0:
	default:
		var parts []string
		for addr, who := range views {
			parts = append(parts, fmt.Sprintf("%s name %s", strings.Join(who, ", "), addr))
		}
		sort.Strings(parts)
		return nil, "", fmt.Errorf("the sentinels disagree on the master (%s); refusing to guess: wait for the sentinels to converge or check `redisctl status`", strings.Join(parts, "; "))
	}

	// No sentinel answered: ask the running data nodes.
	var masters []*Node
	for _, n := range c.Nodes {
		if n.Facts == nil || n.Facts.RedisPid == 0 {
			continue
		}
		cl := c.Data(n)
		s, err := cl.Info(ctx, "replication").Result()
		cl.Close()
		if err != nil {
			return nil, "", fmt.Errorf("%s: redis is running but does not answer INFO: %w", n.Spec.Name, err)
		}
		if redisx.ParseInfo(s)["role"] == "master" {
			masters = append(masters, n)
		}
	}
	switch {
	case len(masters) == 0:
		return inv, "", nil
	case len(masters) == 1:
		if masters[0] != inv {
			return masters[0], fmt.Sprintf("inventory names %s as master; %s is the running master; keeping %s", inv.Spec.Name, masters[0].Spec.Name, masters[0].Spec.Name), nil
		}
		return inv, "", nil
	}
	var names []string
	for _, m := range masters {
		names = append(names, m.Spec.Name)
	}
	return nil, "", fmt.Errorf("%s all run as master and no sentinel answers to say which is current; refusing to guess: stop the stale ones or make them replicas by hand", strings.Join(names, ", "))
}

// checkNoRemovedHosts refuses to go on when the running sentinels know a
// replica or a sentinel that the inventory no longer lists: removing a host
// is not supported yet, and carrying on would leave the sentinels counting
// a member that redisctl ignores. Sentinels report IP addresses, so the
// check applies when the inventory names its hosts by IP.
func (c *Cluster) checkNoRemovedHosts(ctx context.Context) error {
	known := map[string]bool{}
	for _, n := range c.Nodes {
		ip := net.ParseIP(n.Spec.Address)
		if ip == nil {
			return nil
		}
		known[ip.String()] = true
	}
	var unknown []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range c.Sentinels() {
		if n.Facts == nil || n.Facts.SentinelPid == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A sentinel that does not answer (paused, overloaded) costs
			// one short wait, not one per question.
			qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			cl := c.Sentinel(n)
			defer cl.Close()
			for _, kind := range []string{"REPLICAS", "SENTINELS"} {
				v, err := cl.Do(qctx, "SENTINEL", kind, c.Inv.Name).Result()
				if err != nil {
					return
				}
				mu.Lock()
				for _, p := range redisx.PairsList(v) {
					ip := net.ParseIP(p["ip"])
					what := strings.ToLower(strings.TrimSuffix(kind, "S")) + " " + net.JoinHostPort(p["ip"], p["port"])
					if ip != nil && !known[ip.String()] && !slices.Contains(unknown, what) {
						unknown = append(unknown, what)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return fmt.Errorf("the sentinels know %s, not in the inventory: removing a host is not supported yet; put it back in the inventory, or remove it by hand (stop it, then SENTINEL RESET %s on each sentinel, 30 s apart)", strings.Join(unknown, ", "), c.Inv.Name)
}

// checkPasswordAccepted stops up when a running server refuses the
// inventory's password: the password of a live cluster cannot be changed
// by redisctl yet, and going on would lock the sentinels out.
func (c *Cluster) checkPasswordAccepted(ctx context.Context) error {
	for _, n := range c.Nodes {
		if n.Facts == nil || n.Facts.RedisPid == 0 {
			continue
		}
		cl := c.Data(n)
		err := cl.Ping(ctx).Err()
		cl.Close()
		if err != nil && (strings.Contains(err.Error(), "WRONGPASS") || strings.Contains(err.Error(), "NOAUTH")) {
			return fmt.Errorf("%s: the running Redis refuses the password (%v): changing the password of a live cluster is not supported yet; use the password it runs with (requirepass in %s)", n.Spec.Name, err, c.Layout.RedisConf)
		}
	}
	return nil
}
