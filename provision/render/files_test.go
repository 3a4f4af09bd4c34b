package render

import (
	"fmt"
	"slices"
	"testing"
)

// TestRenderDisklessSyncMaxReplicas: a master starts a diskless sync as soon
// as every replica of the inventory waits (hosts - 1), on Redis 7.0 and
// later (and Valkey, whose versions start at 7.2); older servers do not
// know the directive and get no line.
func TestRenderDisklessSyncMaxReplicas(t *testing.T) {
	for _, c := range []struct {
		version string
		hosts   int
		want    int // 0: no line
	}{
		{"7.0.15", 3, 2},
		{"7.0.0", 2, 1},
		{"7.2.4", 7, 6},
		{"7.2-rc1", 3, 2},
		{"8.0.2", 15, 14},
		{"8.1.1", 3, 2}, // Valkey 8.1.1 too
		{"10.0.0", 3, 2},
		{"6.2.14", 3, 0},
		{"6.0.20", 5, 0},
		{"5.0.14", 3, 0},
		{"unstable", 3, 0},
	} {
		t.Run(fmt.Sprintf("%s/%d-hosts", c.version, c.hosts), func(t *testing.T) {
			var addrs []string
			for i := range c.hosts {
				addrs = append(addrs, fmt.Sprintf("10.0.0.%d", i+1))
			}
			inv := testInventory("pw", addrs...)
			inv.Redis.Version = c.version
			for i := range inv.Hosts { // the master and a replica alike
				found := Find(renderedRedisConf(t, inv, i), "repl-diskless-sync-max-replicas")
				var want []Line
				if c.want > 0 {
					want = []Line{{Args: []string{"repl-diskless-sync-max-replicas", fmt.Sprint(c.want)}}}
				}
				if len(found) != len(want) || len(want) == 1 && !slices.Equal(found[0].Args, want[0].Args) {
					t.Errorf("%s: rendered %v, want %v", inv.Hosts[i].Name, found, want)
				}
			}
		})
	}
}

func TestVersionAtLeast(t *testing.T) {
	for _, c := range []struct {
		v            string
		major, minor int
		want         bool
	}{
		{"7.0.15", 7, 0, true},
		{"7.0", 7, 0, true},
		{"6.2.14", 7, 0, false},
		{"7.2-rc1", 7, 2, true},
		{"7.1.0", 7, 2, false},
		{"8.0.2", 7, 2, true},
		{"12.0.0", 7, 0, true},
		{"", 7, 0, false},
		{"7", 7, 0, false},
		{"x.y", 7, 0, false},
	} {
		if got := versionAtLeast(c.v, c.major, c.minor); got != c.want {
			t.Errorf("versionAtLeast(%q, %d, %d) = %v, want %v", c.v, c.major, c.minor, got, c.want)
		}
	}
}

// HostFilesWith renders for the Redis that runs, not the inventory's, when
// told: a running 6.2 would refuse repl-diskless-sync-max-replicas live.
func TestHostFilesWithRunningVersion(t *testing.T) {
	inv := testInventory("pw", "10.0.0.1", "10.0.0.2", "10.0.0.3")
	for _, c := range []struct {
		running string
		want    int
	}{{"", 1}, {"6.2.14", 0}, {"7.0.15", 1}, {"7.2.4", 1}} {
		files, err := HostFilesWith(inv, &inv.Hosts[1], "10.0.0.1", InitSysV, HostOptions{RedisVersion: c.running})
		if err != nil {
			t.Fatal(err)
		}
		lines, err := ParseConfig(files[0].Data)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(Find(lines, "repl-diskless-sync-max-replicas")); got != c.want {
			t.Errorf("running %q: %d repl-diskless-sync-max-replicas lines, want %d", c.running, got, c.want)
		}
	}
}
