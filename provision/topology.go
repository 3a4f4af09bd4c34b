package provision

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
)

// liveMaster decides from an analysed snapshot which node up treats as the
// master: the one the answering sentinels name (up or not: whether a down
// master may be started is checkStaleMaster's question), else the one
// running data node that reports role:master, else the inventory's. It
// never picks a master on its own: when the sentinels disagree, or name an
// address that is not in the inventory, or several data nodes claim the
// role with no sentinel to settle it, it stops and explains. The note,
// when not empty, tells the operator that the inventory's master was not
// kept.
func (c *Cluster) liveMaster(s *Snapshot, a Analysis) (*Node, string, error) {
	inv := c.Node(c.Inv.Master().Name)
	switch a.NoMaster {
	case SentinelsDisagree:
		return nil, "", fmt.Errorf("%s; refusing to guess: wait for the sentinels to converge or check `redisctl status`", a.Why)
	case NamedNotInventory:
		return nil, "", fmt.Errorf("%s; fix the inventory or the cluster by hand first", a.Why)
	}
	if len(a.Views) == 1 {
		n := c.Node(a.Named)
		if n != inv {
			return n, fmt.Sprintf("inventory names %s as master; the sentinels have promoted %s since; keeping %s", inv.Spec.Name, n.Spec.Name, n.Spec.Name), nil
		}
		return n, "", nil
	}

	// No sentinel answered: the running data nodes decide.
	for _, n := range c.Nodes {
		if r := s.Node(n.Spec.Name).Redis; n.Facts != nil && n.Facts.RedisPid > 0 && !r.Running {
			return nil, "", fmt.Errorf("%s: redis is running but does not answer INFO: %s", n.Spec.Name, r.Error)
		}
	}
	switch len(a.Claimants) {
	case 0:
		return inv, "", nil
	case 1:
		m := c.Node(a.Claimants[0])
		if m != inv {
			return m, fmt.Sprintf("inventory names %s as master; %s is the running master; keeping %s", inv.Spec.Name, m.Spec.Name, m.Spec.Name), nil
		}
		return inv, "", nil
	}
	return nil, "", fmt.Errorf("%s all run as master and no sentinel answers to say which is current; refusing to guess: stop the stale ones or make them replicas by hand", strings.Join(a.Claimants, ", "))
}

// checkNoRemovedHosts refuses to go on when the running sentinels know a
// replica or a sentinel that the inventory no longer lists: removing a host
// is not supported yet, and carrying on would leave the sentinels counting
// a member that redisctl ignores. Sentinels report IP addresses, so the
// check applies when the inventory names its hosts by IP.
func (c *Cluster) checkNoRemovedHosts(s *Snapshot) error {
	known := map[string]bool{}
	for _, n := range c.Nodes {
		ip := net.ParseIP(n.Spec.Address)
		if ip == nil {
			return nil
		}
		known[ip.String()] = true
	}
	var unknown []string
	note := func(kind string, peers []PeerView) {
		for _, p := range peers {
			host, _, err := net.SplitHostPort(p.Addr)
			ip := net.ParseIP(host)
			what := kind + " " + p.Addr
			if err == nil && ip != nil && !known[ip.String()] && !slices.Contains(unknown, what) {
				unknown = append(unknown, what)
			}
		}
	}
	for _, nh := range s.Nodes {
		if sh := nh.Sentinel; sh != nil && sh.Running {
			note("replica", sh.Replicas)
			note("sentinel", sh.Sentinels)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return fmt.Errorf("the sentinels know %s, not in the inventory: removing a host is not supported yet; put it back in the inventory, or remove it by hand (stop it, then SENTINEL RESET %s on each sentinel, 30 s apart)", strings.Join(unknown, ", "), c.Inv.Name)
}

// checkPasswordAccepted stops up when a running server refuses the
// inventory's password: the password of a live cluster cannot be changed
// by redisctl yet, and going on would lock the sentinels out.
func (c *Cluster) checkPasswordAccepted(s *Snapshot) error {
	for _, n := range c.Nodes {
		if n.Facts == nil || n.Facts.RedisPid == 0 {
			continue
		}
		if e := s.Node(n.Spec.Name).Redis.Error; strings.Contains(e, "WRONGPASS") || strings.Contains(e, "NOAUTH") {
			return fmt.Errorf("%s: the running Redis refuses the password (%s): changing the password of a live cluster is not supported yet; use the password it runs with (requirepass in %s)", n.Spec.Name, e, c.Layout.RedisConf)
		}
	}
	return nil
}
