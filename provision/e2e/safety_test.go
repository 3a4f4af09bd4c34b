package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSafety proves the hardening of issue 9 on the lab: root never acts
// through a link the redis account planted, failover-test signals only the
// process the server itself names, up never starts a master that would roll
// the data back, two runs on one cluster exclude each other, and two
// clusters on the same hosts are independent. Each scenario starts from a
// healthy three-host cluster that up made, so one failure does not hide
// the others.
func TestSafety(t *testing.T) {
	// Whatever an earlier test left (four hosts, another password), start
	// from nothing: uninstall with the inventory as it is, then three hosts.
	_ = run(t, labInventory(), "uninstall", "--yes")
	labUp(t, 3)
	inv := labInventory()

	scenarios := []struct {
		name string
		fn   func(t *testing.T, inv string)
	}{
		{"root never follows a link the redis account planted", testPlantedLinks},
		{"failover-test signals only the pid the server reports", testPlantedPidFile},
		{"up never starts a stale master", testStaleMaster},
		{"a second run on the same cluster is refused; a dead run's lock is taken over", testRunLock},
		{"two clusters on the same hosts are independent", testTwoClusters},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			mustRun(t, inv, "up")
			waitHealthy(t, inv)
			s.fn(t, inv)
		})
	}
}

// replicaHost returns a host that is not the current master.
func replicaHost(t *testing.T) labHost {
	m := currentMaster(t)
	for _, h := range labHosts() {
		if h != m {
			return h
		}
	}
	t.Fatal("no replica")
	return labHost{}
}

