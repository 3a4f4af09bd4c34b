package up

import (
	"context"
	"fmt"
	"strings"

	"github.com/redisctl/redisctl/provision"
)

// BlockedError is up's refusal when ports between hosts are blocked: a
// failover needs every sentinel to reach the others and every data node.
type BlockedError struct {
	Paths []string // "node3 -> node2 sentinel port 8000: blocked (no answer in 2s)"
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("ports blocked between hosts; a failover would be impossible, so nothing was changed:\n%s\n"+
		"open them in the hosts' firewalls (redisctl check shows every path)", strings.Join(e.Paths, "\n"))
}

// tuningStep is up's step "check tuning and ports".
type tuningStep struct{ *upRun }

func (tuningStep) Title() string { return "check tuning and ports" }

// Run runs the host checks in one round trip per host: blocked
// paths between hosts stop up before it changes anything; the rest are
// warnings, fixed with --apply-tuning.
func (r tuningStep) Run(ctx context.Context) error {
	p := r.opts.Progress
	var rep *provision.TuningReport
	var err error
	if pc := r.checks; pc != nil {
		<-pc.done
		rep, err = pc.rep, pc.err
	} else {
		rep, err = r.c.CheckHosts(ctx)
	}
	if err != nil {
		return err
	}
	if blocked := rep.BlockedPaths(); len(blocked) > 0 {
		return &BlockedError{Paths: blocked}
	}
	fixed := map[string]bool{}
	if r.opts.ApplyTuning {
		refused, err := r.c.ApplyTuning(ctx, rep, func(n *provision.Node, what string, apply func() error) error {
			return r.change(n, "", apply, "%s", what)
		})
		for _, s := range refused {
			p.Printf("", "warning: %s", s)
		}
		if err != nil {
			return err
		}
		for _, f := range rep.Findings {
			fixed[f.Host+"\x00"+f.Check] = f.Fixable
		}
	}
	var warned, fixable []string
	for _, f := range rep.Problems(provision.LevelWarn) {
		if fixed[f.Host+"\x00"+f.Check] {
			continue
		}
		p.Printf(f.Host, "warning: %s is %s: %s", f.Check, f.Value, f.Fix)
		warned = append(warned, f.Host+" "+f.Check)
		if f.Fixable {
			fixable = append(fixable, f.Host+" "+f.Check)
		}
	}
	if len(warned) > 0 {
		note := fmt.Sprintf("host checks warn about %s; redisctl check says what to do", strings.Join(warned, ", "))
		if len(fixable) > 0 {
			note += fmt.Sprintf(" (up --apply-tuning or check --apply fixes %d of them)", len(fixable))
		}
		r.sum.Notes = append(r.sum.Notes, note)
	} else if len(rep.Findings) > 0 {
		p.Debugf("host checks: all ok")
	}
	return nil
}
