package provision

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/redisx"
	"github.com/redisctl/redisctl/provision/remote"
)

// This file holds what a change of engine or version needs: which build a
// host has and a server runs, whether the data can move between them (the
// RDB format), and the switch of a host's binaries at its restart.
//
// An upgrade is a rolling restart: Install puts the new binaries beside the
// old ones on a host whose servers run (stagedName), and each server moves
// to them when the rolling restart restarts it (switchBinaries), replicas
// first, then the master after a graceful failover, then the sentinels.
// Nothing else switches them, so a crash of an old server restarts it on the
// old build, and an interrupted upgrade is resumed by running up again: the
// servers still on the old build are the ones restarted.

// Build names a server program: its engine and version.
type Build struct {
	Engine  string // inventory.EngineRedis or EngineValkey
	Version string
}

func (b Build) String() string {
	if b.Version == "" {
		return "nothing"
	}
	return inventory.EngineName(b.Engine) + " " + b.Version
}

// Target is the build the inventory asks for.
func (c *Cluster) Target() Build {
	e := c.Inv.Redis.Engine
	if e == "" {
		e = inventory.EngineRedis
	}
	return Build{Engine: e, Version: c.Inv.Redis.Version}
}

// InstalledBuild is the build of a host's installed redis-server.
func InstalledBuild(f *Facts) Build {
	if f.RedisVersion == "" {
		return Build{}
	}
	e := f.RedisEngine
	if e == "" {
		e = inventory.EngineRedis
	}
	return Build{Engine: e, Version: f.RedisVersion}
}

// runningBuild reads a running server's build from its INFO server: Valkey
// reports valkey_version (and redis_version 7.2.4, for old clients).
func runningBuild(info redisx.Info) Build {
	if v := info["valkey_version"]; v != "" {
		return Build{Engine: inventory.EngineValkey, Version: v}
	}
	if info["server_name"] == inventory.EngineValkey {
		return Build{Engine: inventory.EngineValkey, Version: info["redis_version"]}
	}
	return Build{Engine: inventory.EngineRedis, Version: info["redis_version"]}
}

// srcPrograms are the names of the server and the cli in a built source
// tree's src/ directory. redisctl installs both engines' programs as
// redis-server and redis-cli (Valkey's own make install adds these names
// too), so services, pid checks and scripts stay the same across a change
// of engine.
func srcPrograms(engine string) (server, cli string) {
	if engine == inventory.EngineValkey {
		return "valkey-server", "valkey-cli"
	}
	return "redis-server", "redis-cli"
}

// rdbFormats is the RDB format version each release line writes (from the
// engines' rdb.h). A server loads its own format and older ones only.
var rdbFormats = map[Build]int{
	{inventory.EngineRedis, "6.0"}:  9,
	{inventory.EngineRedis, "6.2"}:  9,
	{inventory.EngineRedis, "7.0"}:  10,
	{inventory.EngineRedis, "7.2"}:  11,
	{inventory.EngineRedis, "7.4"}:  12,
	{inventory.EngineRedis, "8.0"}:  12,
	{inventory.EngineValkey, "7.2"}: 11,
	{inventory.EngineValkey, "8.0"}: 11,
	{inventory.EngineValkey, "8.1"}: 11,
}

// RdbFormat is the RDB format version b writes, when redisctl knows it.
func RdbFormat(b Build) (int, bool) {
	v := versionParts(b.Version)
	if len(v) < 2 {
		return 0, false
	}
	f, ok := rdbFormats[Build{b.Engine, fmt.Sprintf("%d.%d", v[0], v[1])}]
	return f, ok
}

// versionParts reads "8.0.2" as [8 0 2]; parsing stops at the first part
// that is not a number ("8.0.2-rc1" is [8 0]).
func versionParts(v string) []int {
	var out []int
	for _, p := range strings.Split(v, ".") {
		n, err := strconv.Atoi(p)
		if err != nil {
			break
		}
		out = append(out, n)
	}
	return out
}

