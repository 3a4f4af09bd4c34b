package up

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redisctl/redisctl/provision"
	"github.com/redisctl/redisctl/provision/inventory"
)

// Options configure Run.
type Options struct {
	Connect  provision.Connector
	CacheDir string // control-side cache: sources, builds
	Progress *provision.Progress
	// SyncTimeout bounds each wait for replication and sentinel agreement.
	SyncTimeout time.Duration
	// DryRun decides everything as up would and changes nothing: the
	// summary lists what up would change (redisctl plan).
	DryRun bool
	// Force starts a master that is down even when that rolls data back
	// (see checkStaleMaster); the operator has decided it holds the data
	// to keep.
	Force bool
	// ApplyTuning fixes the host settings the checks warn about (see
	// ApplyTuning) before anything else is changed.
	ApplyTuning bool
	// BackupDir, when set, receives a backup (as redisctl backup takes it)
	// before up changes a live cluster; see backupFirst.
	BackupDir string
	// Failover moves the master off a host the inventory no longer lists
	// (a graceful failover) so that it can be removed, instead of refusing.
	Failover bool
}

// Summary is what Run did, or with DryRun would do.
type Summary struct {
	DryRun   bool
	Changes  []Change
	Duration time.Duration
	Notes    []string // things the operator should know (live master kept ...)
}

// Change is one change on one host. Plan and up describe a change in the
// same words, so a plan can be compared with what up then did.
type Change struct {
	Host string `json:"host,omitempty"`
	What string `json:"what"`
	Diff string `json:"diff,omitempty"` // unified diff of a file, secrets hidden
}

func (ch Change) String() string {
	if ch.Host == "" {
		return ch.What
	}
	return ch.Host + ": " + ch.What
}

// upRun is the state one Run carries from step to step.
type upRun struct {
	c      *provision.Cluster
	opts   Options
	inv    *inventory.Inventory
	src    *provision.Source
	master *provision.Node
	sum    *Summary
	// restarts and sentinelRestarts hold, per node, the settings that
	// changed and need its data node or sentinel restarted.
	restarts         map[*provision.Node][]string
	sentinelRestarts map[*provision.Node][]string
	departed         []*departedNode          // hosts the inventory no longer lists (findDeparted)
	failedOver       bool                     // findDeparted moved the master off a departed host
	running          map[server]runningServer // servers found running before the start steps
	checks           *pendingChecks           // the host checks, run while the facts are gathered
	snap             *provision.Snapshot      // findMaster's observation, before anything was started
	installing       *pendingInstall          // the install running beside prepare and findMaster
	replication      *pendingReplication      // the replicas' wait, running beside the sentinels' start
	unlock           func()
	mu               sync.Mutex
}

// change records one change and, unless this is a dry run, makes it with
// apply. Every change of up goes through here: that is what makes the plan
// the list of what up does.
func (r *upRun) change(n *provision.Node, diff string, apply func() error, format string, args ...any) error {
	ch := Change{What: fmt.Sprintf(format, args...), Diff: diff}
	if n != nil {
		ch.Host = n.Spec.Name
	}
	if !r.opts.DryRun && apply != nil {
		if err := apply(); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.sum.Changes = append(r.sum.Changes, ch)
	r.mu.Unlock()
	if r.opts.DryRun {
		r.opts.Progress.Printf(ch.Host, "would %s", ch.What)
	}
	return nil
}

// Run brings the cluster to the inventory's state, the seed procedure in
// order: connect, learn, install, configure, start master, replicas and
// sentinels, and prove the result. Every step checks before it acts, so a
// second run on a healthy cluster changes nothing and restarts nothing.
func Run(ctx context.Context, inv *inventory.Inventory, opts Options) (*Summary, error) {
	p := opts.Progress
	if opts.SyncTimeout == 0 {
		opts.SyncTimeout = 60*time.Second + 3*time.Duration(inv.Sentinel.DownAfterMS)*time.Millisecond
	}
	r := &upRun{inv: inv, opts: opts, sum: &Summary{DryRun: opts.DryRun},
		restarts: map[*provision.Node][]string{}, sentinelRestarts: map[*provision.Node][]string{}}
	start := time.Now()

	steps := procedure(r)
	defer func() {
		if r.checks != nil {
			<-r.checks.done // before the connections close
		}
		if in := r.installing; in != nil { // a step failed before waitInstall
			in.cancel()
			<-in.done
		}
		if w := r.replication; w != nil { // a step failed before the sentinels' ended it
			w.cancel()
			<-w.done
		}
		if r.unlock != nil {
			r.unlock()
		}
		if r.c != nil {
			r.c.Close()
		}
	}()
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return r.sum, err
		}
		t := time.Now()
		p.Printf("", "==> %s", s.Title())
		if err := s.Run(ctx); err != nil {
			title := s.Title()
			if se, ok := err.(*StepError); ok {
				// A step that ends an earlier step's wait (the replicas')
				// names that step when the wait failed.
				title, err = se.Step, se.Err
			}
			if in := r.installing; in != nil {
				// The install runs beside the steps after it: when it
				// failed too, it failed first in the procedure's order,
				// and is often why the later step failed.
				<-in.done
				r.installing = nil
				if in.err != nil {
					title, err = installStep{}.Title(), in.err
				}
			}
			if ctx.Err() != nil {
				// Every step checks before it acts, so the next run picks
				// up where this one stopped (an upgrade included).
				err = fmt.Errorf("interrupted (%v); run up again to finish", context.Cause(ctx))
			}
			return r.sum, &StepError{Step: title, Err: err}
		}
		if d := time.Since(t); d >= time.Second {
			p.Printf("", "    %s took %s", s.Title(), d.Round(100*time.Millisecond))
		} else {
			p.Debugf("step %q done in %s", s.Title(), d.Round(time.Millisecond))
		}
	}
	r.sum.Duration = time.Since(start)
	return r.sum, nil
}

// StepError is a failed step of up; it keeps every host's error.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string {
	msg := e.Err.Error()
	if strings.Contains(msg, "\n") {
		return fmt.Sprintf("%s failed:\n  %s", e.Step, strings.ReplaceAll(msg, "\n", "\n  "))
	}
	return fmt.Sprintf("%s failed: %s", e.Step, msg)
}

func (e *StepError) Unwrap() error { return e.Err }

// step is one step of up: its title, printed as it starts and named when
// it fails, and its run, which checks before it acts and makes every
// change through upRun.change (so that a plan lists exactly what up does).
type step interface {
	Title() string
	Run(ctx context.Context) error
}

// procedure is up, in order (k0sctl's phases): each step is a type with
// its title, in a file of its own (doc.go lists them).
func procedure(r *upRun) []step {
	return []step{
		sourceStep{r},
		connectStep{r},
		lockStep{r},
		factsStep{r},
		hostCheckStep{r},
		backupStep{r},
		tuningStep{r},
		passwordStep{r},
		findDepartedStep{r},
		installStep{r},
		prepareStep{r},
		findMasterStep{r},
		waitInstallStep{r},
		rotateStep{r},
		configureStep{r},
		startMasterStep{r},
		startReplicasStep{r},
		startSentinelsStep{r},
		removeHostsStep{r},
		rollingRestartStep{r},
		tlsSwitchStep{r},
		verifyStep{r},
	}
}
