package cmd

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/redisctl/redisctl/provision"
)

type uninstallOptions struct {
	yes      bool
	keepData bool
	backup   string
}

func newUninstallCmd(g *globals) *cobra.Command {
	o := &uninstallOptions{}
	c := &cobra.Command{
		Use:   "uninstall",
		Short: "Stop and remove exactly what up installed",
		Long: "uninstall stops every sentinel, then the replicas, then the master, and removes what up recorded\n" +
			"in each host's manifest (/var/lib/redisctl/manifest.json) and nothing else. It shows the plan and asks\n" +
			"for confirmation first; without a terminal it needs --yes.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			inv, p, err := g.begin("uninstall")
			if err != nil {
				return err
			}
			defer p.Close()
			res, err := provision.Uninstall(c.Context(), inv, provision.UninstallOptions{
				Connect:   g.connector(),
				Progress:  p,
				KeepData:  o.keepData,
				BackupDir: o.backup,
				Confirm:   g.confirm(o.yes),
			})
			if res != nil {
				if res.Backup != "" {
					fmt.Fprintf(g.out, "backup: %s\n", res.Backup)
				}
				for _, k := range res.Kept {
					fmt.Fprintf(g.out, "kept: %s\n", k)
				}
				fmt.Fprintf(g.out, "uninstall: %d things removed\n", len(res.Removed))
			}
			if errors.Is(err, provision.ErrNotConfirmed) {
				return &exitError{code: ExitError, err: err}
			}
			return failed(p, err)
		},
	}
	f := c.Flags()
	f.BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation")
	f.BoolVar(&o.keepData, "keep-data", false, "keep the data directories (RDB and AOF files)")
	f.StringVar(&o.backup, "backup", "", "before stopping anything, save the master's dataset (BGSAVE) and copy the RDB file to this local directory")
	return c
}

// confirm shows the plan and asks on a terminal; without one, only --yes
// lets a destructive command go on.
func (g *globals) confirm(yes bool) func(string) (bool, error) {
	return func(plan string) (bool, error) {
		fmt.Fprintf(g.errOut, "This will:\n%s", plan)
		if yes {
			return true, nil
		}
		f, ok := g.in.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return false, errors.New("no terminal to confirm on; re-run with --yes to go ahead (nothing was changed)")
		}
		fmt.Fprint(g.errOut, "Proceed? [y/N] ")
		line, _ := bufio.NewReader(f).ReadString('\n')
		return strings.EqualFold(strings.TrimSpace(line), "y") || strings.EqualFold(strings.TrimSpace(line), "yes"), nil
	}
}
