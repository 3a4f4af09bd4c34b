package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestCheck runs redisctl check on the lab: a healthy lab passes (or only
// warns), a sentinel port blocked between two hosts is named and makes up
// refuse, vm.overcommit_memory=0 warns and check --apply fixes it (Redis
// then starts without its overcommit warning), and connect-info lists the
// sentinels without the password. It leaves the lab as it found it:
// uninstalled, with the machine's kernel settings restored.
func TestCheck(t *testing.T) {
	inv := labInventory()
	// Whatever an earlier test left, start from nothing.
	_ = run(t, inv, "uninstall", "--yes")
	labUp(t, 3)
	t.Cleanup(func() { _ = run(t, inv, "uninstall", "--yes") })
	mustRun(t, inv, "up")
	waitHealthy(t, inv)

	steps := []struct {
		name string
		fn   func(t *testing.T, inv string)
	}{
		{"check on a healthy lab names every host and finds nothing blocked", testCheckHealthy},
		{"a blocked sentinel port is named with its pair; up refuses and changes nothing", testCheckBlockedPort},
		{"vm.overcommit_memory=0 warns; check --apply fixes it", testCheckOvercommit},
		{"connect-info -o json lists the sentinels and no password", testConnectInfo},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) { s.fn(t, inv) })
	}
}

// checkDoc is redisctl check -o json.
type checkDoc struct {
	Verdict  string `json:"verdict"`
	Findings []struct {
		Host    string `json:"host"`
		Check   string `json:"check"`
		Value   string `json:"value"`
		Verdict string `json:"verdict"`
		Fix     string `json:"fix"`
		From    string `json:"from"`
		To      string `json:"to"`
		Port    int    `json:"port"`
	} `json:"findings"`
	Applied  []string `json:"applied"`
	NotFixed []string `json:"not_fixed"`
}

func checkJSON(t *testing.T, inv string, args ...string) (checkDoc, result) {
	t.Helper()
	r := run(t, inv, append([]string{"check", "-o", "json"}, args...)...)
	var d checkDoc
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("check -o json is not JSON: %v\n%s", err, r.stdout)
	}
	return d, r
}

func testCheckHealthy(t *testing.T, inv string) {
	r := run(t, inv, "check")
	if r.code != 0 && r.code != 3 {
		t.Fatalf("check on a healthy lab: exit %d, want 0 or 3", r.code)
	}
	for _, h := range labHosts() {
		if !strings.Contains(r.stdout, h.Name) {
			t.Errorf("the check table does not name %s", h.Name)
		}
	}
	d, jr := checkJSON(t, inv)
	if jr.code != r.code || d.Verdict == "fail" {
		t.Fatalf("check -o json: exit %d, verdict %q", jr.code, d.Verdict)
	}
	// Every host checked, and every path between two hosts open: 3 hosts
	// each reach the 2 others' redis and sentinel ports.
	checked := map[string]bool{}
	paths := 0
	for _, f := range d.Findings {
		checked[f.Host] = true
		if f.From != "" {
			paths++
			if f.Verdict != "ok" {
				t.Errorf("path %s %s: %s %s", f.Host, f.Check, f.Verdict, f.Value)
			}
		}
	}
	for _, h := range labHosts() {
		if !checked[h.Name] {
			t.Errorf("no finding for %s", h.Name)
		}
	}
	if want := len(labHosts()) * (len(labHosts()) - 1) * 2; paths != want {
		t.Errorf("%d paths checked, want %d", paths, want)
	}
}

