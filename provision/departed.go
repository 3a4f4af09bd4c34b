package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/redisx"
)

// ConnectExtra opens a host that is not in the inventory, at addr, with
// the inventory's ssh settings (user, port, identity file, known_hosts,
// jump host). The node is named by its address and closed with the
// cluster. A host that cannot be reached gives a node without Host and the
// error.
func (c *Cluster) ConnectExtra(ctx context.Context, connect Connector, addr string) (*Node, error) {
	one := *c.Inv
	one.Hosts = []inventory.Host{{Name: addr, Address: addr, Role: inventory.RoleReplica, Sentinel: true, SSH: c.Inv.SSH}}
	n := &Node{Spec: &one.Hosts[0]}
	hosts, err := connect(ctx, &one)
	if len(hosts) == 1 && hosts[0] != nil {
		n.Host = c.P.Logged(hosts[0])
		c.extra = append(c.extra, n)
		return n, nil
	}
	for _, h := range hosts {
		if h != nil {
			h.Close()
		}
	}
	if err == nil {
		err = fmt.Errorf("%s: not connected", addr)
	}
	return n, err
}

// SameServers returns the inventory node whose Redis or sentinel is the
// one running on n (the same run_id), or nil: the sentinels then know an
// inventory host by a second address, and it must not be removed.
func (c *Cluster) SameServers(ctx context.Context, n *Node) *Node {
	runID := func(m *Node, sentinel bool) string {
		return answerWithin(ctx, observeCallTimeout, func(ctx context.Context) string {
			cl := c.Data(m)
			if sentinel {
				cl = c.Sentinel(m)
			}
			s, err := cl.Info(ctx, "server").Result()
			if err != nil {
				return ""
			}
			return redisx.ParseInfo(s)["run_id"]
		}, "")
	}
	for _, srv := range []struct{ sentinel, running bool }{{false, n.Facts.RedisPid > 0}, {true, n.Facts.SentinelPid > 0}} {
		if !srv.running {
			continue
		}
		sentinel := srv.sentinel
		id := runID(n, sentinel)
		if id == "" {
			continue
		}
		for _, m := range c.Nodes {
			if m.Host != nil && runID(m, sentinel) == id {
				return m
			}
		}
	}
	return nil
}

// CheckRemoval refuses a removal that cannot be done safely: the current
// master, the last replica, or so many sentinels that the quorum, or the
// majority a failover needs, could not be reached.
func (c *Cluster) CheckRemoval(gone []DepartedAddr, failover bool) error {
	var errs []error
	for _, d := range gone {
		if d.Master && !failover {
			errs = append(errs, fmt.Errorf("%s is the current master and is not in the inventory: refusing to remove the master; "+
				"move the master to a host that stays first, with redisctl failover-test --mode manual (with the inventory that still lists %s), "+
				"or run redisctl up --failover, which fails over gracefully (writes held, replicas caught up, SENTINEL FAILOVER) before it removes the host", d.IP, d.IP))
		}
	}
	if replicas := len(c.Nodes) - 1; replicas < 1 {
		errs = append(errs, fmt.Errorf("removing %s would leave %d replicas; a cluster keeps at least one", departedList(gone), replicas))
	}
	stay, leaving := len(c.Sentinels()), 0
	for _, d := range gone {
		if d.Sentinel {
			leaving++
		}
	}
	switch {
	case stay < c.Inv.Sentinel.Quorum:
		errs = append(errs, fmt.Errorf("removing %s would leave %d sentinels, fewer than the quorum of %d; lower sentinel.quorum or keep a sentinel host", departedList(gone), stay, c.Inv.Sentinel.Quorum))
	case leaving > 0 && stay < (stay+leaving)/2+1:
		// Until it is reset, a sentinel still counts the departed ones: a
		// failover meanwhile needs a majority of all it knows.
		errs = append(errs, fmt.Errorf("removing %d sentinels at once would leave %d of the %d the sentinels know, not a majority, until every sentinel is reset: a failover meanwhile could not be authorised; remove fewer hosts at a time", leaving, stay, stay+leaving))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w\nnothing was changed", err)
	}
	return nil
}

// GatherExtraFacts reads the facts and this cluster's manifest of a host
// that is not in the inventory.
func (c *Cluster) GatherExtraFacts(ctx context.Context, n *Node) error {
	f, err := GatherFacts(ctx, n.Host, c.Inv)
	if err != nil {
		return err
	}
	m, err := LoadManifest(ctx, n.Host, c.Layout, c.Inv.Name, f.Manifests)
	if err != nil {
		return err
	}
	n.SetFacts(f, m, c.Layout)
	return nil
}

func departedList(gone []DepartedAddr) string {
	var ips []string
	for _, d := range gone {
		ips = append(ips, d.IP)
	}
	return strings.Join(ips, ", ")
}
