package cmd

import (
	"github.com/spf13/cobra"

	"github.com/redisctl/redisctl/provision"
)

type statusOptions struct {
	output string
}

func newStatusCmd(g *globals) *cobra.Command {
	o := &statusOptions{}
	c := &cobra.Command{
		Use:   "status",
		Short: "Show replication and sentinel health, and the problems found",
		Long: "status asks every data node and every sentinel, through each host's SSH connection, how the\n" +
			"cluster stands, and ends with a verdict and the problems found.\n\n" +
			"Exit status: 0 healthy, 3 degraded (works, needs attention), 4 unusable or a host unreachable.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(o.output); err != nil {
				return err
			}
			inv, p, err := g.begin("status")
			if err != nil {
				return err
			}
			defer p.Close()
			p.SetQuiet(true)
			h, err := provision.Status(c.Context(), inv, g.connector(), p)
			if err != nil {
				return failed(p, err)
			}
			if o.output == "json" {
				if err := writeJSON(g.out, h); err != nil {
					return err
				}
			} else {
				writeHealthTable(g.out, h)
			}
			switch h.Verdict {
			case provision.Healthy:
				return nil
			case provision.Degraded:
				return &exitError{code: ExitDegraded}
			default:
				return &exitError{code: ExitUnusable}
			}
		},
	}
	c.Flags().StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	return c
}