// versionLess reports whether version a is older than b.
func versionLess(a, b string) bool {
	pa, pb := versionParts(a), versionParts(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return len(pa) < len(pb)
}

// CheckVersionChange refuses, before anything is touched, a move from one
// build to another that the data cannot make. Replicas move first and
// resync from the master, and every node restarted on the new build loads
// its own data file: both fail when the new build cannot read the RDB
// format the old one wrote. Any move to the same or a newer format works.
func CheckVersionChange(from, to Build) error {
	if from.Version == "" || from == to {
		return nil
	}
	if from.Engine == inventory.EngineValkey && to.Engine == inventory.EngineRedis {
		return fmt.Errorf("refusing to move from %s to %s: Valkey rewrites its config files with directive names Redis cannot read (primaryauth, primaryuser, sentinel primary-reboot-down-after-period), so a node restarted on Redis could fail to start; moving back to Redis is not supported", from, to)
	}
	rf, okf := RdbFormat(from)
	rt, okt := RdbFormat(to)
	switch {
	case okf && okt && rt >= rf:
		return nil
	case okf && okt:
		return fmt.Errorf("refusing to move from %s to %s: %s writes RDB format %d, which %s (RDB format %d) cannot load, so a replica on %s could not sync from the master and a node restarted on it could not load its own data; "+
			"a downgrade across an RDB format cannot be done by replication (set redis.version back to %s, or restore a backup into a new cluster)",
			from, to, from, rf, to, rt, to, from.Version)
	case from.Engine == to.Engine && versionLess(from.Version, to.Version):
		return nil // a newer release reads its predecessors' data
	}
	return fmt.Errorf("refusing to move from %s to %s: redisctl does not know whether %s can load data written by %s (it knows the RDB formats of %s), so it cannot prove the move keeps the data",
		from, to, to, from, knownLines())
}

func knownLines() string {
	var redis, valkey []string
	for b := range rdbFormats {
		if b.Engine == inventory.EngineValkey {
			valkey = append(valkey, b.Version)
		} else {
			redis = append(redis, b.Version)
		}
	}
	sortVersions(redis)
	sortVersions(valkey)
	return "Redis " + strings.Join(redis, ", ") + " and Valkey " + strings.Join(valkey, ", ")
}

func sortVersions(v []string) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && versionLess(v[j], v[j-1]); j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

// stagedName is where Install puts a new build's program beside the one a
// running server uses: in the same root-owned directory, so the switch is
// a rename.
func stagedName(binDir, program string) string {
	return path.Join(binDir, "."+program+".staged")
}

// switchScript moves a host's staged binaries into place when there are
// any, and prints the installed server's --version. A running server keeps
// the program it started with (a rename does not touch it).
func (c *Cluster) switchScript() string {
	bin := c.Layout.BinDir
	var b strings.Builder
	for _, p := range binaries {
		fmt.Fprintf(&b, "if [ -f %[1]s ] && [ ! -L %[1]s ]; then mv -f -- %[1]s %[2]s; fi\n",
			remote.Quote(stagedName(bin, p)), remote.Quote(path.Join(bin, p)))
	}
	fmt.Fprintf(&b, "%s --version\n", remote.Quote(path.Join(bin, "redis-server")))
	return b.String()
}

// SwitchBinaries makes the host's staged build (if any) the installed one,
// right before one of its servers restarts, and checks that the installed
// build is the inventory's.
func (c *Cluster) SwitchBinaries(ctx context.Context, n *Node) error {
	out, err := remote.Output(ctx, n.Host, c.switchScript())
	if err != nil {
		return fmt.Errorf("switch to %s: %w", c.Target(), err)
	}
	if !builds(out, c.Target()) {
		return fmt.Errorf("%s/redis-server reports %q, want %s; run up again to install it", c.Layout.BinDir, firstLine(out), c.Target())
	}
	n.Facts.RedisVersion, n.Facts.RedisEngine = c.Inv.Redis.Version, c.Target().Engine
	return nil
}
