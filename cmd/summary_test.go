package cmd

import (
	"strings"
	"testing"
	"time"

	"github.com/redisctl/redisctl/provision/up"
)

func TestSummary(t *testing.T) {
	for _, tc := range []struct {
		name string
		sum  *up.Summary
		want string
	}{
		{"plan, nothing", &up.Summary{DryRun: true}, "plan: nothing to do; the cluster matches the inventory\n"},
		{"plan", &up.Summary{DryRun: true, Changes: []up.Change{
			{Host: "node1", What: "update /etc/redis/redis_7000.conf", Diff: "--- a\n+++ b\n@@ -1 +1 @@\n-maxmemory 0\n+maxmemory 100mb\n"},
			{What: "remember the sentinel ids"},
		}}, `  node1: update /etc/redis/redis_7000.conf
      --- a
      +++ b
      @@ -1 +1 @@
      -maxmemory 0
      +maxmemory 100mb
  remember the sentinel ids
plan: 2 changes; run redisctl up to make them
`},
		{"up", &up.Summary{Duration: 73*time.Second + 456*time.Millisecond,
			Changes: []up.Change{{Host: "node1", What: "start redis", Diff: "not shown"}},
			Notes:   []string{"kept the live master"},
		}, `  changed: node1: start redis
note: kept the live master
up: 1 changed in 1m13.5s
`},
	} {
		var b strings.Builder
		writeSummary(&b, tc.sum)
		if b.String() != tc.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tc.name, b.String(), tc.want)
		}
	}
}
