package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRemoveHost takes hosts out of the inventory and lets up remove them:
// a fourth host added and removed again, then an original replica. After
// each removal the host runs no Redis and keeps none of its files, every
// remaining sentinel counts exactly the remaining replicas and sentinels
// (SENTINEL MASTER), and status is healthy. Removing the master is refused
// and changes nothing. The lab ends as three hosts with a healthy cluster.
func TestRemoveHost(t *testing.T) {
	inv := labInventory()
	// Whatever an earlier test left, start from nothing.
	_ = run(t, inv, "uninstall", "--yes")
	labUp(t, 3)
	restored := false
	t.Cleanup(func() {
		if !restored {
			labUp(t, 3)
			_ = run(t, labInventory(), "up")
		}
	})
	mustRun(t, inv, "up")
	waitHealthy(t, inv)
	three := labHosts()
	master := masterOf(t, three)

	// A fourth host joins.
	labUp(t, 4)
	if n := len(labHosts()); n != 4 {
		t.Fatalf("the lab inventory lists %d hosts, want 4", n)
	}
	mustRun(t, inv, "up")
	waitHealthy(t, inv)
	node4 := hostByName(t, "node4")
	checkSentinelCounts(t, labHosts(), 3, 3)

	// node4 leaves the inventory: plan lists its removal, up does it.
	without4 := inventoryWithout(t, inv, nil, "node4")
	removeAndCheck(t, without4, three, node4)

	// Removing the master is refused, and nothing changes.
	withoutMaster := inventoryWithout(t, inv, &master, "node4", master.Name)
	before := pidsOf(t, three)
	r := run(t, withoutMaster, "up")
	if r.code == 0 || !strings.Contains(r.stderr, "refusing to remove the master") || !strings.Contains(r.stderr, "failover-test --mode manual") {
		t.Fatalf("up without the master %s should refuse and say how to move it: exit %d", master.Name, r.code)
	}
	if after := pidsOf(t, three); !mapsEqual(before, after) {
		t.Fatalf("a refused removal changed processes: before %v, after %v", before, after)
	}
	checkSentinelCounts(t, three, 2, 2)

	// An original replica leaves: the last of node2 and node3 that is not
	// the master.
	var victim labHost
	for _, h := range three[1:] {
		if h != master {
			victim = h
		}
	}
	var two []labHost
	for _, h := range three {
		if h != victim {
			two = append(two, h)
		}
	}
	withoutVictim := inventoryWithout(t, inv, nil, "node4", victim.Name)
	removeAndCheck(t, withoutVictim, two, victim)

	// Back to three hosts: the removed replica comes back as a replica.
	labUp(t, 3)
	if n := len(labHosts()); n != 3 {
		t.Fatalf("the lab inventory lists %d hosts, want 3", n)
	}
	mustRun(t, labInventory(), "up")
	waitHealthy(t, labInventory())
	if m := masterOf(t, labHosts()); m != master {
		t.Fatalf("the master moved from %s to %s", master.Name, m.Name)
	}
	checkSeedState(t, master)
	restored = true
}

