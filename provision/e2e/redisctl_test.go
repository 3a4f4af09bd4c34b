package e2e

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCluster walks the life of a cluster on the lab, in order: a fresh up,
// a no-change up, status, failover tests in every mode, up after a failover,
// live setting changes, and uninstall. Each step checks the outcome from
// outside redisctl. A failed step stops the walk.
func TestCluster(t *testing.T) {
	inv := labInventory()
	before := upperListings(t)

	steps := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"fresh up reaches the seed's final state", func(t *testing.T) { testFreshUp(t, inv) }},
		{"second up changes nothing", func(t *testing.T) { testNoChangeUp(t, inv) }},
		{"status on a healthy cluster", func(t *testing.T) { testStatusHealthy(t, inv) }},
		{"a stopped sentinel degrades status and blocks failover-test", func(t *testing.T) { testStoppedSentinel(t, inv) }},
		{"failover-test --mode stop", func(t *testing.T) { testFailover(t, inv, "stop") }},
		{"failover-test --mode kill", func(t *testing.T) { testFailover(t, inv, "kill") }},
		{"failover-test --mode pause", func(t *testing.T) { testFailover(t, inv, "pause") }},
		{"failover-test --mode manual", func(t *testing.T) { testFailover(t, inv, "manual") }},
		{"up after a failover keeps the live master and sentinel state", func(t *testing.T) { testUpAfterFailover(t, inv) }},
		{"changed settings are applied live", func(t *testing.T) { testLiveSettings(t, inv) }},
		{"a setting that needs a restart gets a rolling restart with one failover", func(t *testing.T) { testRollingRestart(t, inv) }},
		{"rotate-password --user default under a writer, with no restart", func(t *testing.T) {
			testRotateClusterPassword(t, inv, filepath.Join(labState(), "redis.password"), true)
		}},
		{"uninstall refuses without a terminal or --yes", func(t *testing.T) { testUninstallRefuses(t, inv) }},
		{"uninstall --backup removes everything up created", func(t *testing.T) { testUninstall(t, inv, before) }},
		{"up after uninstall; uninstall keeps what was not ours", func(t *testing.T) { testUninstallKeeps(t, inv) }},
		{"uninstall with a host down does the rest and finishes later", func(t *testing.T) { testUninstallHostDown(t, inv) }},
		{"a fourth host added to the inventory joins as a replica", func(t *testing.T) { testAddHost(t, inv) }},
		{"a password with # $ and a backslash survives up, restarts and a failover", func(t *testing.T) { testTrickyPassword(t, inv) }},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.fn) {
			t.Fatalf("step %q failed; later steps depend on it", s.name)
		}
	}
}

func testFreshUp(t *testing.T, inv string) {
	sampler := sampleCmdlines()
	r := run(t, inv, "up")
	samples, distinct, leaks := sampler.finish(password(t))
	if r.code != 0 {
		t.Fatalf("up failed: exit %d", r.code)
	}
	t.Logf("MEASURE fresh up wall time: %s", r.took.Round(100*time.Millisecond))
	t.Logf("sampled process command lines and environments %d times (%d distinct)", samples, distinct)
	if samples < 10 {
		t.Fatalf("only %d samples of the process table; the leak check proves nothing", samples)
	}
	if len(leaks) > 0 {
		t.Fatalf("the password appeared in %d process command lines or environments, e.g. %q", len(leaks), leaks[0])
	}
	if strings.Contains(r.stdout+r.stderr, password(t)) {
		t.Fatal("the password appeared in redisctl's output")
	}
	checkSeedState(t, hostByName(t, "node1"))
	// Services run as the redis user, never root.
	for _, h := range labHosts() {
		out, err := hostExec(t, h.Name, "ps", "-o", "user=,args=", "-C", "redis-server")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(out, "\n")
		if len(lines) != 2 {
			t.Fatalf("%s: want a redis-server and a sentinel, ps shows:\n%s", h.Name, out)
		}
		for _, l := range lines {
			if !strings.HasPrefix(l, "redis ") {
				t.Errorf("%s: process not run by the redis user: %s", h.Name, l)
			}
		}
	}
}

