package up

import (
	"context"

	"github.com/redisctl/redisctl/provision"
)

// connectStep is up's step "connect".
type connectStep struct{ *upRun }

func (connectStep) Title() string { return "connect" }

// Run connects to every host of the inventory.
func (r connectStep) Run(ctx context.Context) error {
	c, err := provision.Connect(ctx, r.inv, r.opts.Connect, r.opts.Progress)
	r.c = c
	return err
}
