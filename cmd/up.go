package cmd

import (
	"github.com/spf13/cobra"

	"github.com/redisctl/redisctl/provision"
)

func newUpCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "up",
		Short: "Install, configure, start and verify the cluster (safe to run again)",
		Long: "up installs Redis from source on every host that lacks it, writes the configs and service scripts,\n" +
			"starts the master, the replicas and the sentinels, and proves the cluster can fail over.\n" +
			"On a cluster that already matches the inventory it changes nothing and restarts nothing.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			inv, err := g.loadInventory()
			if err != nil {
				return err
			}
			p := g.progress("up")
			defer p.Close()
			sum, err := provision.Up(c.Context(), inv, provision.UpOptions{
				Connect:  g.connector(),
				CacheDir: g.cacheDir,
				Progress: p,
			})
			if err != nil {
				return failed(p, err)
			}
			sum.Print(g.out)
			return nil
		},
	}
}