// netnsRun runs a program of this machine inside host's network namespace
// only: nft works the same for SysV hosts and hosts that boot systemd
// (whose root has no nft).
func netnsRun(t *testing.T, host string, args ...string) (string, error) {
	t.Helper()
	pid, err := hostPID(host)
	if err != nil {
		return "", err
	}
	c := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(pid), "-n", "--"}, args...)...)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	t.Logf("%s (netns)# %s", host, strings.Join(args, " "))
	if err := c.Run(); err != nil {
		return "", fmt.Errorf("%s: %s: %w: %s", host, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

func testCheckBlockedPort(t *testing.T, inv string) {
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatal("nft is not installed on this machine (make deps installs nftables)")
	}
	node2, node3 := hostByName(t, "node2"), hostByName(t, "node3")
	// node2 drops what node3 sends to its sentinel port.
	const table = "redisctl_e2e_check"
	for _, args := range [][]string{
		{"nft", "add", "table", "inet", table},
		{"nft", "add", "chain", "inet", table, "input", "{ type filter hook input priority 0; policy accept; }"},
		{"nft", "add", "rule", "inet", table, "input", "ip", "saddr", node3.Addr, "tcp", "dport", strconv.Itoa(sentinelPort), "drop"},
	} {
		if _, err := netnsRun(t, "node2", args...); err != nil {
			t.Fatal(err)
		}
	}
	removed := false
	remove := func() {
		if !removed {
			if _, err := netnsRun(t, "node2", "nft", "delete", "table", "inet", table); err != nil {
				t.Error(err)
			}
			removed = true
		}
	}
	t.Cleanup(remove)

	pair := fmt.Sprintf("node3 -> node2 sentinel port %d", sentinelPort)
	r := run(t, inv, "check")
	if r.code != 4 {
		t.Errorf("check with a blocked port: exit %d, want 4", r.code)
	}
	if !strings.Contains(r.stdout, "node3 -> node2") || !strings.Contains(r.stdout, fmt.Sprintf("sentinel port %d", sentinelPort)) {
		t.Errorf("the check table does not name %s:\n%s", pair, r.stdout)
	}
	d, _ := checkJSON(t, inv)
	var failed []string
	for _, f := range d.Findings {
		if f.Verdict == "fail" {
			failed = append(failed, fmt.Sprintf("%s -> %s %d", f.From, f.To, f.Port))
		}
	}
	if want := []string{fmt.Sprintf("node3 -> node2 %d", sentinelPort)}; !reflect.DeepEqual(failed, want) {
		t.Errorf("failed paths %q, want %q", failed, want)
	}
	if !strings.Contains(strings.Join(findingsFix(d, "node3 -> node2"), " "), node2.Addr) {
		t.Errorf("what to do does not name node2's address %s: %q", node2.Addr, findingsFix(d, "node3 -> node2"))
	}

	before := pids(t)
	listing := upperListings(t)
	r = run(t, inv, "up")
	if r.code == 0 {
		t.Fatal("up succeeded with the sentinel port blocked between node3 and node2")
	}
	if !strings.Contains(r.stderr, pair) {
		t.Errorf("up's refusal does not name %s:\n%s", pair, r.stderr)
	}
	if strings.Contains(r.stdout, "changed:") {
		t.Errorf("up changed something before refusing:\n%s", r.stdout)
	}
	if after := pids(t); !mapsEqual(before, after) {
		t.Errorf("up restarted processes: before %v, after %v", before, after)
	}
	if after := upperListings(t); !reflect.DeepEqual(listing, after) {
		t.Errorf("up changed files on the hosts before refusing:\nbefore %v\nafter  %v", listing, after)
	}

	remove()
	if r := run(t, inv, "check"); r.code != 0 && r.code != 3 {
		t.Errorf("check after the rule went: exit %d, want 0 or 3", r.code)
	}
}

func findingsFix(d checkDoc, host string) []string {
	var out []string
	for _, f := range d.Findings {
		if f.Host == host {
			out = append(out, f.Fix)
		}
	}
	return out
}

// The lab's hosts share this machine's kernel: vm.overcommit_memory and
// transparent huge pages are the machine's, so both are put back as they
// were when the test ends.
func testCheckOvercommit(t *testing.T, inv string) {
	const overcommit = "/proc/sys/vm/overcommit_memory"
	const thp = "/sys/kernel/mm/transparent_hugepage/enabled"
	orig, err := os.ReadFile(overcommit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(overcommit, orig, 0o644); err != nil {
			t.Errorf("restore %s to %s: %v", overcommit, strings.TrimSpace(string(orig)), err)
		}
	})
	if b, err := os.ReadFile(thp); err == nil {
		mode := string(b)
		if i, j := strings.IndexByte(mode, '['), strings.IndexByte(mode, ']'); i >= 0 && j > i {
			mode = mode[i+1 : j]
			t.Cleanup(func() { _ = os.WriteFile(thp, []byte(mode), 0o644) })
		}
	}
	if err := os.WriteFile(overcommit, []byte("0"), 0o644); err != nil {
		t.Fatal(err)
	}

	d, r := checkJSON(t, inv)
	if r.code != 3 {
		t.Errorf("check with vm.overcommit_memory=0: exit %d, want 3 (warnings)", r.code)
	}
	for _, h := range labHosts() {
		if v := verdictOf(d, h.Name, "vm.overcommit_memory"); v != "warn" {
			t.Errorf("%s vm.overcommit_memory: %q, want warn", h.Name, v)
		}
	}

	// A replica's log from here on shows whether Redis still warns.
	replica := replicaHost(t)
	log := "/var/log/redis_" + strconv.Itoa(redisPort) + ".log"
	size, err := hostExec(t, replica.Name, "stat", "-c", "%s", log)
	if err != nil {
		t.Fatal(err)
	}

	d, r = checkJSON(t, inv, "--apply")
	if labKind() == "systemd" {
		// systemd-nspawn mounts /proc/sys read-only: the fix is refused
		// and says where to make it.
		if r.code != 3 || !strings.Contains(strings.Join(d.NotFixed, "\n"), "on the machine that runs it") {
			t.Errorf("check --apply in a container: exit %d, not fixed %q", r.code, d.NotFixed)
		}
		return
	}
	if r.code != 0 && r.code != 3 {
		t.Fatalf("check --apply: exit %d", r.code)
	}
	if got, _ := os.ReadFile(overcommit); strings.TrimSpace(string(got)) != "1" {
		t.Fatalf("after check --apply vm.overcommit_memory is %q, want 1", strings.TrimSpace(string(got)))
	}
	for _, h := range labHosts() {
		if v := verdictOf(d, h.Name, "vm.overcommit_memory"); v != "ok" {
			t.Errorf("%s vm.overcommit_memory after --apply: %q, want ok", h.Name, v)
		}
		file, err := hostExec(t, h.Name, "cat", "/etc/sysctl.d/60-redisctl.conf")
		if err != nil || !strings.Contains(file, "vm.overcommit_memory = 1") {
			t.Errorf("%s: /etc/sysctl.d/60-redisctl.conf: %q, %v", h.Name, file, err)
		}
	}
	if len(d.Applied) == 0 {
		t.Errorf("check --apply reports nothing applied")
	}
	// A second --apply has nothing to do.
	if d2, _ := checkJSON(t, inv, "--apply"); len(d2.Applied) != 0 {
		t.Errorf("a second check --apply applied %q", d2.Applied)
	}

	// Redis started now logs no overcommit warning.
	if _, err := hostExec(t, replica.Name, service("redis_"+strconv.Itoa(redisPort), "restart")...); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, inv)
	n, _ := strconv.Atoi(size)
	tail, err := hostExec(t, replica.Name, "tail", "-c", "+"+strconv.Itoa(n+1), log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tail, "Server initialized") && !strings.Contains(tail, "Ready to accept connections") {
		t.Fatalf("%s: the log since the restart does not show a start:\n%s", replica.Name, tail)
	}
	if strings.Contains(tail, "overcommit_memory") {
		t.Errorf("%s: Redis still warns about overcommit_memory after check --apply:\n%s", replica.Name, tail)
	}
}

func verdictOf(d checkDoc, host, check string) string {
	for _, f := range d.Findings {
		if f.Host == host && f.Check == check {
			return f.Verdict
		}
	}
	return ""
}

func testConnectInfo(t *testing.T, inv string) {
	r := mustRun(t, inv, "connect-info", "-o", "json")
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("connect-info -o json is not JSON: %v\n%s", err, r.stdout)
	}
	var want []any
	for _, h := range labHosts() {
		want = append(want, addr(h, sentinelPort))
	}
	if !reflect.DeepEqual(doc["sentinels"], want) || doc["master_name"] != masterName || doc["user"] != "default" || doc["tls"] != false {
		t.Errorf("connect-info: %v; want sentinels %v, master %s, user default, tls false", doc, want, masterName)
	}
	if _, ok := doc["password"]; ok {
		t.Error("connect-info printed a password field without --show-secrets")
	}
	// (--show-secrets is covered by the unit tests: run logs stdout, and
	// the password has no place in the test log.)
	if strings.Contains(r.stdout+r.stderr, password(t)) {
		t.Error("connect-info printed the password without --show-secrets")
	}
}
