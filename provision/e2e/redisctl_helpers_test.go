package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The cluster tests drive the real redisctl binary against the lab and
// check the outcome by talking to every node and sentinel themselves,
// straight over the lab bridge, never through redisctl's own verdict.

const (
	redisPort    = 7000
	sentinelPort = 8000
	masterName   = "mymaster"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// redisctlBin builds redisctl once for the whole test run.
func redisctlBin(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "redisctl-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "redisctl")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/redisctl")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// result is one run of redisctl.
type result struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

func cacheDir() string {
	if d := os.Getenv("REDISCTL_CACHE"); d != "" {
		return filepath.Join(d, "redisctl-e2e")
	}
	return filepath.Join(repoRoot(), ".cache", "redisctl-e2e")
}

// run runs redisctl with the lab inventory and the given arguments.
func run(t testing.TB, inv string, args ...string) result {
	t.Helper()
	full := append([]string{"-i", inv, "--cache-dir", cacheDir()}, args...)
	cmd := exec.Command(redisctlBin(t), full...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("redisctl %v: %v", args, err)
	}
	t.Logf("redisctl %s: exit %d after %s\n--- stdout\n%s--- stderr\n%s", strings.Join(args, " "), r.code, r.took.Round(100*time.Millisecond), r.stdout, r.stderr)
	return r
}

func mustRun(t testing.TB, inv string, args ...string) result {
	t.Helper()
	r := run(t, inv, args...)
	if r.code != 0 {
		t.Fatalf("redisctl %s failed with exit %d", strings.Join(args, " "), r.code)
	}
	return r
}

// password is the generated password up stored for the lab, or the one a
// test gave in E2E_PASSWORD.
func password(t testing.TB) string {
	t.Helper()
	if pw := os.Getenv("E2E_PASSWORD"); pw != "" {
		return pw
	}
	b, err := os.ReadFile(filepath.Join(labState(), "redis.password"))
	if err != nil {
		t.Fatalf("password file: %v", err)
	}
	return strings.TrimSpace(string(b))
}

func addr(h labHost, port int) string { return h.Addr + ":" + strconv.Itoa(port) }

// client logs in to the server at address with the cluster password, or,
// on a data node of a cluster with ACL users (the test sets E2E_USER and
// E2E_USER_PASSWORD), as that user.
func client(t testing.TB, address string) *redis.Client {
	user, pw := "", password(t)
	if u := os.Getenv("E2E_USER"); u != "" && strings.HasSuffix(address, ":"+strconv.Itoa(redisPort)) {
		user, pw = u, os.Getenv("E2E_USER_PASSWORD")
	}
	return userClient(address, user, pw)
}

func userClient(address, user, pw string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: address, Username: user, Password: pw, MaxRetries: -1,
		DialTimeout: 2 * time.Second, ReadTimeout: 3 * time.Second, DisableIdentity: true, Protocol: 2,
		TLSConfig: testTLS()})
}

// testTLS is the TLS setting of the tests' own clients: on a TLS cluster
// (the test sets E2E_TLS_CA to the cluster CA's file) they trust that CA
// only, and verify each server's certificate for the address dialled, as
// an application would; nil otherwise.
func testTLS() *tls.Config {
	file := os.Getenv("E2E_TLS_CA")
	if file == "" {
		return nil
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		panic(fmt.Sprintf("E2E_TLS_CA: %v", err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		panic("E2E_TLS_CA holds no certificate")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func ctx5() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

// info returns INFO <section> of the server at address as a map.
func info(t testing.TB, address, section string) (map[string]string, error) {
	c := client(t, address)
	defer c.Close()
	ctx, cancel := ctx5()
	defer cancel()
	s, err := c.Info(ctx, section).Result()
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			m[k] = v
		}
	}
	return m, nil
}

// do runs one command on the server at address.
func do(t testing.TB, address string, args ...any) (any, error) {
	c := client(t, address)
	defer c.Close()
	ctx, cancel := ctx5()
	defer cancel()
	return c.Do(ctx, args...).Result()
}

// pids returns the process id of every Redis and Sentinel, by "node1/redis".
func pids(t testing.TB) map[string]string {
	t.Helper()
	return pidsOf(t, labHosts())
}

func pidsOf(t testing.TB, hosts []labHost) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range hosts {
		for kind, port := range map[string]int{"redis": redisPort, "sentinel": sentinelPort} {
			m, err := info(t, addr(h, port), "server")
			if err != nil {
				t.Fatalf("%s %s: %v", h.Name, kind, err)
			}
			out[h.Name+"/"+kind] = m["process_id"]
		}
	}
	return out
}

// sentinelMaster asks one sentinel which address it names as master.
func sentinelMaster(t testing.TB, h labHost) (string, error) {
	v, err := do(t, addr(h, sentinelPort), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName)
	if err != nil {
		return "", err
	}
	l, ok := v.([]any)
	if !ok || len(l) != 2 {
		return "", fmt.Errorf("unexpected reply %v", v)
	}
	return fmt.Sprintf("%v:%v", l[0], l[1]), nil
}

// checkSeedState checks the seed's final state from the outside: one
// master with every other node an online replica with its link up and
// refusing writes, and every sentinel reporting status=ok for that master
// with all replicas and sentinels.
func checkSeedState(t testing.TB, master labHost) {
	t.Helper()
	hosts := labHosts()
	n := len(hosts)
	deadline := time.Now().Add(30 * time.Second)
	for {
		problems := seedStateProblems(t, master, hosts)
		if len(problems) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster (%d hosts, master %s) is not in the seed's final state:\n  %s", n, master.Name, strings.Join(problems, "\n  "))
		}
		time.Sleep(time.Second)
	}
}

