package up

import (
	"context"
	"errors"

	"github.com/redisctl/redisctl/provision"
)

// The step "password": the cluster password (stored, given, or rotating;
// clusterpw.go rotates it).

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
