package up

import (
	"context"

	"github.com/redisctl/redisctl/provision"
)

// The step "gather facts": what each host has, read in the lock's round
// trip, while the host checks (hostcheck.go) run beside it.

// pendingChecks are host checks running in the background.
type pendingChecks struct {
	done chan struct{}
	rep  *provision.TuningReport
	err  error
}

// factsStep is up's step "gather facts".
type factsStep struct{ *upRun }

func (factsStep) Title() string { return "gather facts" }

// Run reads the facts of every host the lock's round trip did not
// read (all of them in a plan, which takes no lock), while the host checks
// run where it did not run them either (CheckHosts reads nothing the facts
// give); checkTuning decides on their result after the steps that refuse
// on the facts.
func (r factsStep) Run(ctx context.Context) error {
	r.startChecks(ctx)
	return r.c.GatherFacts(ctx)
}

// startChecks starts the host checks in the background, once.
func (r *upRun) startChecks(ctx context.Context) {
	if r.checks != nil {
		return
	}
	pc := &pendingChecks{done: make(chan struct{})}
	r.checks = pc
	go func() {
		defer close(pc.done)
		pc.rep, pc.err = r.c.CheckHosts(ctx)
	}()
}
