package provision

import (
	"context"
	"fmt"
	"strings"

	"github.com/redisctl/redisctl/provision/render"
)

// Switching a running cluster to TLS (tls.enabled set on a cluster up set
// up without it). Redis serves TLS on the same port only after the
// plaintext listener is closed, and a server built without TLS cannot
// serve it at all, so up moves in stages, each safe to stop after (the next
// run reads from the hosts where the cluster is and goes on):
//
//  1. The TLS build goes beside the running one, and each server restarts
//     onto it as in an upgrade (replicas, then the master after a graceful
//     failover, then the sentinels), its config still without TLS.
//  2. Each data node, the master first, takes its certificate and then, in
//     one CONFIG SET, port 0, tls-port and tls-replication yes: the
//     listener flips to TLS and open connections (replication links,
//     sentinels, clients) stay; a replica that reconnects uses TLS. CONFIG
//     REWRITE saves it.
//  3. The sentinels, which take no CONFIG SET of these, restart together
//     with their TLS config (one by one, a sentinel speaking TLS could not
//     reach the others, and the reverse): no failover can start for the
//     second or so they are down.
//
// Until a server has switched, redisctl reaches it without TLS (see
// clusterTLS.plain); its configs are rendered without TLS, and its TLS
// files are written beside them.

// runsPlain reports whether n's data node (or sentinel) still runs without
// TLS on a TLS cluster that up is switching.
func (c *Cluster) runsPlain(n *Node, sentinel bool) bool {
	if c.tls == nil {
		return false
	}
	c.tls.mu.Lock()
	defer c.tls.mu.Unlock()
	return c.tls.plain[serverKey{n, sentinel}]
}

// switchedToTLS records that n's data node (or sentinel) now runs with
// TLS, and drops its client, which spoke without.
func (c *Cluster) switchedToTLS(n *Node, sentinel bool) {
	c.tls.mu.Lock()
	delete(c.tls.plain, serverKey{n, sentinel})
	c.tls.mu.Unlock()
	c.forgetClient(n, sentinel)
}

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

// switchToTLS runs stages 2 and 3 for the servers that still run without
// TLS, and verifies the cluster over TLS.
func (r *upRun) switchToTLS(ctx context.Context) error {
	c := r.c
	if c.tls == nil {
		return nil
	}
	var data, sentinels []*Node
	for _, n := range append([]*Node{r.master}, r.replicas()...) {
		if c.runsPlain(n, false) {
			data = append(data, n)
		}
	}
	for _, n := range c.Nodes {
		if c.runsPlain(n, true) {
			sentinels = append(sentinels, n)
		}
	}
	if len(data) == 0 && len(sentinels) == 0 {
		return nil
	}
	if !r.opts.DryRun {
		if h := c.CheckHealth(ctx, nil); h.Verdict != Healthy {
			return fmt.Errorf("the cluster is to switch to TLS, but it is %s; refusing to switch until it is healthy: %s", h.Verdict, h.ProblemsText())
		}
	}
	t := render.NewTLSConf(c.Inv)
	for _, n := range data {
		err := r.change(n, "", func() error { return r.switchDataTLS(ctx, n, t) },
			"switch %s to TLS live: load its certificate, then CONFIG SET port 0 tls-port %d tls-replication yes (open connections stay)",
			c.Layout.RedisService, c.Inv.Redis.Port)
		if err != nil {
			return err
		}
	}
	if len(sentinels) > 0 {
		var names []string
		for _, n := range sentinels {
			names = append(names, n.Spec.Name)
		}
		err := r.change(nil, "", func() error { return r.switchSentinelsTLS(ctx, sentinels) },
			"restart %s on %s together, with TLS (no failover can start while they restart)", c.Layout.SentinelService, strings.Join(names, ", "))
		if err != nil {
			return err
		}
	}
	if r.opts.DryRun {
		return nil
	}
	return c.Verify(ctx, r.master, r.opts.SyncTimeout)
}

// switchDataTLS flips one data node's listener to TLS (stage 2).
func (r *upRun) switchDataTLS(ctx context.Context, n *Node, t *render.TLSConf) error {
	c := r.c
	cl := c.Data(n)
	load := command("CONFIG", "SET", "tls-cert-file", t.CertFile, "tls-key-file", t.KeyFile, "tls-ca-cert-file", t.CAFile, "tls-auth-clients", t.AuthClients)
	if err := load(ctx, cl); err != nil {
		return fmt.Errorf("%s: load the TLS certificate: %w", n.Spec.Name, err)
	}
	flip := command("CONFIG", "SET", "port", "0", "tls-port", fmt.Sprint(c.Inv.Redis.Port), "tls-replication", "yes")
	if err := flip(ctx, cl); err != nil {
		return fmt.Errorf("%s: switch to TLS: %w", n.Spec.Name, err)
	}
	// The connection that ran CONFIG SET is still open: save through it.
	if err := command("CONFIG", "REWRITE")(ctx, cl); err != nil {
		return fmt.Errorf("%s: save the switch to TLS: %w", n.Spec.Name, err)
	}
	c.switchedToTLS(n, false)
	if err := c.Data(n).Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%s: switched to TLS, but it does not answer over TLS: %w", n.Spec.Name, err)
	}
	// CONFIG REWRITE writes its own way; bring the file in line.
	if err := r.rewriteIfChanged(ctx, n, c.Layout.RedisConf); err != nil {
		return err
	}
	c.P.Printf(n.Spec.Name, "%s serves TLS on port %d; its plaintext port is closed", c.Layout.RedisService, c.Inv.Redis.Port)
	return nil
}

// switchSentinelsTLS restarts the sentinels together with their TLS
// config (stage 3): each is stopped, its file merged with TLS (its state
// kept), and started.
func (r *upRun) switchSentinelsTLS(ctx context.Context, sentinels []*Node) error {
	c := r.c
	if err := eachHost(ctx, sentinels, nodeName, "stop the sentinel", func(ctx context.Context, n *Node) error {
		_, err := c.stopService(ctx, n, c.Layout.SentinelService, c.Layout.SentinelPid)
		return err
	}); err != nil {
		return err
	}
	for _, n := range sentinels {
		c.switchedToTLS(n, true)
	}
	return eachHost(ctx, sentinels, nodeName, "start the sentinel with TLS", func(ctx context.Context, n *Node) error {
		if err := r.rewriteIfChanged(ctx, n, c.Layout.SentinelConf); err != nil {
			return err
		}
		if _, _, err := c.startService(ctx, n, c.Layout.SentinelService, c.Layout.SentinelPid); err != nil {
			return err
		}
		c.P.Printf(n.Spec.Name, "%s restarted with TLS", c.Layout.SentinelService)
		return nil
	})
}
