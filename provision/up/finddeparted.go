package up

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redisctl/redisctl/provision"
	"github.com/redisctl/redisctl/provision/redisx"
)

// The step "find removed hosts", and removehosts.go's "remove hosts".
//
// Removing a host: the operator takes it out of the inventory and runs up.
// The sentinels still know it (they never forget a replica or a sentinel),
// so up learns it from them, reaches it over SSH with the inventory's ssh
// settings, stops its sentinel and Redis, uninstalls what its manifest
// lists as uninstall does, and then has each remaining sentinel forget it
// with SENTINEL RESET, one at a time, each waited for until it knows the
// remaining replicas and sentinels again.

// departedNode is a host being removed: its node (Host nil when it cannot
// be reached) and what the sentinels know it as.
type departedNode struct {
	node *provision.Node
	addr provision.DepartedAddr
	err  error // why it cannot be reached
}

// findDepartedStep is up's step "find removed hosts".
type findDepartedStep struct{ *upRun }

func (findDepartedStep) Title() string { return "find removed hosts" }

// Run learns from the sentinels which hosts left the inventory,
// refuses what cannot be done safely, and reaches each departed host to
// learn what runs there. It changes nothing, except with --failover a
// departed master's role, moved to a replica: the removal itself is
// removeDeparted, after the remaining hosts are up.
func (r findDepartedStep) Run(ctx context.Context) error {
	c := r.c
	gone := c.DepartedHosts(ctx, c.Observe(ctx))
	if len(gone) == 0 {
		return nil
	}
	var what []string
	for _, d := range gone {
		what = append(what, fmt.Sprintf("%s (%s)", d.IP, d.Kinds()))
	}
	c.P.Printf("", "the sentinels know %s, not in the inventory: up removes %s", strings.Join(what, ", "), plural(len(gone), "it", "them"))
	if err := c.CheckRemoval(gone, r.opts.Failover); err != nil {
		return err
	}
	var unreachable []error
	hint := "bring the host back, or run redisctl up --force to forget it in the sentinels without stopping its processes"
	for _, d := range gone {
		n, err := c.ConnectExtra(ctx, r.opts.Connect, d.IP)
		if err == nil {
			err = c.GatherExtraFacts(ctx, n)
			if err == nil && n.Init == nil {
				err = fmt.Errorf("unknown init system %q: redisctl cannot stop its services", n.Facts.Init)
			}
		}
		if err != nil {
			if n.Host == nil && r.opts.Force && !d.Master {
				r.departed = append(r.departed, &departedNode{node: n, addr: d, err: err})
				continue
			}
			step := "reach the removed host"
			if n.Host != nil {
				step, hint = "gather facts on the removed host", "fix what stops redisctl there and run up again"
			}
			unreachable = append(unreachable, &provision.HostError{Host: d.IP, Step: step, Err: err})
			continue
		}
		if m := c.SameServers(ctx, n); m != nil {
			return fmt.Errorf("the sentinels know %s at %s, which is not in the inventory, but the server running there is %s's (the same run_id): "+
				"refusing to remove it; a host known by two addresses (several interfaces, replica-announce-ip) cannot be told from a removed one, so make each host announce its inventory address", m.Spec.Name, d.IP, m.Spec.Name)
		}
		r.departed = append(r.departed, &departedNode{node: n, addr: d})
		c.P.Printf(d.IP, "%s %s, %s%s", n.Facts.OSID, n.Facts.OSVersion, n.Facts.Init, running(n.Facts))
	}
	if len(unreachable) > 0 {
		return fmt.Errorf("%w\nnothing was changed; %s", errors.Join(unreachable...), hint)
	}
	for _, d := range r.departed {
		if !d.addr.Master {
			continue
		}
		old := d.node
		err := r.change(old, "", func() error { return r.failoverDeparted(ctx, old) },
			"fail over away from %s with SENTINEL FAILOVER (writes held, replicas caught up), to remove it", old.Spec.Name)
		if err != nil {
			return &provision.HostError{Host: old.Spec.Name, Step: "fail over", Err: err}
		}
		d.addr.Master = false
		r.failedOver = true
	}
	return nil
}

// failoverDeparted moves the master role off old, a host the inventory no
// longer lists, gracefully (see gracefulFailover), and waits until old
// reports role:slave, so that its removal stops a replica.
func (r *upRun) failoverDeparted(ctx context.Context, old *provision.Node) error {
	c := r.c
	_, bound, err := r.moveMaster(ctx, old)
	if err != nil {
		return err
	}
	// old is not an inventory host, which waitRole observes: ask it.
	return provision.WaitFor(ctx, old.Spec.Name+" to report role:slave", bound, 200*time.Millisecond, func(ctx context.Context) (bool, string) {
		s, err := c.Data(old).Info(ctx, "replication").Result()
		if err != nil {
			return false, err.Error()
		}
		role := redisx.ParseInfo(s)["role"]
		return role == "slave", "role:" + role
	})
}

// plannedMaster is, in a plan that fails over away from a departed master,
// the node plan assumes Sentinel promotes (the inventory's master): the
// sentinels still name the departed one, so the plan cannot ask them. Nil
// otherwise.
func (r *upRun) plannedMaster() *provision.Node {
	if !r.opts.DryRun || !r.failedOver {
		return nil
	}
	m := r.c.Node(r.c.Inv.Master().Name)
	r.opts.Progress.Printf("", "plan assumes Sentinel promotes %s; it picks the replica itself", m.Spec.Name)
	return m
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
