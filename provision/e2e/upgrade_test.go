package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestUpgrade moves live clusters to other builds by changing the
// inventory, under a writer that counts acknowledged writes:
//
//   - Redis 7.0.15 to 8.0.2: plan lists exactly what up then does; every
//     data node and sentinel runs 8.0.2 afterwards, the master moved once
//     (the sentinels' config epoch went up by one), no acknowledged write
//     is missing, and every sentinel kept its myid;
//   - back to 7.0.15: refused before anything is touched (RDB format 12
//     cannot be loaded by 7.0), no pid changes;
//   - a new 7.0.15 cluster to Valkey 8.1.1, interrupted (SIGINT) once the
//     first replica runs Valkey: status shows both builds, and up again
//     finishes the move with the same guarantees.
//
// The sources are Debian 13's source packages (lab.sh source PKG trixie).
func TestUpgrade(t *testing.T) {
	inv := labInventory()
	labUp(t, 3)
	freshHosts(t, inv)
	t.Cleanup(func() { _ = run(t, labInventory(), "uninstall", "--yes") })

	redis8 := labSource(t, "redis")
	valkey := labSource(t, "valkey")
	to8 := inventoryWithBuild(t, inv, "redis8", "redis", "8.0.2", redis8)
	toValkey := inventoryWithBuild(t, inv, "valkey", "valkey", "8.1.1", valkey)

	mustRun(t, inv, "up")
	waitHealthy(t, inv)

	t.Run("redis 8", func(t *testing.T) {
		ids := sentinelIDs(t)
		epoch := configEpoch(t)
		plan := planned(mustRun(t, to8, "plan").stdout)
		for _, h := range labHosts() {
			for _, want := range []string{
				h.Name + ": put Redis 8.0.2 beside Redis 7.0.15 in /usr/local/bin (switched to at each restart)",
				h.Name + ": restart redis_7000 to apply the upgrade from Redis 7.0.15 to Redis 8.0.2",
				h.Name + ": restart sentinel_8000 to apply the upgrade from Redis 7.0.15 to Redis 8.0.2",
			} {
				if !slices.Contains(plan, want) {
					t.Errorf("plan does not list %q:\n  %s", want, strings.Join(plan, "\n  "))
				}
			}
		}
		if t.Failed() {
			t.FailNow()
		}
		w := startWriter(t)
		r := run(t, to8, "up")
		acked, gap, last := w.stop()
		if r.code != 0 {
			t.Fatalf("up to 8.0.2 failed with exit %d", r.code)
		}
		if done := applied(r.stdout); !slices.Equal(plan, done) {
			t.Errorf("plan listed:\n  %s\nup did:\n  %s", strings.Join(plan, "\n  "), strings.Join(done, "\n  "))
		}
		checkUpgraded(t, to8, "redis", "8.0.2", ids, epoch, w, acked, last)
		t.Logf("MEASURE upgrade_redis8 writes_held_s=%s acked=%d longest_gap_s=%.2f up_s=%.1f", heldSeconds(r.stdout+r.stderr), acked, gap.Seconds(), r.took.Seconds())
		if again := mustRun(t, to8, "up"); len(applied(again.stdout)) != 0 {
			t.Errorf("up after the upgrade should change nothing:\n%s", again.stdout)
		}
	})

	t.Run("downgrade refused", func(t *testing.T) {
		before := pids(t)
		for _, cmd := range []string{"plan", "up"} {
			r := run(t, inv, cmd)
			if r.code == 0 || !strings.Contains(r.stderr, "refusing to move from Redis 8.0.2 to Redis 7.0.15") || !strings.Contains(r.stderr, "RDB format 12") {
				t.Errorf("%s back to 7.0.15 should be refused naming the RDB format: exit %d", cmd, r.code)
			}
		}
		if after := pids(t); !mapsEqual(before, after) {
			t.Errorf("a refused downgrade changed processes: before %v, after %v", before, after)
		}
		for _, h := range labHosts() {
			if v := serverVersion(t, addr(h, redisPort)); v != "redis 8.0.2" {
				t.Errorf("%s runs %s after the refused downgrade", h.Name, v)
			}
		}
	})

	t.Run("valkey, interrupted", func(t *testing.T) {
		freshHosts(t, inv)
		mustRun(t, inv, "up")
		waitHealthy(t, inv)
		ids := sentinelIDs(t)
		epoch := configEpoch(t)
		w := startWriter(t)
		// Interrupted once the first replica runs Valkey.
		out, code := runUntil(t, toValkey, regexp.MustCompile(`restarted redis_7000 on Valkey 8\.1\.1`), "up")
		if code == 0 {
			t.Fatalf("the interrupted up exited 0; it should report the interruption:\n%s", out)
		}
		var builds []string
		for _, h := range labHosts() {
			builds = append(builds, serverVersion(t, addr(h, redisPort)))
		}
		if !slices.Contains(builds, "valkey 8.1.1") || !slices.Contains(builds, "redis 7.0.15") {
			t.Fatalf("after the interruption the data nodes run %v; want both builds", builds)
		}
		st := run(t, toValkey, "status")
		if !strings.Contains(st.stdout, "Redis 7.0.15 and Valkey 8.1.1") && !strings.Contains(st.stdout, "Valkey 8.1.1 and Redis 7.0.15") {
			t.Errorf("status does not show both builds:\n%s", st.stdout)
		}
		r := run(t, toValkey, "up")
		acked, gap, last := w.stop()
		if r.code != 0 {
			t.Fatalf("up after the interruption failed with exit %d", r.code)
		}
		checkUpgraded(t, toValkey, "valkey", "8.1.1", ids, epoch, w, acked, last)
		t.Logf("MEASURE upgrade_valkey writes_held_s=%s acked=%d longest_gap_s=%.2f resumed_up_s=%.1f", heldSeconds(r.stdout+r.stderr), acked, gap.Seconds(), r.took.Seconds())
		if again := mustRun(t, toValkey, "up"); len(applied(again.stdout)) != 0 {
			t.Errorf("up after the move to Valkey should change nothing:\n%s", again.stdout)
		}
	})
}

