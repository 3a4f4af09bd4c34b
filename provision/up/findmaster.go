package up

import (
	"context"
	"errors"
	"strings"

	"github.com/redisctl/redisctl/provision"
)

// findMasterStep is up's step "find the live master".
type findMasterStep struct{ *upRun }

func (findMasterStep) Title() string { return "find the live master" }

// Run decides, from one observation of the cluster, which node is
// the master, after checking that nothing forbids going on.
func (r findMasterStep) Run(ctx context.Context) error {
	s := r.c.Observe(ctx)
	r.snap = s
	if err := r.c.CheckPasswordAccepted(s); err != nil {
		return err
	}
	if m := r.plannedMaster(); m != nil {
		r.master = m
		return nil
	}
	m, note, err := r.c.LiveMaster(s, provision.Analyze(s, r.c.Expectations()))
	if err != nil {
		return err
	}
	r.master = m
	if err := r.c.CheckStaleMaster(ctx, m, s); err != nil {
		var stale *provision.StaleMasterError
		if !r.opts.Force || !errors.As(err, &stale) {
			return err
		}
		r.opts.Progress.Printf(m.Spec.Name, "--force: starting it as master although: %s", strings.Join(stale.Reasons, "; "))
	}
	if note != "" {
		r.opts.Progress.Printf("", "%s", note)
		r.sum.Notes = append(r.sum.Notes, note)
	} else {
		r.opts.Progress.Printf("", "master: %s", m.Spec)
	}
	return nil
}
