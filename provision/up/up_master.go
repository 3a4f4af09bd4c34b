package up

import (
	"context"
	"errors"
	"strings"

	"github.com/redisctl/redisctl/provision"
)

// The steps of up that decide before anything is configured: the cluster
// password (stored, given, or rotating), and which node is the master;
// and the last step, which proves the result.

// passwordStep is up's step "password".
type passwordStep struct{ *upRun }

func (passwordStep) Title() string { return "password" }

func (r passwordStep) Run(ctx context.Context) error {
	sp, err := provision.LoadPassword(r.c.Inv, !r.opts.DryRun)
	pw, file, created := sp.Password, sp.File, sp.Created
	if sp.Note != "" {
		r.opts.Progress.Printf("", "%s", sp.Note)
	}
	if r.opts.DryRun && err != nil && file != "" && r.c.Inv.Redis.Password == "" {
		// Nothing stored yet: up would generate one. Plan with a stand-in.
		if pw, err = provision.GeneratePassword(40); err != nil {
			return err
		}
		return errors.Join(r.change(nil, "", nil, "generate a password and store it in %s", file), r.setPassword(ctx, pw))
	}
	if err != nil {
		return err
	}
	if created {
		r.opts.Progress.Printf("", "generated a password for the cluster and stored it in %s (mode 0600); keep that file", file)
	} else if file != "" {
		r.opts.Progress.Printf("", "using the password stored in %s", file)
	} else {
		r.opts.Progress.Printf("", "using the password from the %s", r.c.Inv.Redis.PasswordSource)
	}
	return r.setPassword(ctx, pw)
}

func (r *upRun) setPassword(ctx context.Context, pw string) error {
	if err := provision.CheckSentinelPassword(pw, r.c.Inv.Redis.Version, len(r.c.Sentinels()) > 0); err != nil {
		return err
	}
	notes, err := r.c.UseSecrets(pw, !r.opts.DryRun, r.opts.DryRun)
	for _, note := range notes {
		if r.opts.DryRun {
			err = errors.Join(err, r.change(nil, "", nil, "%s", note))
		} else {
			r.opts.Progress.Printf("", "%s", note)
		}
	}
	if err != nil {
		return err
	}
	return r.findLoginPassword(ctx)
}

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

// verifyStep is up's step "verify".
type verifyStep struct{ *upRun }

func (verifyStep) Title() string { return "verify" }

func (r verifyStep) Run(ctx context.Context) error {
	if r.opts.DryRun {
		return nil
	}
	return r.c.Verify(ctx, r.master, r.opts.SyncTimeout)
}
