package cmd

import (
	"strings"
	"testing"
)

// backup needs --to and restore --from, before any inventory is read.
func TestBackupRestoreUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"backup"}, "--to DIR is required"},
		{[]string{"backup", "--to", t.TempDir(), "-o", "yaml"}, "-o must be table or json"},
		{[]string{"restore"}, "--from FILE is required"},
		{[]string{"restore", "--from"}, "flag needs an argument"},
	} {
		code, _, stderr := execute(t, nil, c.args...)
		if code != ExitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", c.args, code, stderr, ExitUsage, c.want)
		}
	}
}

// Without a terminal, restore's confirmation refuses unless --yes is given,
// the same as uninstall's.
func TestRestoreConfirmNeedsYes(t *testing.T) {
	g := &globals{in: strings.NewReader("y\n"), out: &strings.Builder{}, errOut: &strings.Builder{}}
	if ok, err := g.confirm(false)("replace everything"); ok || err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Errorf("confirm without a terminal: %v, %v; want a refusal naming --yes", ok, err)
	}
	if ok, err := g.confirm(true)("replace everything"); !ok || err != nil {
		t.Errorf("confirm with --yes: %v, %v", ok, err)
	}
}
