package up

import "context"

// lockStep is up's step "lock the cluster".
type lockStep struct{ *upRun }

func (lockStep) Title() string { return "lock the cluster" }

// Run takes the cluster's lock on every host, so that no other up,
// uninstall or failover-test decides on a cluster this run is changing. A
// plan changes nothing and takes no lock.
func (r lockStep) Run(ctx context.Context) error {
	if r.opts.DryRun {
		return nil
	}
	// The facts, the host checks and the files configure compares are
	// read in the same round trip as the lock (lockround.go).
	unlock, err := r.c.LockAndGatherFacts(ctx, "up")
	r.unlock = unlock
	return err
}