func testNoChangeUp(t *testing.T, inv string) {
	before := pids(t)
	r := mustRun(t, inv, "up")
	t.Logf("MEASURE no-change up wall time: %s", r.took.Round(10*time.Millisecond))
	if !strings.Contains(r.stdout, "up: 0 changed") {
		t.Fatalf("a second up should change nothing; it said:\n%s", r.stdout)
	}
	if after := pids(t); !mapsEqual(before, after) {
		t.Fatalf("a second up restarted processes: before %v, after %v", before, after)
	}
}

func testStatusHealthy(t *testing.T, inv string) {
	d, r := status(t, inv)
	if r.code != 0 || d.Verdict != "healthy" || d.Master != "node1" || len(d.Problems) != 0 {
		t.Fatalf("status: exit %d, verdict %q, master %q, problems %v", r.code, d.Verdict, d.Master, d.Problems)
	}
	tr := mustRun(t, inv, "status")
	for _, line := range strings.Split(tr.stdout, "\n") {
		if len(line) > 80 && !strings.HasPrefix(line, "  ") {
			t.Errorf("status table line wider than 80 columns (%d): %q", len(line), line)
		}
	}
}

func testStoppedSentinel(t *testing.T, inv string) {
	if _, err := hostExec(t, "node3", service("sentinel_8000", "stop")...); err != nil {
		t.Fatal(err)
	}
	d, r := status(t, inv)
	if r.code != 3 || d.Verdict != "degraded" {
		t.Fatalf("with a sentinel stopped, status should exit 3 (degraded); got %d, %q", r.code, d.Verdict)
	}
	if !hasProblem(d, "node3", "sentinel is not answering") {
		t.Fatalf("status does not name node3's sentinel: %+v", d.Problems)
	}
	master := currentMaster(t)
	fr := run(t, inv, "failover-test")
	if fr.code == 0 || !strings.Contains(fr.stderr, "refusing") {
		t.Fatalf("failover-test should refuse on a degraded cluster; exit %d", fr.code)
	}
	if m := currentMaster(t); m != master {
		t.Fatalf("a refused failover-test changed the master from %s to %s", master.Name, m.Name)
	}
	r = mustRun(t, inv, "up")
	if !strings.Contains(r.stdout, "changed: node3: start sentinel_8000") {
		t.Fatalf("up should have started node3's sentinel:\n%s", r.stdout)
	}
	checkSeedState(t, master)
}

// waitHealthy waits (30 s at most) until redisctl status says healthy.
func waitHealthy(t *testing.T, inv string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, r := status(t, inv)
		if r.code == 0 && d.Verdict == "healthy" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster did not become healthy: %+v", d.Problems)
		}
		time.Sleep(time.Second)
	}
}

func hasProblem(d statusDoc, host, text string) bool {
	for _, p := range d.Problems {
		if p.Host == host && strings.Contains(p.Message, text) {
			return true
		}
	}
	return false
}

type failoverDoc struct {
	OldMaster   string   `json:"old_master"`
	NewMaster   string   `json:"new_master"`
	Detection   *float64 `json:"detection_seconds"` // absent when no +sdown was seen (manual)
	Promotion   float64  `json:"promotion_seconds"`
	Agreement   float64  `json:"agreement_seconds"`
	Unwritable  float64  `json:"unwritable_seconds"`
	Acked       int      `json:"writes_acknowledged"`
	Missing     int      `json:"acknowledged_writes_missing"`
	Restored    bool     `json:"old_master_restored"`
	Final       string   `json:"final_verdict"`
	FinalIssues []string `json:"final_problems"`
}

