package cmd

import (
	"github.com/redisctl/redisctl/provision/up"
	"github.com/spf13/cobra"
)

func newUpCmd(g *globals) *cobra.Command {
	var dryRun, force, applyTuning, failover bool
	c := &cobra.Command{
		Use:   "up",
		Short: "Install, configure, start and verify the cluster (safe to run again)",
		Long: "up installs Redis from source on every host that lacks it, writes the configs and service scripts,\n" +
			"starts the master, the replicas and the sentinels, and proves the cluster can fail over.\n" +
			"On a cluster that already matches the inventory it changes nothing and restarts nothing.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return g.runUp(c, dryRun, force, applyTuning, failover)
		},
	}
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print what up would change, per host, and change nothing (same as redisctl plan)")
	c.Flags().BoolVar(&force, "force", false, "start a master that is down even when a replica holds newer data or a failover is due (that data is lost); forget a removed host that cannot be reached")
	c.Flags().BoolVar(&failover, "failover", false, "when the master's host was taken out of the inventory, fail over gracefully to a replica first, then remove it")
	c.Flags().StringVar(&g.upBackupTo, "backup-to", "", "before up changes a live cluster, back it up to this local directory as redisctl backup does (no change, no backup)")
	c.Flags().BoolVar(&applyTuning, "apply-tuning", false, "fix the host settings redisctl check warns about (sysctl, transparent huge pages) before anything else")
	return c
}

func newPlanCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "plan",
		Short: "Print what up would change (files with a diff, live settings, starts) and change nothing",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return g.runUp(c, true, false, false, false)
		},
	}
}

func (g *globals) runUp(c *cobra.Command, dryRun, force, applyTuning, failover bool) error {
	verb := "up"
	if dryRun {
		verb = "plan"
	}
	inv, p, err := g.begin(verb)
	if err != nil {
		return err
	}
	defer p.Close()
	sum, err := up.Run(c.Context(), inv, up.Options{
		Connect:     g.connector(),
		CacheDir:    g.cacheDir,
		Progress:    p,
		DryRun:      dryRun,
		Force:       force,
		ApplyTuning: applyTuning,
		BackupDir:   g.upBackupTo,
		Failover:    failover,
	})
	if err != nil {
		return failed(p, err)
	}
	writeSummary(g.out, sum)
	return nil
}