// checkUpgraded checks a finished upgrade: every data node and sentinel
// runs engine version, the cluster is healthy, the master moved exactly
// once, no acknowledged write is missing, and each sentinel kept its id.
func checkUpgraded(t *testing.T, inv, engine, version string, ids map[string]string, epoch int64, w *testWriter, acked, last int) {
	t.Helper()
	want := engine + " " + version
	for _, h := range labHosts() {
		if v := serverVersion(t, addr(h, redisPort)); v != want {
			t.Errorf("%s redis runs %s, want %s", h.Name, v, want)
		}
		if v := serverVersion(t, addr(h, sentinelPort)); v != want {
			t.Errorf("%s sentinel runs %s, want %s", h.Name, v, want)
		}
	}
	waitHealthy(t, inv)
	if e := configEpoch(t); e != epoch+1 {
		t.Errorf("the sentinels' config epoch went from %d to %d; want exactly one failover", epoch, e)
	}
	if got := sentinelIDs(t); !mapsEqual(ids, got) {
		t.Errorf("sentinel ids changed: before %v, after %v", ids, got)
	}
	if acked == 0 || last == 0 {
		t.Fatalf("the writer got %d writes acknowledged, %d in its last two seconds; it should write throughout", acked, last)
	}
	m := currentMaster(t)
	if n := w.missing(t, addr(m, redisPort)); n != 0 {
		t.Errorf("%d of %d acknowledged writes are missing on the master %s", n, acked, m.Name)
	}
}

// freshHosts uninstalls whatever cluster runs and removes the data
// directories uninstall keeps when it did not create them (an earlier test's
// --keep-data, or the Redis 8 data of the subtest before): a 7.0.15 server
// cannot load a Redis 8 RDB file, and refuses to start on one.
func freshHosts(t *testing.T, inv string) {
	t.Helper()
	_ = run(t, inv, "uninstall", "--yes")
	for _, h := range labHosts() {
		if _, err := hostExec(t, h.Name, "rm", "-rf", "/var/lib/redis/7000"); err != nil {
			t.Fatal(err)
		}
	}
}

