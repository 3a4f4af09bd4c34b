package provision

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable prints a health snapshot for a person, within 80 columns.
func (h *Health) WriteTable(w io.Writer) {
	master := h.Master
	if master == "" {
		master = "none"
	}
	fmt.Fprintf(w, "cluster %s: %s, master %s\n\n", h.Cluster, strings.ToUpper(h.Verdict), master)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tADDRESS\tROLE\tREDIS\tREPLICATION\tSENTINEL")
	for _, n := range h.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, n.Address, n.roleText(), n.redisText(), n.replText(), n.sentinelText())
	}
	tw.Flush()
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
	if len(h.Problems) == 0 {
		fmt.Fprintln(w, "\nno problems found")
		return
	}
	fmt.Fprintf(w, "\n%d problems:\n", len(h.Problems))
	for _, p := range h.Problems {
		fmt.Fprintf(w, "  - [%s] %s\n", p.Severity, p)
	}
}

func peerText(p PeerView) string {
	state := "ok"
	if !p.Reachable {
		state = "UNREACHABLE " + p.Flags
	}
	return fmt.Sprintf("%s %s", p.Addr, state)
}

func (n *NodeHealth) roleText() string {
	if n.Redis == nil || !n.Redis.Running {
		return "? (inv " + n.InventoryRole + ")"
	}
	if n.Redis.Role != n.InventoryRole {
		return n.Redis.Role + " (inv " + n.InventoryRole + ")"
	}
	return n.Redis.Role
}

func (n *NodeHealth) redisText() string {
	switch {
	case !n.Reachable:
		return "UNREACHABLE"
	case !n.Redis.Running:
		return "DOWN"
	}
	return fmt.Sprintf("%s pid %d up %s", n.Redis.Version, n.Redis.Pid, time.Duration(n.Redis.UptimeSeconds)*time.Second)
}

func (n *NodeHealth) replText() string {
	r := n.Redis
	switch {
	case r == nil || !r.Running:
		return "-"
	case r.Role == "replica":
		return fmt.Sprintf("link %s lag %dB", r.LinkStatus, r.LagBytes)
	}
	online := 0
	for _, rl := range r.Replicas {
		if rl.State == "online" {
			online++
		}
	}
	return fmt.Sprintf("%d/%d replicas online", online, len(r.Replicas))
}

func (n *NodeHealth) sentinelText() string {
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
		return fmt.Sprintf("up, %d peers unreachable", bad)
	}
	return "up"
}
