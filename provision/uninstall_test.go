package provision

import (
	"context"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/redisctl/redisctl/provision/remote/fakehost"
)

// Uninstall removes on every host at once; under -race this fails when
// the hosts' goroutines share the result lists.
func TestUninstallCollectsEveryHostsResults(t *testing.T) {
	inv := testInventory(t)
	l := inv.Layout()
	hosts := freshHosts()
	for _, h := range hosts {
		h.SetFile(path.Join(l.StateDir, "manifest.json"),
			[]byte(`{"version": 1, "created": ["/etc/redis", "/etc/redis/redis_7000.conf", "/var/log/redis_7000.log"]}`), 0o600, "")
		h.On(`rmpath\(\)`, func(cmd string, _ []byte) fakehost.Result {
			var out strings.Builder
			for _, line := range strings.Split(cmd, "\n") {
				if args, ok := strings.CutPrefix(line, "rmpath "); ok {
					fmt.Fprintf(&out, "removed %s\n", strings.Fields(args)[0])
				}
			}
			return fakehost.Result{Stdout: out.String()}
		})
		h.Answer(`^rm -f `, fakehost.Result{Stdout: "removed\n"})
	}
	conn := &testConnector{hosts: hosts}
	res, err := Uninstall(context.Background(), inv, UninstallOptions{Connect: conn.connect, Progress: testProgress(t)})
	if err != nil {
		t.Fatal(err)
	}
	// Every host's removals, in inventory order.
	var order []string
	for _, r := range res.Removed {
		name, _, _ := strings.Cut(r, ": ")
		if len(order) == 0 || order[len(order)-1] != name {
			order = append(order, name)
		}
	}
	if !slices.Equal(order, []string{"node1", "node2", "node3"}) {
		t.Errorf("removed, by host: %v, want node1, node2, node3 in turn:\n%s", order, strings.Join(res.Removed, "\n"))
	}
}

func assertFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, names) {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}
