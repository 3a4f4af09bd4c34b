package cmd

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/redisctl/redisctl/provision"
)

type restoreOptions struct {
	from string
	yes  bool
}

func newRestoreCmd(g *globals) *cobra.Command {
	o := &restoreOptions{}
	c := &cobra.Command{
		Use:   "restore --from FILE",
		Short: "Replace the cluster's data with a backup (the master loads it, the replicas resync)",
		Long: "restore checks FILE against FILE.sha256 when present, holds the sentinels back from failing over,\n" +
			"stops the master, puts FILE in place of its RDB (the one it had is kept beside it), starts it, waits\n" +
			"until every replica has resynced, sets the sentinels back, and compares the master's key count with\n" +
			"FILE.json's. It replaces all the data: it shows the plan and asks first; without a terminal it needs --yes.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if o.from == "" {
				return &exitError{code: ExitUsage, err: errors.New("--from FILE is required")}
			}
			inv, p, err := g.begin("restore")
			if err != nil {
				return err
			}
			defer p.Close()
			res, err := provision.Restore(c.Context(), inv, provision.RestoreOptions{
				Connect: g.connector(), Progress: p, File: o.from, Confirm: g.confirm(o.yes),
			})
			if res != nil && res.Previous != "" {
				fmt.Fprintf(g.out, "the master's data from before is kept on %s in %s\n", res.Master, res.Previous)
			}
			if errors.Is(err, provision.ErrNotConfirmed) {
				return &exitError{code: ExitError, err: err}
			}
			if err != nil {
				return failed(p, err)
			}
			for _, n := range res.Notes {
				fmt.Fprintf(g.out, "note: %s\n", n)
			}
			checked := "no .sha256 beside it"
			if res.Checked {
				checked = "matches its .sha256"
			}
			fmt.Fprintf(g.out, "restored %s (sha256 %s, %s) into %s: %d keys, replicas in sync, in %.1fs\n",
				res.File, res.SHA256[:12], checked, res.Master, res.Keys, res.Seconds)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&o.from, "from", "", "the RDB file to load (a backup made by redisctl backup)")
	f.BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation")
	return c
}
