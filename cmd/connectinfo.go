package cmd

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/redisctl/redisctl/provision"
)

type connectInfoOptions struct {
	output      string
	showSecrets bool
	user        string
}

func newConnectInfoCmd(g *globals) *cobra.Command {
	o := &connectInfoOptions{}
	c := &cobra.Command{
		Use:   "connect-info",
		Short: "Print what a client needs to connect: master name, sentinels, TLS, user",
		Long: "connect-info prints, from the inventory alone (no host is contacted), what an application\n" +
			"needs to reach the cluster through its sentinels: the master name, every sentinel's address\n" +
			"and port, whether TLS is on and its CA file, and the user. The password is printed only with\n" +
			"--show-secrets, read from the stored password file (or the inventory), to stdout only.\n\n" +
			"-o go and -o python print a go-redis and a redis-py snippet; -o env prints shell assignments.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if !slices.Contains(connectFormats, o.output) {
				return &exitError{code: ExitUsage, err: fmt.Errorf("-o must be one of %s, not %q", strings.Join(connectFormats, ", "), o.output)}
			}
			inv, err := g.loadInventory()
			if err != nil {
				return err
			}
			ci, err := provision.ConnectInfoForUser(inv, o.user, o.showSecrets)
			if err != nil {
				return err
			}
			if o.output == "json" {
				return writeJSON(g.out, ci)
			}
			return writeConnectInfo(g.out, ci, o.output)
		},
	}
	c.Flags().StringVarP(&o.output, "output", "o", "table", "output format: "+strings.Join(connectFormats, ", "))
	c.Flags().BoolVar(&o.showSecrets, "show-secrets", false, "include the password (to stdout only)")
	c.Flags().StringVar(&o.user, "user", "", "on a cluster with ACL users, the application user to connect as (default: the first of redis.users)")
	return c
}
