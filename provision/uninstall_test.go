package provision

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redisctl/redisctl/provision/inventory"
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
	conn := &testConnector{Hosts: hosts}
	res, err := Uninstall(context.Background(), inv, UninstallOptions{Connect: conn.Connect, Progress: testProgress(t)})
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

// With another cluster on the host, uninstall keeps what both use (the
// binaries, the shared directories, the redis user) and hands it over to
// the other cluster's manifest, so the last one to go removes it.
func TestUninstallKeepsWhatAnotherClusterUses(t *testing.T) {
	inv := testInventory(t)
	l := inv.Layout()
	facts := freshFacts + "manifest=" + inv.Name + ".manifest.json\nmanifest=other.manifest.json\n"
	hosts := []*testHost{newTestHost("node1", facts), newTestHost("node2", facts), newTestHost("node3", facts)}
	var rmpaths atomic.Value
	rmpaths.Store("")
	for _, h := range hosts {
		h.SetFile(path.Join(l.StateDir, inv.Name+".manifest.json"), []byte(`{"version": 2, "created_user": true, "created": [
			"/usr/local/bin/redis-server", "/usr/local/bin/redis-cli", "/usr/local/bin/redis-sentinel",
			"/etc/redis", "/var/lib/redis", "/var/lib/redis/7000", "/etc/redis/redis_7000.conf"]}`), 0o600, "")
		h.SetFile(path.Join(l.StateDir, "other.manifest.json"), []byte(`{"version": 2, "cluster": "other", "created": ["/etc/redis/redis_7001.conf"]}`), 0o600, "")
		h.On(`rmpath\(\)`, func(cmd string, _ []byte) fakehost.Result {
			var out strings.Builder
			for _, line := range strings.Split(cmd, "\n") {
				if args, ok := strings.CutPrefix(line, "rmpath "); ok {
					p := strings.Fields(args)[0]
					rmpaths.Store(rmpaths.Load().(string) + p + "\n")
					fmt.Fprintf(&out, "removed %s\n", p)
				}
			}
			return fakehost.Result{Stdout: out.String()}
		})
		h.Answer(`^rm -f `, fakehost.Result{})
	}
	var plan string
	conn := &testConnector{Hosts: hosts}
	res, err := Uninstall(context.Background(), inv, UninstallOptions{Connect: conn.Connect, Progress: testProgress(t),
		Confirm: func(p string) (bool, error) { plan = p; return true, nil }})
	if err != nil {
		t.Fatal(err)
	}
	removed := rmpaths.Load().(string)
	for _, shared := range []string{"/usr/local/bin/redis-server", "/usr/local/bin/redis-cli", "/usr/local/bin/redis-sentinel", "/etc/redis\n", "/var/lib/redis\n"} {
		if strings.Contains(removed, shared) {
			t.Errorf("removed %s, which cluster other still uses", strings.TrimSpace(shared))
		}
		if !strings.Contains(plan, strings.TrimSpace(shared)+" (shared with other)") {
			t.Errorf("the plan does not say %s is kept for other:\n%s", strings.TrimSpace(shared), plan)
		}
	}
	if !strings.Contains(removed, "/var/lib/redis/7000\n") || !strings.Contains(removed, "/etc/redis/redis_7000.conf\n") {
		t.Errorf("this cluster's own files were not removed:\n%s", removed)
	}
	for _, h := range hosts {
		for _, c := range h.Calls() {
			if strings.Contains(c, "userdel") {
				t.Errorf("%s: the redis user was removed while cluster other uses it", h.Name())
			}
		}
		f, ok := h.File(path.Join(l.StateDir, "other.manifest.json"))
		if !ok {
			t.Fatalf("%s: other's manifest is gone", h.Name())
		}
		m, err := LoadManifest(context.Background(), h, (&inventory.Inventory{Name: "other", Redis: inventory.Redis{Port: 7001}, Sentinel: inventory.Sentinel{Port: 8001}}).Layout(), "other", []string{"other.manifest.json"})
		if err != nil {
			t.Fatal(err)
		}
		if !m.Has("/usr/local/bin/redis-server") || !m.Has("/etc/redis") || !m.Has("/etc/redis/redis_7001.conf") || !m.CreatedUser {
			t.Errorf("%s: other's manifest after the hand-over: %s", h.Name(), f.Data)
		}
	}
	if len(res.Kept) == 0 {
		t.Errorf("the result lists nothing kept")
	}
}
