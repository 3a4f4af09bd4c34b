package up

import (
	"context"
	"fmt"
	"strings"

	"github.com/redisctl/redisctl/provision"
	"github.com/redisctl/redisctl/provision/render"
)

// Switching a running cluster to TLS (tls.enabled set on a cluster up set
// up without it), and back. Redis serves TLS on the same port only after
// the plaintext listener is closed, and a server built without TLS cannot
// serve it at all, so up moves in stages, each safe to stop after (the next
// run reads from the hosts where the cluster is and goes on):
//
//  1. To TLS, the TLS build goes beside the running one, and each server
//     restarts onto it as in an upgrade (replicas, then the master after a
//     graceful failover, then the sentinels), its config unchanged. (Back
//     to plaintext, the TLS build stays: it serves plaintext too.)
//  2. Each data node, the master first, flips its listener in one CONFIG
//     SET (port 0 tls-port P tls-replication yes, after loading its
//     certificate; with tls.plaintext, port is tls.plaintext_port instead
//     of 0, where new plaintext connections go from then on; or tls-port 0
//     port P tls-replication no): open
//     connections (replication links, sentinels, clients) stay, and a
//     replica that reconnects does so the new way. CONFIG REWRITE saves it.
//  3. The sentinels, which take no CONFIG SET of these, restart together
//     with their new config (one by one, a sentinel speaking TLS could not
//     reach the others, and the reverse): no failover can start for the
//     second or so they are down.
//
// Until a server has switched, redisctl reaches it as it runs (see
// clusterTLS.pending), and its configs are rendered as it runs.

// tlsBuildRestarts adds, to an upgrade's restarts, the servers that run a
// build without TLS on a TLS cluster (stage 1).
func (r *upRun) tlsBuildRestarts() {
	c := r.c
	if !c.Inv.TLS.Enabled {
		return
	}
	for _, n := range c.Nodes {
		if n.Facts.RedisTLS {
			continue
		}
		if n.Facts.RedisPid > 0 && r.restarts[n] == nil {
			r.restarts[n] = append(r.restarts[n], "the TLS build")
		}
		if n.Spec.Sentinel && n.Facts.SentinelPid > 0 && r.sentinelRestarts[n] == nil {
			r.sentinelRestarts[n] = append(r.sentinelRestarts[n], "the TLS build")
		}
	}
}

// tlsSwitchStep is up's step "switch TLS on or off".
type tlsSwitchStep struct{ *upRun }

func (tlsSwitchStep) Title() string { return "switch TLS on or off" }

