package cmd

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/redisctl/redisctl/provision"
)

// writeCheckTable prints the check report for a person: one row per host
// and check, the paths between hosts summed up in one row when all are
// open, then what to do about each problem.
func writeCheckTable(w io.Writer, r *provision.TuningReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tCHECK\tVERDICT\tVALUE")
	paths, open := 0, 0
	for _, f := range r.Findings {
		if f.From != "" {
			paths++
			if f.Verdict == provision.LevelOK {
				open++
				continue
			}
		}
		host := f.Host
		if host == "" {
			host = "(all)"
		}
		verdict := string(f.Verdict)
		if f.Fixed {
			verdict += " (fixed)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", host, f.Check, verdict, f.Value)
	}
	if paths > 0 {
		v := provision.LevelOK
		if open < paths {
			v = provision.LevelFail
		}
		fmt.Fprintf(tw, "(all)\tports between hosts\t%s\t%d of %d open\n", v, open, paths)
	}
	tw.Flush()
	var todo []string
	for _, f := range r.Findings {
		if f.Verdict == provision.LevelOK {
			continue
		}
		host := f.Host
		if host == "" {
			host = "all hosts"
		}
		line := fmt.Sprintf("%s, %s: %s", host, f.Check, f.Fix)
		if f.Fixable {
			line += " (redisctl check --apply fixes it)"
		}
		todo = append(todo, line)
	}
	if len(todo) > 0 {
		title := "what to do"
		if r.AfterApply() {
			title = "left after --apply, what to do"
		}
		fmt.Fprintf(w, "\n%s:\n  %s\n", title, strings.Join(todo, "\n  "))
	}
	if len(r.Applied) > 0 {
		fmt.Fprintf(w, "\napplied:\n  %s\n", strings.Join(r.Applied, "\n  "))
	}
	if len(r.NotFixed) > 0 {
		fmt.Fprintf(w, "\ncould not fix:\n  %s\n", strings.Join(r.NotFixed, "\n  "))
	}
	fmt.Fprintf(w, "\ncheck: %s\n", strings.ToUpper(string(r.Verdict)))
}
