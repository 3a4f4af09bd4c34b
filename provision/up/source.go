package up

import (
	"context"

	"github.com/redisctl/redisctl/provision"
)

// sourceStep is up's step "verify the redis source".
type sourceStep struct{ *upRun }

func (sourceStep) Title() string { return "verify the redis source" }

func (r sourceStep) Run(ctx context.Context) error {
	src, err := provision.FetchSource(ctx, r.inv.Redis.Source, r.inv.Redis.SHA256, r.opts.CacheDir, r.opts.Progress)
	r.src = src
	return err
}
