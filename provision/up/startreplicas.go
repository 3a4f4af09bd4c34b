package up

import (
	"context"

	"github.com/redisctl/redisctl/provision"
)

// startReplicasStep is up's step "start the replicas".
type startReplicasStep struct{ *upRun }

func (startReplicasStep) Title() string { return "start the replicas" }

// Run starts the replicas that are not running, all at once:
// each syncs from the master on its own (one diskless transfer serves
// those that connect together, repl-diskless-sync-max-replicas), and on
// 15 hosts one after the other took seconds.
//
// The wait for every replica's link to the master runs beside the next
// step, the sentinels' start, which ends with it (a replica's first sync
// and a new sentinel's first reconnect to a peer not yet listening each
// take up to a second, and need not take them one after the other).
func (r startReplicasStep) Run(ctx context.Context) error {
	if err := provision.EachHost(ctx, r.replicas(), provision.NodeName, "start redis", func(ctx context.Context, n *provision.Node) error {
		return r.start(ctx, n, false)
	}); err != nil {
		return err
	}
	if r.opts.DryRun {
		return nil
	}
	wctx, cancel := context.WithCancel(ctx)
	w := &pendingReplication{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.err = r.c.WaitReplication(wctx, r.master, r.replicas(), r.opts.SyncTimeout)
	}()
	r.replication = w
	return nil
}

// pendingReplication is startReplicasStep's wait for the replicas' links,
// running beside the sentinels' start.
type pendingReplication struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// waitReplication ends the wait startReplicasStep began: its error, if it
// failed, as the replicas' step's.
func (r *upRun) waitReplication() error {
	w := r.replication
	if w == nil {
		return nil
	}
	r.replication = nil
	<-w.done
	w.cancel()
	if w.err != nil {
		return &StepError{Step: startReplicasStep{}.Title(), Err: w.err}
	}
	return nil
}