func testFailover(t *testing.T, inv, mode string) {
	old := currentMaster(t)
	r := run(t, inv, "failover-test", "--mode", mode, "-o", "json")
	if r.code != 0 {
		t.Fatalf("failover-test --mode %s failed: exit %d", mode, r.code)
	}
	var d failoverDoc
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("failover-test -o json: %v\n%s", err, r.stdout)
	}
	detection := "none (no failure to detect)"
	if d.Detection != nil {
		detection = fmt.Sprintf("%.2fs", *d.Detection)
	}
	t.Logf("MEASURE failover-test --mode %s: detection %s, promotion %.2fs, all sentinels agree %.2fs, no writable master for %.2fs, %d writes acknowledged, %d missing",
		mode, detection, d.Promotion, d.Agreement, d.Unwritable, d.Acked, d.Missing)
	nm := currentMaster(t)
	if nm == old {
		t.Fatalf("the master is still %s after failover-test --mode %s", old.Name, mode)
	}
	if d.OldMaster != old.Name || d.NewMaster != nm.Name {
		t.Fatalf("report says %s -> %s, the sentinels say %s -> %s", d.OldMaster, d.NewMaster, old.Name, nm.Name)
	}
	if d.Acked < 50 {
		t.Fatalf("only %d acknowledged writes: the writer did not run", d.Acked)
	}
	if mode == "manual" && d.Missing != 0 {
		t.Fatalf("a graceful failover lost %d acknowledged writes", d.Missing)
	}
	// The old master is back, as a replica of the new one; every sentinel agrees.
	checkSeedState(t, nm)
}

func testUpAfterFailover(t *testing.T, inv string) {
	old := currentMaster(t)
	mustRun(t, inv, "failover-test", "--mode", "kill", "--no-restore")
	nm := currentMaster(t)
	if nm == old {
		t.Fatal("no failover happened")
	}
	d, sr := status(t, inv)
	if sr.code != 3 || !hasProblem(d, old.Name, "redis is not answering") {
		t.Fatalf("status with the old master down: exit %d, problems %+v", sr.code, d.Problems)
	}
	// Restart the old master by hand with its old config: it comes back
	// believing it is a master.
	if _, err := hostExec(t, old.Name, service("redis_7000", "start")...); err != nil {
		t.Fatal(err)
	}
	ids := sentinelState(t)
	before := pids(t)
	// The inventory names the old master as master, as an operator's
	// inventory would after a failover nobody edited it for.
	r := mustRun(t, inventoryWithMaster(t, inv, old.Name), "up")
	if !strings.Contains(r.stderr, "keeping "+nm.Name) {
		t.Errorf("up should say it keeps the live master %s:\n%s", nm.Name, r.stderr)
	}
	checkSeedState(t, nm)
	masters := 0
	for _, h := range labHosts() {
		m, err := info(t, addr(h, redisPort), "replication")
		if err != nil {
			t.Fatal(err)
		}
		if m["role"] == "master" {
			masters++
		}
	}
	if masters != 1 {
		t.Fatalf("%d masters after up", masters)
	}
	if after := sentinelState(t); !mapsEqual(ids, after) {
		t.Fatalf("sentinel identities or epochs changed: before %v after %v", ids, after)
	}
	if after := pids(t); !mapsEqual(before, after) {
		t.Fatalf("up restarted processes: before %v after %v", before, after)
	}
}

