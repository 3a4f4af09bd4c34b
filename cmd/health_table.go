package cmd

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redisctl/redisctl/provision"
)

// writeHealthTable prints a health snapshot for a person, within 80 columns.
func writeHealthTable(w io.Writer, h *provision.Health) {
	master := h.Master
	if master == "" {
		master = "none"
	}
	// Every build that runs, data nodes and sentinels: more than one
	// while an upgrade is under way.
	versions := h.Builds()
	mixed := ""
	if len(versions) > 1 {
		mixed = " (mixed: an upgrade is under way or was interrupted; up finishes it)"
	}
	fmt.Fprintf(w, "cluster %s: %s, master %s, %s%s\n\n", h.Cluster, strings.ToUpper(h.Verdict.String()), master, strings.Join(versions, " and "), mixed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tADDRESS\tROLE\tPID\tUPTIME\tREPLICATION\tSENTINEL")
	for _, n := range h.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.Name, n.Address, roleText(n), redisText(n))
	}
	tw.Flush()
	for _, n := range h.Nodes {
		if r := n.Redis; r != nil && r.Running && r.Role != n.InventoryRole {
			fmt.Fprintf(w, "note: %s is %s now; the inventory says %s (after a failover this is expected)\n", n.Name, r.Role, n.InventoryRole)
		}
	}
	fmt.Fprintln(w)
	for _, n := range h.Nodes {
		s := n.Sentinel
		if s == nil || !s.Running {
			continue
		}
		var peers []string
		for _, p := range s.Sentinels {
			peers = append(peers, peerText(p))
		}
		var reps []string
		for _, p := range s.Replicas {
			reps = append(reps, peerText(p))
		}
		quorum := "quorum OK"
		if !s.QuorumOK {
			quorum = "NO QUORUM"
		}
		fmt.Fprintf(w, "sentinel %s: master %s [%s], epoch %d, %s\n", n.Name, s.Master, s.MasterFlags, s.Epoch, quorum)
		fmt.Fprintf(w, "  replicas:  %s\n", strings.Join(reps, ", "))
		fmt.Fprintf(w, "  sentinels: %s\n", strings.Join(peers, ", "))
	}
	for _, n := range h.Nodes {
		if n.TLS != nil {
			fmt.Fprintf(w, "tls %s: %s\n", n.Name, tlsText(n.TLS, h.Taken))
		}
	}
	for _, p := range h.Warnings {
		fmt.Fprintf(w, "warning: %s\n", p)
	}
	if len(h.Problems) == 0 {
		fmt.Fprintln(w, "\nno problems found")
		return
	}
	fmt.Fprintf(w, "\n%d problems:\n", len(h.Problems))
	for _, p := range h.Problems {
		fmt.Fprintf(w, "  - [%s] %s\n", p.Severity, p)
	}
}

func peerText(p provision.PeerView) string {
	state := "ok"
	if !p.Reachable {
		state = "UNREACHABLE " + p.Flags
	}
	return fmt.Sprintf("%s %s", p.Addr, state)
}

func roleText(n *provision.NodeHealth) string {
	switch {
	case !n.Reachable:
		return "UNREACH"
	case n.Redis == nil || !n.Redis.Running:
		return "DOWN"
	}
	return n.Redis.Role
}

// redisText is the PID, UPTIME, REPLICATION and SENTINEL columns.
func redisText(n *provision.NodeHealth) string {
	if !n.Reachable || !n.Redis.Running {
		return "-\t-\t-\t" + sentinelText(n)
	}
	r := n.Redis
	return fmt.Sprintf("%d\t%s\t%s\t%s", r.Pid, shortDuration(r.UptimeSeconds), replText(n), sentinelText(n))
}

// shortBytes writes a byte count as 512B, 12K, 3.4M or 1.0G.
func shortBytes(b int64) string {
	switch {
	case b < 1<<10:
		return fmt.Sprintf("%dB", b)
	case b < 1<<20:
		return fmt.Sprintf("%dK", b>>10)
	case b < 1<<30:
		return fmt.Sprintf("%.1fM", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%.1fG", float64(b)/(1<<30))
}

// shortDuration writes seconds as 42s, 5m3s, 3h2m or 10d23h.
func shortDuration(sec int64) string {
	d := time.Duration(sec) * time.Second
	switch {
	case d < time.Hour:
		return d.String()
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

func replText(n *provision.NodeHealth) string {
	r := n.Redis
	if r.Role == "replica" {
		if r.LinkStatus != "up" {
			return "link " + strings.ToUpper(r.LinkStatus)
		}
		if r.LagBytes > 0 {
			return "up +" + shortBytes(r.LagBytes)
		}
		return "up"
	}
	return fmt.Sprintf("%d/%d online", r.OnlineReplicas(), len(r.Replicas))
}

func sentinelText(n *provision.NodeHealth) string {
	s := n.Sentinel
	switch {
	case s == nil:
		return "none"
	case !s.Running:
		return "DOWN"
	}
	bad := 0
	for _, p := range s.Sentinels {
		if !p.Reachable {
			bad++
		}
	}
	if bad > 0 {
		return fmt.Sprintf("%d lost", bad)
	}
	return "ok"
}

// tlsText is one host's TLS line: which links speak TLS, and the
// certificate's end.
func tlsText(t *provision.TLSHealth, now time.Time) string {
	yes := func(b bool) string {
		if b {
			return "TLS"
		}
		return "not seen"
	}
	s := fmt.Sprintf("client %s, replication %s, sentinel %s", yes(t.Client), yes(t.Replication), yes(t.Sentinel))
	if t.PlaintextPort != 0 {
		s += fmt.Sprintf("; plaintext clients on port %d too", t.PlaintextPort)
	}
	if !t.CertExpires.IsZero() {
		s += fmt.Sprintf("; certificate valid until %s (%d days)", t.CertExpires.UTC().Format(time.DateOnly), int(t.CertExpires.Sub(now).Hours()/24))
	}
	return s
}
