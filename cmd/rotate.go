package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/redisctl/redisctl/provision"
)

func newRotatePasswordCmd(g *globals) *cobra.Command {
	var user string
	c := &cobra.Command{
		Use:   "rotate-password --user NAME",
		Short: "Give an ACL user a new generated password, with no downtime",
		Long: "rotate-password generates a new password for one ACL user (admin, replication, sentinel, or an\n" +
			"application user whose password redisctl generated), stores it beside the old one, and runs up:\n" +
			"every server accepts both, everything that logs in as the user switches to the new one, the links\n" +
			"are verified, and the old one is removed. Nothing restarts, and open connections stay open. A\n" +
			"rotation cut short resumes on the next up or rotate-password. An application user whose password\n" +
			"is in the inventory is rotated by changing it there and running up.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			inv, err := g.loadInventory()
			if err != nil {
				return err
			}
			file, resumed, err := provision.BeginRotation(inv, user)
			if err != nil {
				return err
			}
			what := "stored a new password for user %s in %s (mode 0600)"
			if resumed {
				what = "resuming the rotation of user %s to the password in %s"
			}
			fmt.Fprintf(g.errOut, what+"\n", user, file)
			return g.runUp(c, false, false, false, false)
		},
	}
	c.Flags().StringVar(&user, "user", "", "the user whose password to rotate (required)")
	_ = c.MarkFlagRequired("user")
	return c
}
