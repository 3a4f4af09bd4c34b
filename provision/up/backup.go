package up

import (
	"context"
	"fmt"
	"slices"

	"github.com/redisctl/redisctl/provision"
)

// backupStep is up's step "back up before changing anything".
type backupStep struct{ *upRun }

func (backupStep) Title() string { return "back up before changing anything" }

// Run is up's backup before it changes a live cluster (Options
// BackupDir). Whether up will change anything is decided the way plan
// decides it: a dry run of up on the same inventory, whose changes are
// exactly those up then makes. No change, no backup; a fresh install has
// nothing to back up. In a plan the backup is listed when there is a change.
func (r backupStep) Run(ctx context.Context) error {
	dir := r.opts.BackupDir
	if dir == "" {
		return nil
	}
	p := r.opts.Progress
	if !slices.ContainsFunc(r.c.Nodes, func(n *provision.Node) bool { return n.Facts.RedisPid > 0 }) {
		note := "no redis runs yet (a fresh install): nothing to back up"
		p.Printf("", "%s", note)
		r.sum.Notes = append(r.sum.Notes, note)
		return nil
	}
	dry := r.opts
	dry.DryRun, dry.BackupDir, dry.Progress = true, "", provision.QuietProgress(p)
	plan, err := Run(ctx, r.inv, dry)
	if err != nil {
		return fmt.Errorf("deciding whether up changes anything (as plan does): %w", err)
	}
	return r.backupIfChanges(ctx, len(plan.Changes))
}

// backupIfChanges takes the backup when up is to make changes.
func (r *upRun) backupIfChanges(ctx context.Context, changes int) error {
	dir := r.opts.BackupDir
	if changes == 0 {
		r.opts.Progress.Printf("", "up changes nothing: no backup taken")
		return nil
	}
	if r.c.Password == "" {
		pw, _, _, err := provision.ResolvePassword(r.inv, false)
		if err != nil {
			return fmt.Errorf("a backup needs the cluster password: %w", err)
		}
		if _, err := r.c.UseSecrets(pw, false, false); err != nil {
			return fmt.Errorf("a backup needs the users' passwords: %w", err)
		}
	}
	n, role, err := r.c.BackupSource(ctx, false)
	if err != nil {
		return err
	}
	return r.change(n, "", func() error {
		res, err := r.c.BackupNode(ctx, n, role, dir)
		if err == nil {
			r.sum.Notes = append(r.sum.Notes, fmt.Sprintf("backup before %d changes: %s (%d keys, sha256 %s)", changes, res.File, res.Keys, res.SHA256))
		}
		return err
	}, "back up the dataset (BGSAVE) to %s before changing anything", dir)
}