// labSource is the path of Debian 13's source tarball of pkg.
func labSource(t *testing.T, pkg string) string {
	t.Helper()
	out, err := exec.Command("bash", labScript(), "source", pkg, "trixie").Output()
	if err != nil {
		t.Fatalf("lab.sh source %s trixie: %v", pkg, err)
	}
	p := strings.TrimSpace(string(out))
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("lab.sh source %s trixie: %v", pkg, err)
	}
	return p
}

// inventoryWithBuild writes a copy of inv that asks for engine version
// from tarball.
func inventoryWithBuild(t *testing.T, inv, name, engine, version, tarball string) string {
	t.Helper()
	data, err := os.ReadFile(inv)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := exec.Command("sha256sum", tarball).Output()
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	repl := []struct{ re, to string }{
		{`(?m)^redis:\n`, "redis:\n  engine: " + engine + "\n"},
		{`(?m)^  version: .*$`, fmt.Sprintf("  version: %q", version)},
		{`(?m)^  source: .*$`, "  source: " + tarball},
		{`(?m)^  sha256: .*$`, fmt.Sprintf("  sha256: %q", strings.Fields(string(sum))[0])},
	}
	for _, r := range repl {
		re := regexp.MustCompile(r.re)
		if !re.MatchString(s) {
			t.Fatalf("the lab inventory has no line matching %s", r.re)
		}
		s = re.ReplaceAllLiteralString(s, r.to)
	}
	p := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// serverVersion is what a server says it is in INFO server: "redis 7.0.15"
// or "valkey 8.1.1".
func serverVersion(t testing.TB, address string) string {
	i, err := info(t, address, "server")
	if err != nil {
		return "unreachable: " + err.Error()
	}
	if v := i["valkey_version"]; v != "" {
		return "valkey " + v
	}
	return "redis " + i["redis_version"]
}

// sentinelIDs is each sentinel's SENTINEL MYID.
func sentinelIDs(t testing.TB) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, h := range labHosts() {
		v, err := do(t, addr(h, sentinelPort), "SENTINEL", "MYID")
		if err != nil {
			t.Fatalf("%s: SENTINEL MYID: %v", h.Name, err)
		}
		ids[h.Name] = fmt.Sprint(v)
	}
	return ids
}

// configEpoch is the highest config epoch the sentinels report for the
// master: it goes up by one with each failover.
func configEpoch(t testing.TB) int64 {
	t.Helper()
	var top int64
	for _, h := range labHosts() {
		v, err := do(t, addr(h, sentinelPort), "SENTINEL", "MASTER", masterName)
		if err != nil {
			t.Fatalf("%s: SENTINEL MASTER: %v", h.Name, err)
		}
		e, _ := strconv.ParseInt(pairs(v)["config-epoch"], 10, 64)
		top = max(top, e)
	}
	return top
}

var heldRe = regexp.MustCompile(`writes were held for ([0-9.]+)s`)

// heldSeconds is the time writes were held, as up reported it.
func heldSeconds(out string) string {
	if m := heldRe.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return "none"
}

// runUntil runs redisctl and sends it SIGINT when its output matches re;
// it returns the output and the exit code.
func runUntil(t *testing.T, inv string, re *regexp.Regexp, args ...string) (string, int) {
	t.Helper()
	full := append([]string{"-i", inv, "--cache-dir", cacheDir()}, args...)
	cmd := exec.Command(redisctlBin(t), full...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	var wg sync.WaitGroup
	sent := false
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if !sent && re.MatchString(sc.Text()) {
				sent = true
				_ = cmd.Process.Signal(os.Interrupt)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	go func() {
		<-ctx.Done()
		_ = cmd.Process.Kill()
	}()
	err := cmd.Wait()
	pw.Close()
	wg.Wait()
	t.Logf("redisctl %s (interrupted: %v):\n%s", strings.Join(args, " "), sent, out.String())
	if !sent {
		t.Fatalf("redisctl %s never printed %s", strings.Join(args, " "), re)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return out.String(), code
}