// Run runs stages 2 and 3 for the servers that still run the other
// way than the inventory says (to TLS, or back to plaintext), and verifies
// the cluster as it now speaks.
func (r tlsSwitchStep) Run(ctx context.Context) error {
	c := r.c
	if c.TLS == nil {
		return nil
	}
	var data, sentinels []*provision.Node
	for _, n := range append([]*provision.Node{r.master}, r.replicas()...) {
		if c.SwitchPending(n, false) {
			data = append(data, n)
		}
	}
	for _, n := range c.Nodes {
		if c.SwitchPending(n, true) {
			sentinels = append(sentinels, n)
		}
	}
	if len(data) == 0 && len(sentinels) == 0 {
		return nil
	}
	if !r.opts.DryRun {
		if h := c.CheckHealth(ctx, nil); h.Verdict != provision.Healthy {
			return fmt.Errorf("the cluster is to switch TLS %s, but it is %s; refusing to switch until it is healthy: %s", onOff(c.Inv.TLS.Enabled), h.Verdict, h.ProblemsText())
		}
	}
	port := fmt.Sprint(c.Inv.Redis.Port)
	for _, n := range data {
		var err error
		if c.Inv.TLS.Enabled {
			err = r.change(n, "", func() error { return r.switchData(ctx, n) },
				"switch %s to TLS live: load its certificate, then CONFIG SET port %d tls-port %s tls-replication yes (open connections stay)",
				c.Layout.RedisService, c.Inv.TLS.DataPlaintextPort(), port)
		} else {
			err = r.change(n, "", func() error { return r.switchData(ctx, n) },
				"switch %s back to plaintext live: CONFIG SET tls-port 0 port %s tls-replication no (open connections stay)",
				c.Layout.RedisService, port)
		}
		if err != nil {
			return err
		}
	}
	if len(sentinels) > 0 {
		var names []string
		for _, n := range sentinels {
			names = append(names, n.Spec.Name)
		}
		with := "with TLS"
		if !c.Inv.TLS.Enabled {
			with = "without TLS"
		}
		err := r.change(nil, "", func() error { return r.switchSentinels(ctx, sentinels) },
			"restart %s on %s together, %s (no failover can start while they restart)", c.Layout.SentinelService, strings.Join(names, ", "), with)
		if err != nil {
			return err
		}
	}
	if r.opts.DryRun {
		return nil
	}
	return c.Verify(ctx, r.master, r.opts.SyncTimeout)
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// switchData flips one data node's listener (stage 2): to TLS after
// loading its certificate, or back to plaintext. Redis applies the
// settings of one CONFIG SET in order, so the listener to close comes
// first and the port is free for the other.
func (r *upRun) switchData(ctx context.Context, n *provision.Node) error {
	c := r.c
	cl := c.Data(n)
	port := fmt.Sprint(c.Inv.Redis.Port)
	flip := provision.Command("CONFIG", "SET", "tls-port", "0", "port", port, "tls-replication", "no")
	if c.Inv.TLS.Enabled {
		t := render.NewTLSConf(c.Inv)
		load := provision.Command("CONFIG", "SET", "tls-cert-file", t.CertFile, "tls-key-file", t.KeyFile, "tls-ca-cert-file", t.CAFile, "tls-auth-clients", t.AuthClients)
		if err := load(ctx, cl); err != nil {
			return fmt.Errorf("%s: load the TLS certificate: %w", n.Spec.Name, err)
		}
		flip = provision.Command("CONFIG", "SET", "port", fmt.Sprint(c.Inv.TLS.DataPlaintextPort()), "tls-port", port, "tls-replication", "yes")
	}
	if err := flip(ctx, cl); err != nil {
		return fmt.Errorf("%s: switch TLS %s: %w", n.Spec.Name, onOff(c.Inv.TLS.Enabled), err)
	}
	if !c.Inv.TLS.Enabled {
		// Back to the defaults, so that no CONFIG REWRITE (Sentinel's
		// included) writes the TLS files into the config again.
		reset := provision.Command("CONFIG", "SET", "tls-cert-file", "", "tls-key-file", "", "tls-ca-cert-file", "", "tls-auth-clients", "yes")
		if err := reset(ctx, cl); err != nil {
			return fmt.Errorf("%s: forget the TLS files: %w", n.Spec.Name, err)
		}
	}
	// The connection that ran CONFIG SET is still open: save through it.
	if err := provision.Command("CONFIG", "REWRITE")(ctx, cl); err != nil {
		return fmt.Errorf("%s: save the switch: %w", n.Spec.Name, err)
	}
	c.Switched(n, false)
	if err := c.Data(n).Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%s: switched TLS %s, but it does not answer so: %w", n.Spec.Name, onOff(c.Inv.TLS.Enabled), err)
	}
	// CONFIG REWRITE writes its own way; bring the file in line.
	if err := r.rewriteIfChanged(ctx, n, c.Layout.RedisConf); err != nil {
		return err
	}
	if pp := c.Inv.TLS.DataPlaintextPort(); pp != 0 {
		c.P.Printf(n.Spec.Name, "%s serves TLS on port %s, and plaintext on port %d (tls.plaintext)", c.Layout.RedisService, port, pp)
	} else if c.Inv.TLS.Enabled {
		c.P.Printf(n.Spec.Name, "%s serves TLS on port %s; its plaintext port is closed", c.Layout.RedisService, port)
	} else {
		c.P.Printf(n.Spec.Name, "%s serves plaintext on port %s; its TLS port is closed", c.Layout.RedisService, port)
	}
	return nil
}

// switchSentinels restarts the sentinels together with their new config
// (stage 3): each is stopped, its file merged (its state kept), and
// started.
func (r *upRun) switchSentinels(ctx context.Context, sentinels []*provision.Node) error {
	c := r.c
	if err := provision.EachHost(ctx, sentinels, provision.NodeName, "stop the sentinel", func(ctx context.Context, n *provision.Node) error {
		_, err := c.StopService(ctx, n, c.Layout.SentinelService, c.Layout.SentinelPid)
		return err
	}); err != nil {
		return err
	}
	for _, n := range sentinels {
		c.Switched(n, true)
	}
	return provision.EachHost(ctx, sentinels, provision.NodeName, "start the sentinel", func(ctx context.Context, n *provision.Node) error {
		if err := r.rewriteIfChanged(ctx, n, c.Layout.SentinelConf); err != nil {
			return err
		}
		if _, _, err := c.StartService(ctx, n, c.Layout.SentinelService, c.Layout.SentinelPid); err != nil {
			return err
		}
		c.P.Printf(n.Spec.Name, "%s restarted with TLS %s", c.Layout.SentinelService, onOff(c.Inv.TLS.Enabled))
		return nil
	})
}
