package cmd

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/redisctl/redisctl/provision"
)

type backupOptions struct {
	to         string
	fromMaster bool
	output     string
}

func newBackupCmd(g *globals) *cobra.Command {
	o := &backupOptions{}
	c := &cobra.Command{
		Use:   "backup --to DIR",
		Short: "Save the dataset on a replica in sync and copy the RDB here, with its sha256",
		Long: "backup runs BGSAVE on a replica that is in sync with the master (not on the master, so the master\n" +
			"does not fork under load), waits for it, and copies the RDB to DIR as <cluster>-<UTC time>.rdb, checked\n" +
			"against the host's sha256, with <file>.sha256 (sha256sum -c) and <file>.json (key count, source, time)\n" +
			"beside it. redisctl restore --from <file> loads it back.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(o.output); err != nil {
				return err
			}
			if o.to == "" {
				return &exitError{code: ExitUsage, err: errors.New("--to DIR is required")}
			}
			inv, p, err := g.begin("backup")
			if err != nil {
				return err
			}
			defer p.Close()
			res, err := provision.Backup(c.Context(), inv, provision.BackupOptions{
				Connect: g.connector(), Progress: p, Dir: o.to, FromMaster: o.fromMaster,
			})
			if err != nil {
				return failed(p, err)
			}
			if o.output == "json" {
				return writeJSON(g.out, res)
			}
			w := tabwriter.NewWriter(g.out, 0, 0, 2, ' ', 0)
			fmt.Fprintf(w, "file\t%s\n", res.File)
			fmt.Fprintf(w, "size\t%d bytes\n", res.Size)
			fmt.Fprintf(w, "sha256\t%s\n", res.SHA256)
			fmt.Fprintf(w, "keys\t%d\n", res.Keys)
			fmt.Fprintf(w, "source\t%s (%s)\n", res.Source, res.Role)
			fmt.Fprintf(w, "saved at\t%s\n", res.Time.Format("2006-01-02T15:04:05Z"))
			fmt.Fprintf(w, "took\t%.1fs\n", res.Seconds)
			return w.Flush()
		},
	}
	f := c.Flags()
	f.StringVar(&o.to, "to", "", "local directory to copy the RDB to (created when missing)")
	f.BoolVar(&o.fromMaster, "from-master", false, "when no replica is in sync, save on the master (it forks under load)")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	return c
}
