package cmd

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/redisctl/redisctl/provision"
)

type failoverOptions struct {
	mode      string
	noRestore bool
	output    string
}

func newFailoverTestCmd(g *globals) *cobra.Command {
	o := &failoverOptions{}
	c := &cobra.Command{
		Use:   "failover-test",
		Short: "Fail the master, measure and verify the failover",
		Long: "failover-test refuses to start unless the cluster is healthy. It runs a writer through a\n" +
			"Sentinel-aware client, fails the master (--mode stop, kill, pause or manual), waits until every\n" +
			"sentinel names the same new master, verifies the new topology, restores the old master as a\n" +
			"replica and reads back every acknowledged write. Lost writes are reported as measured.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(o.output); err != nil {
				return err
			}
			inv, p, err := g.begin("failover-test")
			if err != nil {
				return err
			}
			defer p.Close()
			rep, err := provision.FailoverTest(c.Context(), inv, provision.FailoverOptions{
				Connect: g.connector(), Progress: p, Mode: o.mode, NoRestore: o.noRestore,
			})
			if rep != nil && rep.NewMaster != "" {
				if o.output == "json" {
					if err := writeJSON(g.out, rep); err != nil {
						return err
					}
				} else {
					writeFailoverTable(g.out, rep)
				}
			}
			return failed(p, err)
		},
	}
	f := c.Flags()
	f.StringVar(&o.mode, "mode", provision.ModeStop, "how to fail the master: stop (the service, as the seed does), kill (SIGKILL), pause (SIGSTOP past down-after), manual (SENTINEL FAILOVER)")
	f.BoolVar(&o.noRestore, "no-restore", false, "leave the old master down afterwards")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	return c
}

func writeFailoverTable(w io.Writer, r *provision.FailoverReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	sec := func(v float64) string { return fmt.Sprintf("%.2fs", v) }
	seen := func(v *float64) string {
		if v == nil {
			return "not seen"
		}
		return sec(*v)
	}
	rows := [][2]string{
		{"mode", r.Mode},
		{"old master", r.OldMaster},
		{"new master", r.NewMaster},
		{"detection (+sdown)", seen(r.DetectionSeconds)},
		{"objectively down (+odown)", seen(r.ODownSeconds)},
		{"promotion (+switch-master)", seen(r.PromotionSeconds)},
		{"all sentinels agree", sec(r.AgreementSeconds)},
		{"longest time without a writable master", sec(r.UnwritableSeconds)},
		{"writes attempted", fmt.Sprint(r.WritesAttempted)},
		{"writes acknowledged", fmt.Sprint(r.WritesAcked)},
		{"writes failed", fmt.Sprint(r.WritesFailed)},
		{"acknowledged writes missing", fmt.Sprint(r.AckedMissing)},
		{"old master restored as replica", fmt.Sprint(r.Restored)},
		{"final health", r.FinalVerdict.String()},
	}
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
	}
	tw.Flush()
	for _, p := range r.FinalProblems {
		fmt.Fprintf(w, "problem: %s\n", p)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
