package cmd

import (
	"strings"
	"testing"

	"github.com/redisctl/redisctl/provision"
)

func TestCheckTable(t *testing.T) {
	rep := &provision.TuningReport{Verdict: provision.LevelFail, Findings: []provision.Finding{
		{Host: "node1", Check: "vm.overcommit_memory", Value: "0", Verdict: provision.LevelWarn, Fixable: true, Fix: "set vm.overcommit_memory = 1"},
		{Host: "node1", Check: "memory", Value: "6.0GiB available; maxmemory not set", Verdict: provision.LevelOK},
		{Host: "node1 -> node2", Check: "sentinel port 8000", From: "node1", To: "node2", Port: 8000, Value: "open", Verdict: provision.LevelOK},
		{Host: "node2 -> node1", Check: "sentinel port 8000", From: "node2", To: "node1", Port: 8000, Value: "blocked (no answer in 2s)", Verdict: provision.LevelFail, Fix: "open it"},
		{Check: "clock skew between hosts", Value: "0.010s (node1 to node2)", Verdict: provision.LevelOK},
	}}
	var b strings.Builder
	writeCheckTable(&b, rep)
	want := `HOST            CHECK                     VERDICT  VALUE
node1           vm.overcommit_memory      warn     0
node1           memory                    ok       6.0GiB available; maxmemory not set
node2 -> node1  sentinel port 8000        fail     blocked (no answer in 2s)
(all)           clock skew between hosts  ok       0.010s (node1 to node2)
(all)           ports between hosts       fail     1 of 2 open

what to do:
  node1, vm.overcommit_memory: set vm.overcommit_memory = 1 (redisctl check --apply fixes it)
  node2 -> node1, sentinel port 8000: open it

check: FAIL
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}