// inventoryWithMaster writes a copy of the lab inventory naming host as the
// master and every other host a replica.
func inventoryWithMaster(t *testing.T, inv, host string) string {
	data, err := os.ReadFile(inv)
	if err != nil {
		t.Fatal(err)
	}
	role := regexp.MustCompile(`(?m)^(\s*- \{name: (\S+), .*role: )(master|replica)\}`)
	out := role.ReplaceAllStringFunc(string(data), func(line string) string {
		m := role.FindStringSubmatch(line)
		want := "replica"
		if m[2] == host {
			want = "master"
		}
		return m[1] + want + "}"
	})
	if !strings.Contains(out, "{name: "+host+", ") || strings.Count(out, "role: master") != 1 {
		t.Fatalf("could not make %s the master in:\n%s", host, out)
	}
	p := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(p, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// sentinelState returns every sentinel's myid and current epoch, read from
// its config file on the host.
func sentinelState(t *testing.T) map[string]string {
	out := map[string]string{}
	for _, h := range labHosts() {
		conf, err := hostExec(t, h.Name, "cat", "/etc/redis/sentinel_8000.conf")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(conf, "\n") {
			if strings.HasPrefix(l, "sentinel myid ") || strings.HasPrefix(l, "sentinel current-epoch ") {
				out[h.Name+" "+l[:strings.LastIndex(l, " ")]] = l[strings.LastIndex(l, " ")+1:]
			}
		}
	}
	if len(out) != 2*len(labHosts()) {
		t.Fatalf("not every sentinel config has a myid and a current-epoch: %v", out)
	}
	return out
}

func testLiveSettings(t *testing.T, inv string) {
	data, err := os.ReadFile(inv)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(data), "down_after_ms: 2000", "down_after_ms: 3000", 1)
	s = strings.Replace(s, "  port: 7000\n", "  port: 7000\n  config:\n    maxmemory: 64mb\n", 1)
	if s == string(data) || !strings.Contains(s, "down_after_ms: 3000") || !strings.Contains(s, "maxmemory") {
		t.Fatalf("could not edit the lab inventory:\n%s", data)
	}
	edited := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(edited, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	before := pids(t)
	if p := mustRun(t, inv, "plan"); !strings.Contains(p.stdout, "plan: nothing to do") {
		t.Fatalf("plan on an unchanged cluster should say nothing to do:\n%s", p.stdout)
	}
	plan := planned(mustRun(t, edited, "plan").stdout)
	if len(plan) == 0 {
		t.Fatal("plan lists no change after the inventory was edited")
	}
	if after := pids(t); !mapsEqual(before, after) {
		t.Fatalf("plan changed processes")
	}
	done := applied(mustRun(t, edited, "up").stdout)
	if !slices.Equal(plan, done) {
		t.Fatalf("plan listed:\n  %s\nup did:\n  %s", strings.Join(plan, "\n  "), strings.Join(done, "\n  "))
	}
	if after := pids(t); !mapsEqual(before, after) {
		t.Fatalf("changing settings restarted processes: before %v after %v", before, after)
	}
	m := currentMaster(t)
	for _, h := range labHosts() {
		v, err := do(t, addr(h, sentinelPort), "SENTINEL", "MASTER", masterName)
		if err != nil {
			t.Fatal(err)
		}
		if got := pairs(v)["down-after-milliseconds"]; got != "3000" {
			t.Errorf("%s sentinel: down-after-milliseconds %s, want 3000", h.Name, got)
		}
		mm, err := do(t, addr(h, redisPort), "CONFIG", "GET", "maxmemory")
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(mm) != "map[maxmemory:67108864]" && fmt.Sprint(mm) != "[maxmemory 67108864]" {
			t.Errorf("%s: CONFIG GET maxmemory = %v", h.Name, mm)
		}
		sc, _ := hostExec(t, h.Name, "cat", "/etc/redis/sentinel_8000.conf")
		if !strings.Contains(sc, "sentinel down-after-milliseconds mymaster 3000") {
			t.Errorf("%s: sentinel config on disk lacks the new down-after:\n%s", h.Name, sc)
		}
		rc, _ := hostExec(t, h.Name, "cat", "/etc/redis/redis_7000.conf")
		if !regexp.MustCompile(`(?m)^maxmemory (64mb|67108864)$`).MatchString(rc) {
			t.Errorf("%s: redis config on disk lacks maxmemory:\n%s", h.Name, rc)
		}
	}
	checkSeedState(t, m)
	// Running up again with the edited inventory changes nothing more.
	r := mustRun(t, edited, "up")
	if !strings.Contains(r.stdout, "up: 0 changed") {
		t.Fatalf("up after applying settings should change nothing:\n%s", r.stdout)
	}
	// Back to the lab's settings, live again, so later steps see the lab inventory.
	mustRun(t, inv, "up")
}

// planned returns the changes redisctl plan lists, sorted.
func planned(out string) []string {
	var l []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "      ") {
			l = append(l, strings.TrimSpace(line))
		}
	}
	slices.Sort(l)
	return l
}

// applied returns the changes redisctl up reports, sorted.
func applied(out string) []string {
	var l []string
	for _, line := range strings.Split(out, "\n") {
		if c, ok := strings.CutPrefix(line, "  changed: "); ok {
			l = append(l, c)
		}
	}
	slices.Sort(l)
	return l
}

