package provision

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
)

// LiveMaster decides from an analysed snapshot which node up treats as the
// master: the one the answering sentinels name (up or not: whether a down
// master may be started is checkStaleMaster's question), else the one
// running data node that reports role:master, else the inventory's. It
// never picks a master on its own: when the sentinels disagree, or name an
// address that is not in the inventory, or several data nodes claim the
// role with no sentinel to settle it, it stops and explains. The note,
// when not empty, tells the operator that the inventory's master was not
// kept.
func (c *Cluster) LiveMaster(s *Snapshot, a Analysis) (*Node, string, error) {
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

// DepartedAddr is a host the running sentinels know that the inventory no
// longer lists, by IP address, and what they know it as.
type DepartedAddr struct {
	IP       string
	Master   bool // some sentinel names it as the master
	Replica  bool
	Sentinel bool
}

// Kinds lists what the sentinels know the host as, for messages.
func (d DepartedAddr) Kinds() string {
	var k []string
	if d.Master {
		k = append(k, "master")
	}
	if d.Replica {
		k = append(k, "replica")
	}
	if d.Sentinel {
		k = append(k, "sentinel")
	}
	return strings.Join(k, ", ")
}

// DepartedHosts lists, by IP address, the masters, replicas and sentinels
// the running sentinels know that are no host of the inventory: the hosts
// taken out of it. Sentinels report IP addresses, so an inventory address
// that is a name is resolved here; when one cannot be, nothing is reported
// (better to leave a departed host known than to take a listed one for it).
func (c *Cluster) DepartedHosts(ctx context.Context, s *Snapshot) []DepartedAddr {
	known := map[string]bool{}
	for _, n := range c.Nodes {
		if ip := net.ParseIP(n.Spec.Address); ip != nil {
			known[ip.String()] = true
			continue
		}
		ips, err := net.DefaultResolver.LookupIPAddr(ctx, n.Spec.Address)
		if err != nil || len(ips) == 0 {
			c.P.Printf(n.Spec.Name, "cannot resolve %s (%v): hosts removed from the inventory are not looked for", n.Spec.Address, err)
			return nil
		}
		for _, ip := range ips {
			known[ip.IP.String()] = true
		}
	}
	byIP := map[string]*DepartedAddr{}
	note := func(addr string, set func(*DepartedAddr)) {
		host, _, err := net.SplitHostPort(addr)
		ip := net.ParseIP(host)
		if err != nil || ip == nil || known[ip.String()] {
			return
		}
		d := byIP[ip.String()]
		if d == nil {
			d = &DepartedAddr{IP: ip.String()}
			byIP[d.IP] = d
		}
		set(d)
	}
	for _, nh := range s.Nodes {
		sh := nh.Sentinel
		if sh == nil || !sh.Running {
			continue
		}
		note(sh.Master, func(d *DepartedAddr) { d.Master = true })
		for _, p := range sh.Replicas {
			note(p.Addr, func(d *DepartedAddr) { d.Replica = true })
		}
		for _, p := range sh.Sentinels {
			note(p.Addr, func(d *DepartedAddr) { d.Sentinel = true })
		}
	}
	var out []DepartedAddr
	for _, d := range byIP {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP < out[j].IP })
	return out
}

// CheckPasswordAccepted stops up when a running server refuses the
// password redisctl logs in with (the cluster password, or the one the
// servers still run with during its rotation, see findLoginPassword):
// going on would lock the sentinels out.
func (c *Cluster) CheckPasswordAccepted(s *Snapshot) error {
	for _, n := range c.Nodes {
		if n.Facts == nil || n.Facts.RedisPid == 0 {
			continue
		}
		if e := s.Node(n.Spec.Name).Redis.Error; strings.Contains(e, "WRONGPASS") || strings.Contains(e, "NOAUTH") {
			return fmt.Errorf("%s: the running Redis refuses the password (%s), though the others take it: look at %s (requirepass, and a user default line after it)", n.Spec.Name, e, c.Layout.RedisConf)
		}
	}
	return nil
}