func seedStateProblems(t testing.TB, master labHost, hosts []labHost) []string {
	var p []string
	n := len(hosts)
	m, err := info(t, addr(master, redisPort), "replication")
	if err != nil {
		return []string{"master: " + err.Error()}
	}
	if m["role"] != "master" || m["connected_slaves"] != strconv.Itoa(n-1) {
		p = append(p, fmt.Sprintf("master %s: role=%s connected_slaves=%s", master.Name, m["role"], m["connected_slaves"]))
	}
	online := 0
	for k, v := range m {
		if strings.HasPrefix(k, "slave") && strings.Contains(v, "state=online") {
			online++
		}
	}
	if online != n-1 {
		p = append(p, fmt.Sprintf("master lists %d online replicas", online))
	}
	for _, h := range hosts {
		if h == master {
			continue
		}
		r, err := info(t, addr(h, redisPort), "replication")
		if err != nil {
			p = append(p, h.Name+": "+err.Error())
			continue
		}
		if r["role"] != "slave" || r["master_host"] != master.Addr || r["master_link_status"] != "up" {
			p = append(p, fmt.Sprintf("%s: role=%s master_host=%s link=%s", h.Name, r["role"], r["master_host"], r["master_link_status"]))
		}
		if _, err := do(t, addr(h, redisPort), "SET", "e2e:readonly", "x"); err == nil || !strings.HasPrefix(err.Error(), "READONLY") {
			p = append(p, fmt.Sprintf("%s: a write was not refused with READONLY: %v", h.Name, err))
		}
	}
	want := fmt.Sprintf("status=ok,address=%s,slaves=%d,sentinels=%d", addr(master, redisPort), n-1, n)
	for _, h := range hosts {
		s, err := info(t, addr(h, sentinelPort), "sentinel")
		if err != nil {
			p = append(p, h.Name+" sentinel: "+err.Error())
			continue
		}
		if !strings.Contains(s["master0"], want) {
			p = append(p, fmt.Sprintf("%s sentinel: master0=%s, want %s", h.Name, s["master0"], want))
		}
	}
	return p
}

// statusJSON runs redisctl status -o json and decodes it.
type statusDoc struct {
	Master   string `json:"master"`
	Verdict  string `json:"verdict"`
	Problems []struct {
		Host     string `json:"host"`
		Severity string `json:"severity"`
		Message  string `json:"message"`
	} `json:"problems"`
}

func status(t testing.TB, inv string) (statusDoc, result) {
	t.Helper()
	r := run(t, inv, "status", "-o", "json")
	var d statusDoc
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("status -o json is not JSON: %v\n%s", err, r.stdout)
	}
	return d, r
}

