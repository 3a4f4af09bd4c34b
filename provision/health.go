package provision

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/tlsca"
)

// Health is a snapshot with its analysis, as status shows it: the JSON
// fields are the ones the README documents.
type Health struct {
	Cluster  string        `json:"cluster"`
	Master   string        `json:"master"` // the analysis's Named: who the sentinels (or, without them, the data nodes) name
	Nodes    []*NodeHealth `json:"nodes"`
	Problems []Problem     `json:"problems"`
	// Warnings need attention but do not make the cluster less healthy:
	// a TLS certificate that ends within 30 days (up renews it).
	Warnings []Problem `json:"warnings,omitempty"`
	Verdict  Verdict   `json:"verdict"`
	Taken    time.Time `json:"taken"`
	// Analysis is the whole analysis: the master now, or why there is none.
	Analysis Analysis `json:"-"`
}

// NewHealth joins a snapshot and its analysis; the replicas' lag goes into
// the snapshot's nodes, where status shows it.
func NewHealth(s *Snapshot, a Analysis) *Health {
	for _, nh := range s.Nodes {
		nh.Redis.LagBytes = a.Lag[nh.Name]
	}
	h := &Health{Cluster: s.Cluster, Master: a.Named, Nodes: s.Nodes, Problems: a.Problems, Verdict: a.Verdict, Taken: s.Taken, Analysis: a}
	for _, nh := range s.Nodes {
		if t := nh.TLS; t != nil && !t.CertExpires.IsZero() {
			if left := t.CertExpires.Sub(s.Taken); left < tlsca.RenewBefore {
				h.Warnings = append(h.Warnings, Problem{Host: nh.Name, Severity: SeverityDegraded,
					Message: fmt.Sprintf("its TLS certificate ends on %s, in %d days; redisctl up renews it", t.CertExpires.UTC().Format(time.DateOnly), int(left.Hours()/24))})
			}
		}
	}
	return h
}

// CheckHealth observes the cluster and analyses what it saw. Nodes whose
// Host is nil are reported unreachable with their connect error.
func (c *Cluster) CheckHealth(ctx context.Context, connectErrs map[string]error) *Health {
	s := c.Observe(ctx)
	s.noteConnectErrors(connectErrs)
	return NewHealth(s, Analyze(s, c.Expectations()))
}

// ProblemsText is the problems on one line, for an error message.
func (h *Health) ProblemsText() string {
	var l []string
	for _, p := range h.Problems {
		l = append(l, p.String())
	}
	return strings.Join(l, "; ")
}

// Builds returns every build that runs, data nodes first, then
// sentinels, each once, as "engine version" (for example "Redis 7.2.4"):
// more than one while an upgrade is under way.
func (h *Health) Builds() []string {
	var versions []string
	add := func(b Build) {
		if b.Version != "" && !slices.Contains(versions, b.String()) {
			versions = append(versions, b.String())
		}
	}
	for _, n := range h.Nodes {
		if r := n.Redis; r != nil && r.Running {
			add(Build{r.Engine, r.Version})
		}
	}
	for _, n := range h.Nodes {
		if s := n.Sentinel; s != nil && s.Running {
			add(Build{s.Engine, s.Version})
		}
	}
	return versions
}

// Status connects to every host it can and takes a health snapshot; hosts
// it cannot reach are reported in it, not returned as an error.
func Status(ctx context.Context, inv *inventory.Inventory, connect Connector, p *Progress) (*Health, error) {
	pw, _, _, err := ResolvePassword(inv, false)
	if err != nil {
		return nil, err
	}
	c, errs := ConnectPartial(ctx, inv, connect, p)
	defer c.Close()
	if _, err := c.UseSecrets(pw, false, false); err != nil {
		return nil, err
	}
	return c.CheckHealth(ctx, errs), nil
}