// removeAndCheck runs plan and up with inventory inv, which no longer lists
// gone, and checks that up did what plan listed and that gone is removed:
// no Redis or Sentinel running, no config left, and every sentinel of stay
// counting the others exactly.
func removeAndCheck(t *testing.T, inv string, stay []labHost, gone labHost) {
	t.Helper()
	before := pidsOf(t, stay)
	plan := planned(mustRun(t, inv, "plan").stdout)
	for _, want := range []string{
		gone.Addr + ": stop sentinel_8000",
		gone.Addr + ": stop redis_7000",
		gone.Addr + ": uninstall: ",
	} {
		if !slices.ContainsFunc(plan, func(p string) bool { return strings.HasPrefix(p, want) }) {
			t.Errorf("plan does not list %q:\n  %s", want, strings.Join(plan, "\n  "))
		}
	}
	for _, h := range stay {
		want := fmt.Sprintf("%s: SENTINEL RESET %s, then wait until it knows %d replicas and %d other sentinels", h.Name, masterName, len(stay)-1, len(stay)-1)
		if !slices.Contains(plan, want) {
			t.Errorf("plan does not list %q", want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if after := pidsOf(t, stay); !mapsEqual(before, after) {
		t.Fatalf("plan changed processes: before %v, after %v", before, after)
	}

	r := mustRun(t, inv, "up")
	if done := applied(r.stdout); !slices.Equal(plan, done) {
		t.Fatalf("plan listed:\n  %s\nup did:\n  %s", strings.Join(plan, "\n  "), strings.Join(done, "\n  "))
	}
	ps, err := hostExec(t, gone.Name, "ps", "-eo", "comm=")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Split(ps, "\n") {
		if strings.HasPrefix(strings.TrimSpace(p), "redis-") {
			t.Errorf("%s still runs %s:\n%s", gone.Name, p, ps)
		}
	}
	for _, f := range []string{"/etc/redis/redis_7000.conf", "/etc/redis/sentinel_8000.conf"} {
		if _, err := hostExec(t, gone.Name, "test", "!", "-e", f); err != nil {
			t.Errorf("%s: %s is still there", gone.Name, f)
		}
	}
	checkSentinelCounts(t, stay, len(stay)-1, len(stay)-1)
	now := pidsOf(t, stay)
	for k, v := range before {
		if now[k] != v {
			t.Errorf("%s restarted while %s was removed (pid %s -> %s)", k, gone.Name, v, now[k])
		}
	}
	if d, sr := status(t, inv); sr.code != 0 || d.Verdict != "healthy" {
		t.Fatalf("status after removing %s: exit %d, %s, %+v", gone.Name, sr.code, d.Verdict, d.Problems)
	}
}

// checkSentinelCounts checks that every sentinel of hosts reports, in
// SENTINEL MASTER, num-slaves replicas and num-other-sentinels others.
func checkSentinelCounts(t *testing.T, hosts []labHost, replicas, others int) {
	t.Helper()
	for _, h := range hosts {
		v, err := do(t, addr(h, sentinelPort), "SENTINEL", "MASTER", masterName)
		if err != nil {
			t.Fatalf("%s sentinel: %v", h.Name, err)
		}
		m := pairs(v)
		if m["num-slaves"] != fmt.Sprint(replicas) || m["num-other-sentinels"] != fmt.Sprint(others) {
			t.Errorf("%s sentinel: num-slaves %s, num-other-sentinels %s; want %d and %d", h.Name, m["num-slaves"], m["num-other-sentinels"], replicas, others)
		}
	}
}

// masterOf returns the host that every sentinel of hosts names as master.
func masterOf(t *testing.T, hosts []labHost) labHost {
	t.Helper()
	var named string
	for _, h := range hosts {
		m, err := sentinelMaster(t, h)
		if err != nil {
			t.Fatalf("%s sentinel: %v", h.Name, err)
		}
		if named != "" && m != named {
			t.Fatalf("sentinels disagree: %s vs %s", named, m)
		}
		named = m
	}
	for _, h := range hosts {
		if addr(h, redisPort) == named {
			return h
		}
	}
	t.Fatalf("the sentinels name %s, none of %v", named, hosts)
	return labHost{}
}

// inventoryWithout writes a copy of the inventory at inv without the named
// hosts and returns its path. When master is not nil, that host's role
// goes to the first host left (an inventory names one master).
func inventoryWithout(t *testing.T, inv string, master *labHost, names ...string) string {
	t.Helper()
	data, err := os.ReadFile(inv)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	promoted := master == nil
	for _, line := range strings.Split(string(data), "\n") {
		if m := hostLine.FindStringSubmatch(line); m != nil {
			if slices.Contains(names, m[1]) {
				continue
			}
			if !promoted {
				line = strings.Replace(line, "role: replica", "role: master", 1)
				promoted = true
			}
		}
		out = append(out, line)
	}
	p := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(p, []byte(strings.Join(out, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
