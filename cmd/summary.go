package cmd

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/redisctl/redisctl/provision/up"
)

// writeSummary writes a short summary of what up did, or for a plan what
// it would do, with file diffs.
func writeSummary(w io.Writer, s *up.Summary) {
	if s.DryRun {
		if len(s.Changes) == 0 {
			fmt.Fprintln(w, "plan: nothing to do; the cluster matches the inventory")
			return
		}
		for _, ch := range s.Changes {
			fmt.Fprintf(w, "  %s\n", ch)
			if ch.Diff != "" {
				fmt.Fprintf(w, "      %s\n", strings.ReplaceAll(strings.TrimRight(ch.Diff, "\n"), "\n", "\n      "))
			}
		}
		fmt.Fprintf(w, "plan: %d changes; run redisctl up to make them\n", len(s.Changes))
		return
	}
	for _, ch := range s.Changes {
		fmt.Fprintf(w, "  changed: %s\n", ch)
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "up: %d changed in %s\n", len(s.Changes), s.Duration.Round(100*time.Millisecond))
}
