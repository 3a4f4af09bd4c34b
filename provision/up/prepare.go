package up

import (
	"context"
	"strings"

	"github.com/redisctl/redisctl/provision"
)

// prepareStep is up's step "prepare hosts".
type prepareStep struct{ *upRun }

func (prepareStep) Title() string { return "prepare hosts" }

func (r prepareStep) Run(ctx context.Context) error {
	return provision.EachHost(ctx, r.c.Nodes, provision.NodeName, "prepare", func(ctx context.Context, n *provision.Node) error {
		missing, err := r.c.MissingOnHost(ctx, n)
		if err != nil || len(missing) == 0 {
			return err
		}
		return r.change(n, "", func() error { return r.c.PrepareHost(ctx, n) }, "create %s", strings.Join(missing, ", "))
	})
}
