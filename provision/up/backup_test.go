package up

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/redisctl/redisctl/provision"
)

func backupUpRun(t *testing.T, dryRun bool) (*upRun, *fakeCluster, string) {
	fc := newFakeCluster(t)
	for _, n := range fc.Nodes {
		n.Facts = &provision.Facts{RedisPid: 4100}
	}
	saver(fc, "node2", []byte("REDIS0010 data"), 10)
	dir := t.TempDir()
	r := &upRun{c: fc.Cluster, inv: fc.Inv, sum: &Summary{DryRun: dryRun},
		opts: Options{BackupDir: dir, DryRun: dryRun, Progress: fc.P}}
	return r, fc, dir
}

// A fresh install has nothing to back up, and says so.
func TestUpBackupFreshInstall(t *testing.T) {
	r, fc, dir := backupUpRun(t, false)
	for _, n := range fc.Nodes {
		n.Facts.RedisPid = 0
	}
	if err := (backupStep{r}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(r.sum.Changes) != 0 || len(r.sum.Notes) != 1 || !strings.Contains(r.sum.Notes[0], "nothing to back up") {
		t.Errorf("changes %v, notes %v; want none and a note", r.sum.Changes, r.sum.Notes)
	}
	assertFiles(t, dir)
}

// No change, no backup; with changes, a backup from a replica in sync,
// listed as a change (a plan lists it and takes none).
func TestUpBackupOnlyBeforeChanges(t *testing.T) {
	r, _, dir := backupUpRun(t, false)
	if err := r.backupIfChanges(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if len(r.sum.Changes) != 0 {
		t.Errorf("a no-change up took a backup: %v", r.sum.Changes)
	}
	assertFiles(t, dir)

	if err := r.backupIfChanges(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if len(r.sum.Changes) != 1 || r.sum.Changes[0].String() != "node2: back up the dataset (BGSAVE) to "+dir+" before changing anything" {
		t.Errorf("changes: %v", r.sum.Changes)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("backup directory holds %d files, want the RDB, .sha256 and .json", len(entries))
	}

	plan, _, pdir := backupUpRun(t, true)
	if err := plan.backupIfChanges(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if len(plan.sum.Changes) != 1 || plan.sum.Changes[0].What != strings.Replace(r.sum.Changes[0].What, dir, pdir, 1) {
		t.Errorf("plan lists %v, up did %v", plan.sum.Changes, r.sum.Changes)
	}
	assertFiles(t, pdir)
}
