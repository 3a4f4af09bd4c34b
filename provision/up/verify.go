package up

import "context"

// verifyStep is up's step "verify".
type verifyStep struct{ *upRun }

func (verifyStep) Title() string { return "verify" }

func (r verifyStep) Run(ctx context.Context) error {
	if r.opts.DryRun {
		return nil
	}
	return r.c.Verify(ctx, r.master, r.opts.SyncTimeout)
}