func testPlantedLinks(t *testing.T, inv string) {
	h := replicaHost(t)
	statOf := func(p string) string {
		out, err := hostExec(t, h.Name, "stat", "-c", "%U:%G %a", p)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	// The data directory replaced by a link to a directory root owns.
	initd := statOf("/etc/init.d")
	if _, err := hostExec(t, h.Name, "sh", "-c", "mv /var/lib/redis/7000 /var/lib/redis/7000.moved && ln -s /etc/init.d /var/lib/redis/7000"); err != nil {
		t.Fatal(err)
	}
	r := run(t, inv, "up")
	if _, err := hostExec(t, h.Name, "sh", "-c", "rm /var/lib/redis/7000 && mv /var/lib/redis/7000.moved /var/lib/redis/7000"); err != nil {
		t.Fatal(err)
	}
	if r.code == 0 || !strings.Contains(r.stderr, "/var/lib/redis/7000 is a symbolic link") {
		t.Errorf("up with a planted data-directory link: exit %d, and it did not name the link", r.code)
	}
	if now := statOf("/etc/init.d"); now != initd {
		t.Errorf("/etc/init.d changed from %s to %s", initd, now)
	}

	// The config file replaced by a link to a file only root may read.
	shadow := statOf("/etc/shadow")
	sum, _ := hostExec(t, h.Name, "sha256sum", "/etc/shadow")
	if _, err := hostExec(t, h.Name, "sh", "-c", "mv /etc/redis/redis_7000.conf /etc/redis/redis_7000.conf.moved && ln -s /etc/shadow /etc/redis/redis_7000.conf"); err != nil {
		t.Fatal(err)
	}
	r = run(t, inv, "up")
	// Regular files only: the planted link itself leads to /etc/shadow.
	leaked, _ := hostExec(t, h.Name, "sh", "-c", "find /etc/redis -type f -exec grep -l '^root:' {} + 2>/dev/null; true")
	if _, err := hostExec(t, h.Name, "test", "-L", "/etc/redis/redis_7000.conf"); err != nil {
		t.Errorf("up replaced the planted link instead of refusing it")
	}
	if _, err := hostExec(t, h.Name, "sh", "-c", "rm -f /etc/redis/redis_7000.conf && mv /etc/redis/redis_7000.conf.moved /etc/redis/redis_7000.conf"); err != nil {
		t.Fatal(err)
	}
	if r.code == 0 || !strings.Contains(r.stderr, "/etc/redis/redis_7000.conf is a symbolic link") {
		t.Errorf("up with a planted config link: exit %d, and it did not name the link", r.code)
	}
	if leaked != "" {
		t.Errorf("/etc/shadow's content was copied into %s", leaked)
	}
	if now, nowSum := statOf("/etc/shadow"), must(hostExec(t, h.Name, "sha256sum", "/etc/shadow")); now != shadow || nowSum != sum {
		t.Errorf("/etc/shadow changed: %s -> %s", shadow, now)
	}

	// With the links gone, up goes through and changes nothing.
	if r := mustRun(t, inv, "up"); !strings.Contains(r.stdout, "up: 0 changed") {
		t.Errorf("up after removing the links changed something:\n%s", r.stdout)
	}
	// The parent of the data directories is root's when redisctl made it:
	// the redis account cannot swap the directories in it. One that was
	// there before (Debian's redis-tools makes /var/lib/redis, owned by
	// redis) is left as it is, and root does nothing inside it (above).
	if _, err := os.Stat(filepath.Join(lowerRoot(h), "var", "lib", "redis")); err == nil {
		t.Logf("/var/lib/redis was there before (%s): kept as it is", statOf("/var/lib/redis"))
		return
	}
	if got := statOf("/var/lib/redis"); got != "root:root 755" {
		t.Errorf("/var/lib/redis is %s, want root:root 755", got)
	}
	if out, err := hostExec(t, h.Name, "runuser", "-u", "redis", "--", "sh", "-c", "mv /var/lib/redis/7000 /var/lib/redis/x 2>&1"); err == nil {
		t.Errorf("the redis account could move its data directory: %s", out)
	}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

func testPlantedPidFile(t *testing.T, inv string) {
	m := currentMaster(t)
	real, err := hostExec(t, m.Name, "cat", "/var/run/redis/redis_7000.pid")
	if err != nil {
		t.Fatal(err)
	}
	si, err := info(t, addr(m, sentinelPort), "server")
	if err != nil {
		t.Fatal(err)
	}
	sentinelPid := si["process_id"]
	// The pid directory belongs to redis: it can name any process there,
	// here its own sentinel, whose executable is redis-server too.
	for _, mode := range []string{"kill", "pause"} {
		if _, err := hostExec(t, m.Name, "sh", "-c", "echo "+sentinelPid+" > /var/run/redis/redis_7000.pid"); err != nil {
			t.Fatal(err)
		}
		r := run(t, inv, "failover-test", "--mode", mode)
		if _, err := hostExec(t, m.Name, "sh", "-c", "echo "+real+" > /var/run/redis/redis_7000.pid"); err != nil {
			t.Fatal(err)
		}
		if r.code == 0 || !strings.Contains(r.stderr, "refusing to signal") {
			t.Errorf("failover-test --mode %s with a planted pid file: exit %d, no refusal", mode, r.code)
		}
		si, err := info(t, addr(m, sentinelPort), "server")
		if err != nil || si["process_id"] != sentinelPid {
			t.Fatalf("the sentinel named in the pid file was signalled (--mode %s): %v %v", mode, si["process_id"], err)
		}
		state, _ := hostExec(t, m.Name, "sh", "-c", "sed -n 's/^State:\\s*//p' /proc/"+sentinelPid+"/status")
		if strings.HasPrefix(state, "T") {
			_, _ = hostExec(t, m.Name, "kill", "-CONT", sentinelPid)
			t.Fatalf("the sentinel was stopped (--mode %s)", mode)
		}
		if currentMaster(t) != m {
			t.Fatalf("the master moved although failover-test refused")
		}
	}
	waitHealthy(t, inv)
}

func testStaleMaster(t *testing.T, inv string) {
	m := currentMaster(t)
	mc := client(t, addr(m, redisPort))
	defer mc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	write := func(prefix string) {
		for i := 0; i < 50; i++ {
			if err := mc.Set(ctx, fmt.Sprintf("stale:%s:%d", prefix, i), i, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := mc.Wait(ctx, 2, 5000).Result(); err != nil || n != 2 {
			t.Fatalf("WAIT 2: %d replicas acknowledged (%v)", n, err)
		}
	}
	write("a")
	if err := mc.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := mc.ConfigSet(ctx, "save", "").Err(); err != nil {
		t.Fatal(err)
	}
	write("b") // replicated, in no file of the master's

	var sentinelPids []string
	hosts := labHosts()
	for _, h := range hosts {
		// A sentinel paused for more than 2 s enters TILT for 30 s when it
		// resumes, and Sentinel never promotes a replica cut off from the
		// master for longer than 10 x down-after plus the time since the
		// master went down: with the lab's 2 s, the pause alone would rule
		// out every replica. 10 s leaves room; the closing up restores 2 s.
		if _, err := do(t, addr(h, sentinelPort), "SENTINEL", "SET", masterName, "down-after-milliseconds", "10000"); err != nil {
			t.Fatal(err)
		}
		si, err := info(t, addr(h, sentinelPort), "server")
		if err != nil {
			t.Fatal(err)
		}
		sentinelPids = append(sentinelPids, si["process_id"])
	}
	resume := func() {
		for i, h := range hosts {
			_, _ = hostExec(t, h.Name, "kill", "-CONT", sentinelPids[i])
		}
	}
	defer resume()
	for i, h := range hosts {
		if _, err := hostExec(t, h.Name, "kill", "-STOP", sentinelPids[i]); err != nil {
			t.Fatal(err)
		}
	}
	mi, err := info(t, addr(m, redisPort), "server")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hostExec(t, m.Name, "kill", "-KILL", mi["process_id"]); err != nil {
		t.Fatal(err)
	}

	r := run(t, inv, "up")
	if r.code == 0 || !strings.Contains(r.stderr, "refusing to start "+m.Name+" as master") {
		t.Errorf("up with the master down and newer data on the replicas: exit %d, no refusal", r.code)
	}
	if _, err := info(t, addr(m, redisPort), "server"); err == nil {
		t.Fatalf("up started the stale master %s", m.Name)
	}

	resume()
	// A paused sentinel enters TILT for 30 s when it resumes; then it fails
	// over. Every sentinel must name the new master, twice in a row, before
	// up runs again: one still naming the old master makes up refuse (the
	// sentinels disagree), rightly.
	var newMaster labHost
	deadline := time.Now().Add(120 * time.Second)
	for {
		if h, ok := sentinelsAgreeOn(t, hosts, m); ok {
			time.Sleep(time.Second)
			if again, ok := sentinelsAgreeOn(t, hosts, m); ok && again == h {
				newMaster = h
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the sentinels did not agree on a new master after they resumed")
		}
		time.Sleep(time.Second)
	}
	t.Logf("the sentinels promoted %s", newMaster.Name)
	countKeys := func(h labHost) int {
		c := client(t, addr(h, redisPort))
		defer c.Close()
		ctx, cancel := ctx5()
		defer cancel()
		n := 0
		for _, p := range []string{"a", "b"} {
			for i := 0; i < 50; i++ {
				if v, err := c.Get(ctx, fmt.Sprintf("stale:%s:%d", p, i)).Result(); err == nil && v == strconv.Itoa(i) {
					n++
				}
			}
		}
		return n
	}
	if n := countKeys(newMaster); n != 100 {
		t.Errorf("the new master %s has %d of the 100 acknowledged keys", newMaster.Name, n)
	}
	// up now brings the old master back as a replica of the new one.
	mustRun(t, inv, "up")
	checkSeedState(t, newMaster)
	if n := countKeys(m); n != 100 {
		t.Errorf("%s, back as a replica, has %d of the 100 keys", m.Name, n)
	}
	_ = mustRun(t, inv, "failover-test", "--mode", "manual") // leaves the cluster healthy, data checked
}

// sentinelsAgreeOn returns the host every sentinel names as master, when
// all of them answer and name the same one, other than old.
func sentinelsAgreeOn(t *testing.T, hosts []labHost, old labHost) (labHost, bool) {
	first := ""
	for _, h := range hosts {
		a, err := sentinelMaster(t, h)
		if err != nil || a == addr(old, redisPort) || (first != "" && a != first) {
			return labHost{}, false
		}
		first = a
	}
	for _, h := range hosts {
		if addr(h, redisPort) == first {
			return h, true
		}
	}
	return labHost{}, false
}

// testRunLock holds the cluster's lock with an uninstall that waits at
// its confirmation prompt on a terminal, runs up against it, then kills the
// uninstall with SIGKILL and runs up again.
func testRunLock(t *testing.T, inv string) {
	before := pids(t)
	holder := exec.Command("script", "-qfec", strings.Join([]string{redisctlBin(t), "-i", inv, "--cache-dir", cacheDir(), "uninstall"}, " "), "/dev/null")
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	var out syncBuffer
	holder.Stdout, holder.Stderr = &out, &out
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Process.Kill(); _ = holder.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "Proceed?") {
		if time.Now().After(deadline) {
			t.Fatalf("uninstall did not reach its prompt:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	holderPid := findProcess(t, "uninstall")

	start := time.Now()
	r := run(t, inv, "up")
	if r.code == 0 || !strings.Contains(r.stderr, "locked by redisctl uninstall") || !strings.Contains(r.stderr, "pid "+strconv.Itoa(holderPid)) {
		t.Errorf("up while uninstall holds the cluster: exit %d, want a refusal naming the holder (pid %d)", r.code, holderPid)
	}
	t.Logf("MEASURE lock refusal took %s", time.Since(start).Round(time.Millisecond))

	if err := syscall.Kill(holderPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50 && syscall.Kill(holderPid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	r = mustRun(t, inv, "up")
	if !strings.Contains(r.stderr, "stale") {
		t.Errorf("up after the holder died did not say it took over a stale lock")
	}
	if after := pids(t); !mapsEqual(before, after) {
		t.Errorf("processes changed: %v -> %v", before, after)
	}
}

// findProcess returns the pid of the redisctl process run with verb.
func findProcess(t *testing.T, verb string) int {
	bin := redisctlBin(t)
	entries, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, e := range entries {
		b, err := os.ReadFile(e)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) > 1 && args[0] == bin && args[len(args)-1] == verb {
			pid, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(e, "/proc/"), "/cmdline"))
			return pid
		}
	}
	t.Fatalf("no redisctl %s process", verb)
	return 0
}

// syncBuffer is a bytes.Buffer safe for a process writing and a test reading.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testTwoClusters runs a second cluster (its own name, ports and password)
// on the same hosts, and uninstalls each while the other runs.
func testTwoClusters(t *testing.T, inv string) {
	data, err := os.ReadFile(inv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "second.password")
	s := string(data)
	for old, repl := range map[string]string{
		"name: mymaster": "name: second",
		"  port: 7000":   "  port: 7001",
		"  port: 8000":   "  port: 8001",
	} {
		if !strings.Contains(s, old) {
			t.Fatalf("lab inventory has no %q", old)
		}
		s = strings.Replace(s, old, repl, 1)
	}
	s = regexpReplace(s, `(?m)^  password_file: .*$`, "  password_file: "+pwFile)
	second := filepath.Join(dir, "inventory.yaml")
	if err := os.WriteFile(second, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	secondHealthy := func() {
		t.Helper()
		d, r := status(t, second)
		if r.code != 0 || d.Verdict != "healthy" {
			t.Fatalf("second cluster: status exit %d, %+v", r.code, d.Problems)
		}
	}
	firstUntouched := func(before map[string]string) {
		t.Helper()
		if d, r := status(t, inv); r.code != 0 || d.Verdict != "healthy" {
			t.Errorf("first cluster: status exit %d, %+v", r.code, d.Problems)
		}
		if after := pids(t); !mapsEqual(before, after) {
			t.Errorf("first cluster's processes changed: %v -> %v", before, after)
		}
	}
	binariesOnEveryHost := func() {
		t.Helper()
		for _, h := range labHosts() {
			if out, err := hostExec(t, h.Name, "ls", "/usr/local/bin/redis-server", "/usr/local/bin/redis-cli", "/usr/local/bin/redis-sentinel"); err != nil {
				t.Errorf("%s lost the shared binaries: %v %s", h.Name, err, out)
			}
		}
	}

	before := pids(t)
	mustRun(t, second, "up")
	waitHealthy(t, second)
	firstUntouched(before)

	// The second goes while the first runs: the first keeps everything.
	mustRun(t, second, "uninstall", "--yes")
	firstUntouched(before)
	binariesOnEveryHost()
	for _, h := range labHosts() {
		if out, _ := hostExec(t, h.Name, "sh", "-c", "ls -d /etc/redis/redis_7001.conf /var/lib/redis/7001 /var/lib/redisctl/second.* 2>/dev/null; pgrep -f ':[78]001' ; true"); out != "" {
			t.Errorf("%s: the second cluster left %s", h.Name, out)
		}
	}

	// Now the other way round: the first goes while the second runs.
	mustRun(t, second, "up")
	waitHealthy(t, second)
	secondBefore := pidsPorts(t, 7001, 8001)
	mustRun(t, inv, "uninstall", "--yes")
	secondHealthy()
	if after := pidsPorts(t, 7001, 8001); !mapsEqual(secondBefore, after) {
		t.Errorf("second cluster's processes changed: %v -> %v", secondBefore, after)
	}
	binariesOnEveryHost()

	// The last cluster takes the shared binaries with it.
	mustRun(t, second, "uninstall", "--yes")
	for _, h := range labHosts() {
		if out, _ := hostExec(t, h.Name, "sh", "-c", "ls /usr/local/bin/redis-server /var/lib/redisctl 2>/dev/null; true"); out != "" {
			t.Errorf("%s: the last uninstall left %s", h.Name, out)
		}
	}
}

// pidsPorts is pids for a cluster on other ports (no password needed:
// INFO server is read with the second cluster's password file unknown, so
// process ids come from the hosts' process tables).
func pidsPorts(t *testing.T, ports ...int) map[string]string {
	out := map[string]string{}
	for _, h := range labHosts() {
		for _, p := range ports {
			pid, _ := hostExec(t, h.Name, "sh", "-c", fmt.Sprintf("pgrep -f ':%d( |$)' | head -n1", p))
			out[fmt.Sprintf("%s/%d", h.Name, p)] = pid
		}
	}
	return out
}

func regexpReplace(s, pattern, repl string) string {
	return regexp.MustCompile(pattern).ReplaceAllLiteralString(s, repl)
}
