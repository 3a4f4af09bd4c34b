package up

import (
	"context"

	"github.com/redisctl/redisctl/provision"
)

// startSentinelsStep is up's step "start the sentinels".
type startSentinelsStep struct{ *upRun }

func (startSentinelsStep) Title() string { return "start the sentinels" }

// Run starts the sentinels that are not running, all at once: each knows
// its peers from its config (myid, known-sentinel), and one that comes up
// before a peer listens connects again within a second (Sentinel's ping
// period), as it would after the master's sentinel alone; then it waits
// for the replicas' links (startReplicasStep).
func (r startSentinelsStep) Run(ctx context.Context) error {
	err := provision.EachHost(ctx, r.c.Sentinels(), provision.NodeName, "start sentinel", func(ctx context.Context, n *provision.Node) error {
		return r.start(ctx, n, true)
	})
	if werr := r.waitReplication(); werr != nil {
		return werr // first in the procedure's order
	}
	return err
}
