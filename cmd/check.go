package cmd

import (
	"github.com/spf13/cobra"

	"github.com/redisctl/redisctl/provision"
)

type checkOptions struct {
	output string
	apply  bool
}

func newCheckCmd(g *globals) *cobra.Command {
	o := &checkOptions{}
	c := &cobra.Command{
		Use:   "check",
		Short: "Check the hosts' settings for Redis, their clocks and the ports between them",
		Long: "check reads, on every host at once, what Redis warns about at start-up and what a failover needs:\n" +
			"vm.overcommit_memory, transparent huge pages, net.core.somaxconn against tcp-backlog, the\n" +
			"open-files limit against maxclients, free memory against maxmemory, free disk against the\n" +
			"dataset, the clocks (against this machine's), time zone and NTP, and whether every host reaches\n" +
			"every other host's redis and sentinel port.\n\n" +
			"--apply fixes what can be fixed: a sysctl file in /etc/sysctl.d (applied now and at boot) and a\n" +
			"service that turns transparent huge pages off at boot; both are recorded for uninstall.\n\n" +
			"Exit status: 0 all ok, 3 warnings, 4 a failure (ports blocked between hosts).",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(o.output); err != nil {
				return err
			}
			inv, p, err := g.begin("check")
			if err != nil {
				return err
			}
			defer p.Close()
			p.SetQuiet(!o.apply)
			rep, err := provision.Check(c.Context(), inv, provision.CheckOptions{Connect: g.connector(), Progress: p, Apply: o.apply})
			if err != nil {
				return failed(p, err)
			}
			if o.output == "json" {
				if err := writeJSON(g.out, rep); err != nil {
					return err
				}
			} else {
				writeCheckTable(g.out, rep)
			}
			switch rep.Verdict {
			case provision.LevelOK:
				return nil
			case provision.LevelWarn:
				return &exitError{code: ExitDegraded}
			default:
				return &exitError{code: ExitUnusable}
			}
		},
	}
	c.Flags().StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	c.Flags().BoolVar(&o.apply, "apply", false, "fix what can be fixed (sysctl settings, transparent huge pages), then check again")
	return c
}