func pairs(v any) map[string]string {
	out := map[string]string{}
	switch l := v.(type) {
	case []any:
		for i := 0; i+1 < len(l); i += 2 {
			out[fmt.Sprint(l[i])] = fmt.Sprint(l[i+1])
		}
	case map[any]any:
		for k, x := range l {
			out[fmt.Sprint(k)] = fmt.Sprint(x)
		}
	}
	return out
}

func testRollingRestart(t *testing.T, inv string) {
	data, err := os.ReadFile(inv)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(data), "  port: 7000\n", "  port: 7000\n  config:\n    databases: 32\n", 1)
	edited := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(edited, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	old := currentMaster(t)
	before := pids(t)
	plan := planned(mustRun(t, edited, "plan").stdout)
	if !slices.Contains(plan, old.Name+": fail over away from "+old.Name+" with SENTINEL FAILOVER, to restart it") {
		t.Fatalf("plan does not list the failover away from %s:\n  %s", old.Name, strings.Join(plan, "\n  "))
	}

	w := startWriter(t)
	r := mustRun(t, edited, "up")
	acked, gap, afterUp := w.stop()
	t.Logf("MEASURE rolling restart: up took %s; the test's writer had %d writes acknowledged, longest gap %s", r.took.Round(100*time.Millisecond), acked, gap.Round(10*time.Millisecond))
	if afterUp == 0 {
		t.Fatal("the writer could not write once up had finished")
	}
	if !strings.Contains(r.stdout, "note: writes were held for") {
		t.Errorf("up should report how long writes were held during the failover:\n%s", r.stdout)
	}
	if done := applied(r.stdout); !slices.Equal(plan, done) {
		t.Fatalf("plan listed:\n  %s\nup did:\n  %s", strings.Join(plan, "\n  "), strings.Join(done, "\n  "))
	}
	nm := currentMaster(t)
	if nm == old {
		t.Fatalf("the master is still %s: no failover happened", old.Name)
	}
	checkSeedState(t, nm)
	after := pids(t)
	for _, h := range labHosts() {
		if before[h.Name+"/redis"] == after[h.Name+"/redis"] {
			t.Errorf("%s: redis was not restarted (pid %s)", h.Name, after[h.Name+"/redis"])
		}
		if before[h.Name+"/sentinel"] != after[h.Name+"/sentinel"] {
			t.Errorf("%s: the sentinel was restarted", h.Name)
		}
		v, err := do(t, addr(h, redisPort), "CONFIG", "GET", "databases")
		if err != nil || !strings.Contains(fmt.Sprint(v), "32") {
			t.Errorf("%s: CONFIG GET databases = %v, %v", h.Name, v, err)
		}
	}
	if r := mustRun(t, edited, "up"); !strings.Contains(r.stdout, "up: 0 changed") {
		t.Fatalf("up after the rolling restart should change nothing:\n%s", r.stdout)
	}
}

func testUninstallRefuses(t *testing.T, inv string) {
	before := pids(t)
	r := run(t, inv, "uninstall")
	if r.code == 0 || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("uninstall without a terminal or --yes should refuse: exit %d", r.code)
	}
	if after := pids(t); !mapsEqual(before, after) {
		t.Fatalf("a refused uninstall changed processes")
	}
	checkSeedState(t, currentMaster(t))
}