func hostByName(t testing.TB, name string) labHost {
	h, err := findHost(name)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// currentMaster returns the host every answering sentinel names, failing
// the test when they disagree or fewer than a majority answer.
func currentMaster(t testing.TB) labHost {
	t.Helper()
	var first string
	answered := 0
	for _, h := range labHosts() {
		m, err := sentinelMaster(t, h)
		if err != nil {
			t.Logf("%s sentinel does not answer: %v", h.Name, err)
			continue
		}
		answered++
		if first == "" {
			first = m
		} else if m != first {
			t.Fatalf("sentinels disagree: %s vs %s", first, m)
		}
	}
	if answered <= len(labHosts())/2 {
		t.Fatalf("only %d sentinels answer", answered)
	}
	for _, h := range labHosts() {
		if addr(h, redisPort) == first {
			return h
		}
	}
	t.Fatalf("sentinels name %s, not a lab host", first)
	return labHost{}
}

// cmdlineSampler reads every process's command line on the machine (the lab
// hosts' processes included: their PID namespaces are children of this
// one), and the environment of the hosts' processes, until stopped, and
// keeps what it saw.
type cmdlineSampler struct {
	mu      sync.Mutex
	seen    map[string]bool
	samples int
	stop    chan struct{}
	done    chan struct{}
}

func sampleCmdlines() *cmdlineSampler {
	s := &cmdlineSampler{seen: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	self := strconv.Itoa(os.Getpid())
	ownNS, _ := os.Readlink("/proc/self/ns/pid")
	go func() {
		defer close(s.done)
		for {
			dirs, _ := filepath.Glob("/proc/[0-9]*")
			s.mu.Lock()
			for _, d := range dirs {
				if filepath.Base(d) == self {
					continue
				}
				files := []string{"cmdline"}
				if ns, _ := os.Readlink(filepath.Join(d, "ns", "pid")); ns != "" && ns != ownNS {
					// A lab host's process: its environment must not hold
					// the secret either. (On the control side the operator
					// may pass it in the environment, as ${VAR} intends.)
					files = append(files, "environ")
				}
				for _, f := range files {
					if b, err := os.ReadFile(filepath.Join(d, f)); err == nil && len(b) > 0 {
						s.seen[strings.ReplaceAll(string(b), "\x00", " ")] = true
					}
				}
			}
			s.samples++
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return s
}

// finish stops sampling and returns the lines that contain secret.
func (s *cmdlineSampler) finish(secret string) (samples, distinct int, leaks []string) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	for line := range s.seen {
		if strings.Contains(line, secret) {
			leaks = append(leaks, line)
		}
	}
	return s.samples, len(s.seen), leaks
}

// testWriter writes numbered keys through a Sentinel-aware client straight
// over the lab bridge, as an application would, until stopped.
type testWriter struct {
	mu     sync.Mutex
	okAt   []time.Time
	okKeys []int // the i of each acknowledged e2e:writer:<i>
	cancel context.CancelFunc
	done   chan struct{}
}

func startWriter(t testing.TB) *testWriter {
	var sentinels []string
	for _, h := range labHosts() {
		sentinels = append(sentinels, addr(h, sentinelPort))
	}
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: masterName, SentinelAddrs: sentinels,
		Password: password(t), SentinelPassword: password(t), DialTimeout: time.Second,
		ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: -1, DisableIdentity: true, Protocol: 2,
		TLSConfig: testTLS()})
	ctx, cancel := context.WithCancel(context.Background())
	w := &testWriter{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer c.Close()
		for i := 0; ctx.Err() == nil; i++ {
			if c.Set(ctx, "e2e:writer:"+strconv.Itoa(i), i, time.Hour).Err() == nil {
				w.mu.Lock()
				w.okAt = append(w.okAt, time.Now())
				w.okKeys = append(w.okKeys, i)
				w.mu.Unlock()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return w
}

// stop ends the writer after two more seconds of writing and returns the
// acknowledged writes, the longest time between two of them, and how many
// came in those last two seconds.
func (w *testWriter) stop() (acked int, gap time.Duration, last int) {
	end := time.Now()
	time.Sleep(2 * time.Second)
	w.cancel()
	<-w.done
	for i, t := range w.okAt {
		if i > 0 {
			gap = max(gap, t.Sub(w.okAt[i-1]))
		}
		if t.After(end) {
			last++
		}
	}
	return len(w.okAt), gap, last
}

// missing counts the acknowledged writes that the server at address does
// not have (after stop).
func (w *testWriter) missing(t testing.TB, address string) int {
	return len(w.missingAt(t, address))
}

// missingAt returns when each acknowledged write that the server at
// address does not have was acknowledged (after stop).
func (w *testWriter) missingAt(t testing.TB, address string) []time.Time {
	c := client(t, address)
	defer c.Close()
	var at []time.Time
	for k, i := range w.okKeys {
		ctx, cancel := ctx5()
		v, err := c.Get(ctx, "e2e:writer:"+strconv.Itoa(i)).Result()
		cancel()
		if err != nil || v != strconv.Itoa(i) {
			at = append(at, w.okAt[k])
		}
	}
	return at
}

// editedInventory writes a copy of the lab inventory base with its
// password files in dir, redis lines added after password_file, and top
// (a top-level section) before hosts; it returns the copy's path.
func editedInventory(t *testing.T, base, dir, redis, top string) string {
	t.Helper()
	data, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	found := false
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "  password_file:") {
			found = true
			l = "  password_file: " + filepath.Join(dir, "redis.password")
			if redis != "" {
				l += "\n" + redis
			}
		}
		if top != "" && strings.HasPrefix(l, "hosts:") {
			out = append(out, top)
		}
		out = append(out, l)
	}
	if !found {
		t.Fatalf("no password_file line in %s", base)
	}
	p := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(p, []byte(strings.Join(out, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