func testUninstall(t *testing.T, inv string, before map[string][]string) {
	m := currentMaster(t)
	for i := 0; i < 100; i++ {
		if _, err := do(t, addr(m, redisPort), "SET", "e2e:backup:"+strconv.Itoa(i), strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	backups := t.TempDir()
	r := mustRun(t, inv, "uninstall", "--yes", "--backup", backups)
	for _, h := range labHosts() {
		if out, _ := hostExec(t, h.Name, "sh", "-c", "pgrep -a redis-server || true"); out != "" {
			t.Errorf("%s: redis processes left: %s", h.Name, out)
		}
		if out, _ := hostExec(t, h.Name, "sh", "-c", "ss -Hltn '( sport = :7000 or sport = :8000 )'"); out != "" {
			t.Errorf("%s: ports still taken: %s", h.Name, out)
		}
	}
	after := upperListings(t)
	for host, files := range after {
		var extra []string
		for _, f := range files {
			if !slices.Contains(before[host], f) {
				extra = append(extra, f)
			}
		}
		if len(extra) > 0 {
			t.Errorf("%s: files left behind by up that uninstall did not remove:\n  %s", host, strings.Join(extra, "\n  "))
		}
	}
	rdbs, _ := filepath.Glob(filepath.Join(backups, "*.rdb"))
	if len(rdbs) != 1 || !strings.Contains(r.stdout, rdbs[0]) {
		t.Fatalf("want one backup RDB in %s named in the output, found %v", backups, rdbs)
	}
	loadBackup(t, rdbs[0])
}

// loadBackup starts a redis-server (the one redisctl built) on the backup
// RDB on loopback and checks the keys written before the uninstall.
func loadBackup(t *testing.T, rdb string) {
	servers, _ := filepath.Glob(filepath.Join(cacheDir(), "builds", "*", "redis-server"))
	if len(servers) == 0 {
		t.Fatalf("no redis-server in %s/builds to load the backup with", cacheDir())
	}
	dir := t.TempDir()
	data, err := os.ReadFile(rdb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dump.rdb"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := exec.Command(servers[0], "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--dbfilename", "dump.rdb", "--save", "", "--requirepass", password(t))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	address := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := do(t, address, "GET", "e2e:backup:42")
		if err == nil {
			if fmt.Sprint(v) != "42" {
				t.Fatalf("backup: e2e:backup:42 = %v", v)
			}
			n, _ := do(t, address, "DBSIZE")
			t.Logf("the backup loads: %v keys", n)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cannot read the backup with redis-server: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func testUninstallKeeps(t *testing.T, inv string) {
	// Something of the operator's in /etc/redis on node1, and a redis user
	// that existed before on node2.
	if _, err := hostExec(t, "node1", "sh", "-c", "mkdir -p /etc/redis && echo mine > /etc/redis/operator-notes.txt"); err != nil {
		t.Fatal(err)
	}
	// The machine's own root may have one already (Debian's redis-tools
	// makes it), which every SysV host then inherits.
	if _, err := hostExec(t, "node2", "sh", "-c", "id -u redis >/dev/null 2>&1 || useradd --system -U redis"); err != nil {
		t.Fatal(err)
	}
	mustRun(t, inv, "up")
	checkSeedState(t, hostByName(t, "node1"))
	if _, err := do(t, addr(hostByName(t, "node1"), redisPort), "SAVE"); err != nil {
		t.Fatal(err)
	}
	mustRun(t, inv, "uninstall", "--yes", "--keep-data")
	if out, err := hostExec(t, "node1", "cat", "/etc/redis/operator-notes.txt"); err != nil || out != "mine" {
		t.Errorf("the operator's file in /etc/redis did not survive: %q %v", out, err)
	}
	if _, err := hostExec(t, "node2", "id", "-u", "redis"); err != nil {
		t.Errorf("the redis user that existed before up was removed from node2: %v", err)
	}
	if _, err := hostExec(t, "node3", "id", "-u", "redis"); err == nil && !lowerHasUser(hostByName(t, "node3"), "redis") {
		t.Errorf("the redis user up created on node3 is still there")
	}
	if out, err := hostExec(t, "node1", "ls", "/var/lib/redis/7000"); err != nil || !strings.Contains(out, "dump.rdb") {
		t.Errorf("--keep-data should keep /var/lib/redis/7000 with its RDB: %q %v", out, err)
	}
	// Running uninstall again is safe.
	mustRun(t, inv, "uninstall", "--yes")
}

func testUninstallHostDown(t *testing.T, inv string) {
	mustRun(t, inv, "up")
	pid, err := hostPID("node3")
	if err != nil {
		t.Fatal(err)
	}
	// sshd (or systemd) is PID 1 of node3's PID namespace: killing it ends
	// the whole host. The kill takes effect a moment later: wait until the
	// host no longer answers, so that it is down, not dying, when
	// uninstall connects.
	if err := exec.Command("kill", "-KILL", strconv.Itoa(pid)).Run(); err != nil {
		t.Fatal(err)
	}
	node3 := hostByName(t, "node3")
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", node3.Addr+":22", 500*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if i > 100 {
			t.Fatal("node3 still answers on port 22 after SIGKILL to its PID 1")
		}
		time.Sleep(100 * time.Millisecond)
	}
	r := run(t, inv, "uninstall", "--yes")
	if r.code == 0 || !strings.Contains(r.stderr, "node3: unreachable") {
		t.Fatalf("uninstall with node3 down should fail naming node3: exit %d", r.code)
	}
	for _, h := range []string{"node1", "node2"} {
		if out, _ := hostExec(t, h, "sh", "-c", "pgrep -a redis-server; ls /etc/redis/redis_7000.conf /usr/local/bin/redis-server 2>/dev/null; true"); out != "" {
			t.Errorf("%s was not uninstalled while node3 was down: %s", h, out)
		}
	}
	labUp(t, 3) // node3 comes back with its disk as it was
	if out, _ := hostExec(t, "node3", "ls", "/etc/redis"); !strings.Contains(out, "redis_7000.conf") {
		t.Fatalf("node3 came back without its files (%q); the test proves nothing", out)
	}
	mustRun(t, inv, "uninstall", "--yes")
	for _, p := range []string{"/etc/redis", "/usr/local/bin/redis-server", "/var/lib/redisctl"} {
		if _, err := os.Lstat(filepath.Join(lowerRoot(hostByName(t, "node3")), p)); err == nil {
			continue // there before (Debian's redis-tools makes /etc/redis): kept
		}
		if out, _ := hostExec(t, "node3", "sh", "-c", "ls -d "+p+" 2>/dev/null; true"); out != "" {
			t.Errorf("a second uninstall left %s on node3", out)
		}
	}
}

func testAddHost(t *testing.T, inv string) {
	mustRun(t, inv, "up")
	master := currentMaster(t)
	three, err := os.ReadFile(inv)
	if err != nil {
		t.Fatal(err)
	}
	labUp(t, 4) // node4 joins the lab and the lab's inventory
	if n := len(labHosts()); n != 4 {
		t.Fatalf("the lab inventory lists %d hosts, want 4", n)
	}
	before := pidsOf(t, labHosts()[:3]) // node4 runs no Redis yet
	plan := planned(mustRun(t, inv, "plan").stdout)
	for _, p := range plan {
		// The others only learn, live, that a sync can wait for 3
		// replicas now (repl-diskless-sync-max-replicas).
		live := strings.HasSuffix(p, ": live: CONFIG SET repl-diskless-sync-max-replicas 3") || strings.HasSuffix(p, ": live: CONFIG REWRITE")
		if !strings.HasPrefix(p, "node4: ") && !live {
			t.Errorf("adding node4 should change nothing else on the other hosts; plan: %s", p)
		}
	}
	r := mustRun(t, inv, "up")
	if done := applied(r.stdout); !slices.Equal(plan, done) {
		t.Fatalf("plan listed:\n  %s\nup did:\n  %s", strings.Join(plan, "\n  "), strings.Join(done, "\n  "))
	}
	checkSeedState(t, master) // 3 replicas online, every sentinel sees 3 replicas and 4 sentinels
	for k, v := range before {
		if now := pids(t)[k]; now != v {
			t.Errorf("%s restarted while node4 joined (pid %s -> %s)", k, v, now)
		}
	}
	if d, sr := status(t, inv); sr.code != 0 || d.Verdict != "healthy" {
		t.Fatalf("status after adding node4: exit %d, %+v", sr.code, d.Problems)
	}

	// Taking node4 out of the inventory again: plan lists its removal and
	// changes nothing (TestRemoveHost removes hosts).
	without := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(without, three, 0o600); err != nil {
		t.Fatal(err)
	}
	before = pids(t)
	plan = planned(mustRun(t, without, "plan").stdout)
	for _, want := range []string{"stop sentinel_8000", "stop redis_7000", "SENTINEL RESET " + masterName} {
		if !slices.ContainsFunc(plan, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("plan without node4 does not list %q: %s", want, strings.Join(plan, "\n  "))
		}
	}
	if after := pids(t); !mapsEqual(before, after) {
		t.Fatalf("plan changed processes")
	}
	checkSeedState(t, master)
}

func testTrickyPassword(t *testing.T, inv string) {
	mustRun(t, inv, "uninstall", "--yes")
	const pw = `p@ss#$\x%&*!;w0rd`
	t.Setenv("E2E_PASSWORD", pw) // password(t) and redisctl both read it
	data, err := os.ReadFile(inv)
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`(?m)^  password_file: .*$`).ReplaceAllLiteralString(string(data), "  password: ${E2E_PASSWORD}")
	if !strings.Contains(s, "${E2E_PASSWORD}") {
		t.Fatalf("could not set the password in the inventory:\n%s", data)
	}
	edited := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(edited, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	sampler := sampleCmdlines()
	r := mustRun(t, edited, "up")
	_, _, leaks := sampler.finish(pw)
	if len(leaks) > 0 || strings.Contains(r.stdout+r.stderr, pw) {
		t.Fatalf("the password leaked: %q", leaks)
	}
	master := currentMaster(t)
	checkSeedState(t, master)
	// Sentinel rewrote its config at its first start; a restart reads it back.
	if _, err := hostExec(t, "node2", service("sentinel_8000", "restart")...); err != nil {
		t.Fatal(err)
	}
	checkSeedState(t, master)
	waitHealthy(t, edited) // the other sentinels reconnect to node2's
	mustRun(t, edited, "failover-test", "--mode", "kill")
	checkSeedState(t, currentMaster(t))
	if r := mustRun(t, edited, "up"); !strings.Contains(r.stdout, "up: 0 changed") {
		t.Fatalf("up after the failover should change nothing:\n%s", r.stdout)
	}
	// Another password in the inventory (the stored one again) is
	// rotated to live: the old one is read from the hosts.
	before := pids(t)
	r = mustRun(t, inv, "up")
	if !strings.Contains(r.stderr, "still use the previous cluster password") ||
		!strings.Contains(r.stdout, "remove the old password of the cluster password") {
		t.Fatalf("up with another password should rotate to it:\n%s\n%s", r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, pw) {
		t.Fatal("the old password appeared in redisctl's output")
	}
	t.Setenv("E2E_PASSWORD", "") // password(t) reads the stored one again
	if after := pids(t); !mapsEqual(before, after) {
		t.Fatal("the rotation restarted processes")
	}
	waitHealthy(t, inv)
	ctx, cancel := ctx5()
	defer cancel()
	for _, port := range []int{redisPort, sentinelPort} {
		cl := userClient(addr(hostByName(t, "node2"), port), "", pw)
		if err := cl.Ping(ctx).Err(); err == nil {
			t.Errorf("node2:%d still takes the old password", port)
		}
		cl.Close()
	}
	if r := mustRun(t, inv, "up"); !strings.Contains(r.stdout, "up: 0 changed") {
		t.Fatalf("up after the rotation should change nothing:\n%s", r.stdout)
	}
}

// upperListings lists, per host, the paths in the host's copy-on-write
// layer: everything the host has written since the lab was made (deleted
// files show as whiteouts). Paths that change with every login, and
// directories of the machine's root that were only copied up, are left out.
func upperListings(t *testing.T) map[string][]string {
	out := map[string][]string{}
	// On hosts that boot systemd, its journal and state and the services'
	// private /tmp directories come and go too.
	noise := regexp.MustCompile(`^(var/log/(wtmp|btmp|lastlog|sshd.*)|var/lib/sudo(/.*)?|root/\.cache(/.*)?|home/deploy/\.cache(/.*)?|var/cache(/.*)?|var/log/journal(/.*)?|var/lib/systemd(/.*)?|tmp(/.*)?|var/tmp(/.*)?)$`)
	for _, h := range labHosts() {
		upper := filepath.Join(labState(), "hosts", h.Name, "upper")
		lower := lowerRoot(h)
		var files []string
		err := filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(upper, p)
			if rel == "." || noise.MatchString(rel) {
				return nil
			}
			// A directory of the machine's own root is only copied up
			// because something below it changed.
			if d.IsDir() {
				if st, err := os.Stat(filepath.Join(lower, rel)); err == nil && st.IsDir() {
					return nil
				}
			}
			files = append(files, rel)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", h.Name, err)
		}
		out[h.Name] = files
	}
	return out
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
