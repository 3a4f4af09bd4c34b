package provision

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redisctl/redisctl/provision/remote/fakehost"
)

// checkCluster is a cluster of fresh fake hosts whose check scripts print
// outs[i] (tunedHost when empty), with facts gathered.
func checkCluster(t *testing.T, facts string, outs ...string) (*Cluster, []*testHost) {
	t.Helper()
	hosts := freshHosts()
	for i, h := range hosts {
		h.Host = fakehost.New(h.Name())
		h.Answer(factsPattern, fakehost.Result{Stdout: facts})
		out := tunedHost
		if i < len(outs) && outs[i] != "" {
			out = outs[i]
		}
		h.On(checkPattern, checkReply(out))
	}
	conn := &testConnector{Hosts: hosts}
	inv := testInventory(t)
	c, err := Connect(context.Background(), inv, conn.Connect, testProgress(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.GatherFacts(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c, hosts
}

func TestParseTuning(t *testing.T) {
	out := "clock=1767225600.250000000\novercommit=0\nsomaxconn=128\nnr_open=1048576\nthp=always\ninit=systemd\n" +
		"redis_pid=4100\nsentinel_pid=\nnofile_running=1024\nredis_rss_kb=2048\nnofile_unit=10032\n" +
		"mem_total_kb=2000000\nmem_avail_kb=1000000\ndisk_path=/var/lib/redis/7000\ndisk_free_kb=300\nrdb_bytes=1000\n" +
		"td_Timezone=Europe/Paris\ntd_NTP=yes\ntd_NTPSynchronized=no\ntz=Etc/UTC\nsysctl_d=yes\n" +
		"sysctl_file=# a comment\nsysctl_file=vm.overcommit_memory = 1\nthp_unit=yes\n" +
		"probe=10.0.0.2 8000 timeout\nprobe=10.0.0.2 7000 unreachable: No route to host\n"
	got := parseTuning(out)
	want := &hostTuning{
		Clock: 1767225600.25, Overcommit: "0", Somaxconn: 128, NrOpen: 1048576, THP: "always", Init: "systemd",
		RedisPid: 4100, NoFileRun: "1024", RedisRSSKB: 2048, NoFileUnit: "10032",
		MemTotalKB: 2000000, MemAvailKB: 1000000, DiskPath: "/var/lib/redis/7000", DiskFreeKB: 300, RDBBytes: 1000,
		TimeZone: "Europe/Paris", NTP: "yes", NTPSynced: "no", SysctlDir: true,
		SysctlFile: "# a comment\nvm.overcommit_memory = 1\n", THPUnit: true,
		Probes: []probe{{"10.0.0.2", 8000, "timeout"}, {"10.0.0.2", 7000, "unreachable: No route to host"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseTuning:\n got %+v\nwant %+v", got, want)
	}
	// Nothing readable: unknown, never zero.
	if e := parseTuning(""); e.Somaxconn != -1 || e.DiskFreeKB != -1 || e.RDBBytes != -1 || e.MemAvailKB != -1 {
		t.Errorf("empty output parsed as known values: %+v", e)
	}
}

func TestParseRedisBytes(t *testing.T) {
	for in, want := range map[string]int64{"100": 100, "1k": 1000, "1kb": 1024, "2MB": 2 << 20, "1g": 1e9, "3gb": 3 << 30} {
		if got, err := parseRedisBytes(in); err != nil || got != want {
			t.Errorf("parseRedisBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseRedisBytes("lots"); err == nil {
		t.Error("parseRedisBytes(lots) succeeded")
	}
}

// finding returns the finding of host and check.
func finding(t *testing.T, rep *TuningReport, host, check string) Finding {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Host == host && f.Check == check {
			return f
		}
	}
	t.Fatalf("no finding %q for %q in %+v", check, host, rep.Findings)
	return Finding{}
}

func TestCheckHealthyHosts(t *testing.T) {
	c, _ := checkCluster(t, freshFacts)
	rep, err := c.CheckHosts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Verdict != LevelOK && f.Check != "clock" && f.Check != "clock skew between hosts" {
			t.Errorf("%s %s: %s %s (%s)", f.Host, f.Check, f.Verdict, f.Value, f.Fix)
		}
	}
	// 3 hosts, each reaching the 2 others' redis and sentinel ports.
	paths := 0
	for _, f := range rep.Findings {
		if f.From != "" {
			paths++
			if f.Value != "open (refused: nothing listens yet)" {
				t.Errorf("%s %s: %q", f.Host, f.Check, f.Value)
			}
		}
	}
	if paths != 12 {
		t.Errorf("%d paths checked, want 12", paths)
	}
}

// The verdict of each check, decided from what a host printed.
func TestCheckVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name, out, check, value string
		verdict                 Level
		fixable                 bool
	}{
		{"overcommit 0", tuned("overcommit=0"), "vm.overcommit_memory", "0", LevelWarn, true},
		{"overcommit 1", tunedHost, "vm.overcommit_memory", "1", LevelOK, false},
		{"THP always", tuned("thp=always"), "transparent huge pages", "always", LevelWarn, true},
		{"THP never", tuned("thp=never"), "transparent huge pages", "never", LevelOK, false},
		{"no THP", strings.Replace(tunedHost, "thp=madvise\n", "", 1), "transparent huge pages", "not in this kernel", LevelOK, false},
		{"somaxconn low", tuned("somaxconn=128"), "net.core.somaxconn", "128 (tcp-backlog 511)", LevelWarn, true},
		{"open files of the running redis", tuned("redis_pid=4100", "nofile_running=1024"), "open files limit",
			"1024 (running redis, pid 4100; maxclients 10000 needs 10032)", LevelWarn, false},
		{"open files of the service", tuned("nofile_script=10032"), "open files limit",
			"10032 (NOFILE of /etc/init.d/redis_7000; maxclients 10000 needs 10032)", LevelOK, false},
		{"open files of the unit", tuned("init=systemd", "nofile_script=1024", "nofile_unit=10032"), "open files limit",
			"10032 (LimitNOFILE of redis_7000; maxclients 10000 needs 10032)", LevelOK, false},
		{"open files capped by nr_open", tuned("nr_open=4096"), "open files limit",
			"4096 (the service redisctl installs, capped by fs.nr_open; maxclients 10000 needs 10032)", LevelWarn, false},
		{"disk below twice the RDB", tuned("disk_free_kb=1500", "rdb_bytes=1048576"), "disk",
			"1.5MiB free in /var/lib; RDB 1.0MiB", LevelWarn, false},
		{"NTP not synchronized", tuned("td_Timezone=Europe/Paris", "td_NTP=yes", "td_NTPSynchronized=no"), "time zone, NTP",
			"Europe/Paris, NTP not synchronized", LevelWarn, false},
		{"NTP unknown", strings.Replace(tunedHost, "ntp_daemon=chronyd\n", "", 1), "time zone, NTP",
			"Etc/UTC, NTP state unknown", LevelOK, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := checkCluster(t, freshFacts, tc.out)
			rep, err := c.CheckHosts(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			f := finding(t, rep, "node1", tc.check)
			if f.Value != tc.value || f.Verdict != tc.verdict || f.Fixable != tc.fixable {
				t.Errorf("got %q %s fixable=%t, want %q %s fixable=%t", f.Value, f.Verdict, f.Fixable, tc.value, tc.verdict, tc.fixable)
			}
			if f.Verdict != LevelOK && f.Fix == "" {
				t.Error("a problem without what to do")
			}
			if rep.Verdict.rank() < tc.verdict.rank() {
				t.Errorf("report verdict %s, below the finding's %s", rep.Verdict, tc.verdict)
			}
		})
	}
}

func TestCheckMemoryAgainstMaxmemory(t *testing.T) {
	// 1 GiB available and maxmemory 2gb: the kernel kills Redis first.
	f := memoryFinding("node1", parseTuning(tuned("mem_avail_kb=1048576", "mem_total_kb=4194304")), 2<<30)
	if f.Verdict != LevelWarn || f.Value != "1.0GiB available for maxmemory 2.0GiB" {
		t.Errorf("got %s %q", f.Verdict, f.Value)
	}
	// What the running redis holds counts as available to it.
	f = memoryFinding("node1", parseTuning(tuned("mem_avail_kb=1048576", "redis_rss_kb=1048576", "mem_total_kb=8388608")), 2<<30)
	if f.Verdict != LevelOK {
		t.Errorf("got %s %q: %s", f.Verdict, f.Value, f.Fix)
	}
}

// A path that times out, and one refused while the server runs, fail and
// name the pair and the port; the report verdict is fail.
func TestCheckBlockedPaths(t *testing.T) {
	running := tuned("redis_pid=4100", "sentinel_pid=4200", "probe=10.0.0.2 7000 open", "probe=10.0.0.2 8000 open", "probe=10.0.0.3 7000 open", "probe=10.0.0.3 8000 open")
	c, _ := checkCluster(t, freshFacts,
		running,
		tuned("redis_pid=4100", "sentinel_pid=4200", "probe=10.0.0.3 7000 open", "probe=10.0.0.3 8000 open", "probe=10.0.0.1 7000 open", "probe=10.0.0.1 8000 refused"),
		tuned("redis_pid=4100", "sentinel_pid=4200", "probe=10.0.0.2 8000 timeout", "probe=10.0.0.1 7000 open", "probe=10.0.0.1 8000 open", "probe=10.0.0.2 7000 open"))
	rep, err := c.CheckHosts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != LevelFail {
		t.Fatalf("verdict %s, want fail", rep.Verdict)
	}
	want := []string{
		"node2 -> node1 sentinel port 8000: refused although sentinel runs there",
		"node3 -> node2 sentinel port 8000: blocked (no answer in 2s)",
	}
	if got := rep.BlockedPaths(); !reflect.DeepEqual(got, want) {
		t.Errorf("blocked paths:\n got %q\nwant %q", got, want)
	}
	f := finding(t, rep, "node3 -> node2", "sentinel port 8000")
	if f.From != "node3" || f.To != "node2" || f.Port != 8000 ||
		f.Fix != "a firewall drops it; open TCP port 8000 on node2 (10.0.0.2) to node3 (10.0.0.3): sentinels that cannot reach each other never agree on a failover" {
		t.Errorf("finding %+v", f)
	}
}

func TestCheckClocks(t *testing.T) {
	inv := testInventory(t)
	c := &Cluster{Inv: inv, Layout: inv.Layout()}
	for i := range inv.Hosts {
		c.Nodes = append(c.Nodes, &Node{Spec: &inv.Hosts[i]})
	}
	base := time.Unix(1767225600, 0)
	at := func(offset float64) *hostTuning {
		return &hostTuning{Clock: float64(base.Unix()) + 0.010 + offset, Before: base, Answer: base.Add(20 * time.Millisecond)}
	}
	got := clockFindings(c, map[string]*hostTuning{"node1": at(0), "node2": at(0.5), "node3": at(-2)})
	want := []Finding{
		{Host: "node1", Check: "clock", Value: "+0.000s from this machine (±0.010s)", Verdict: LevelOK},
		{Host: "node2", Check: "clock", Value: "+0.500s from this machine (±0.010s)", Verdict: LevelOK},
		{Host: "node3", Check: "clock", Value: "-2.000s from this machine (±0.010s)", Verdict: LevelWarn,
			Fix: "the clocks differ by more than 1s: run NTP on every host (log times and failover timings are compared across hosts)"},
		{Check: "clock skew between hosts", Value: "2.500s (node3 to node2)", Verdict: LevelWarn, Fix: "run NTP on every host"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("clock findings:\n got %+v\nwant %+v", got, want)
	}
}

func sampleReport() *TuningReport {
	rep := &TuningReport{Findings: []Finding{
		{Host: "node1", Check: "vm.overcommit_memory", Value: "0", Verdict: LevelWarn, Fixable: true, Fix: "set vm.overcommit_memory = 1"},
		{Host: "node1", Check: "memory", Value: "6.0GiB available; maxmemory not set", Verdict: LevelOK},
		{Host: "node1 -> node2", Check: "sentinel port 8000", From: "node1", To: "node2", Port: 8000, Value: "open", Verdict: LevelOK},
		{Host: "node2 -> node1", Check: "sentinel port 8000", From: "node2", To: "node1", Port: 8000, Value: "blocked (no answer in 2s)", Verdict: LevelFail, Fix: "open it"},
		{Check: "clock skew between hosts", Value: "0.010s (node1 to node2)", Verdict: LevelOK},
	}}
	rep.decide()
	return rep
}

func TestCheckJSON(t *testing.T) {
	data, err := json.Marshal(sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Verdict  string           `json:"verdict"`
		Findings []map[string]any `json:"findings"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Verdict != "fail" || len(doc.Findings) != 5 {
		t.Fatalf("verdict %q, %d findings: %s", doc.Verdict, len(doc.Findings), data)
	}
	want := map[string]any{"host": "node2 -> node1", "check": "sentinel port 8000", "value": "blocked (no answer in 2s)",
		"verdict": "fail", "fix": "open it", "fixable": false, "from": "node2", "to": "node1", "port": float64(8000)}
	if !reflect.DeepEqual(doc.Findings[3], want) {
		t.Errorf("path finding:\n got %v\nwant %v", doc.Findings[3], want)
	}
}

// --apply on a SysV host: the sysctl file written and applied, the THP
// init script installed, enabled and run, all recorded in the manifest.
func TestApplyTuningSysV(t *testing.T) {
	c, hosts := checkCluster(t, freshFacts, tuned("overcommit=0", "somaxconn=128", "thp=always"))
	h := hosts[0]
	h.Answer(`^sysctl -q -p /etc/sysctl\.d/60-redisctl\.conf$`, fakehost.Result{})
	h.Answer(`update-rc\.d redisctl-thp defaults`, fakehost.Result{Stdout: "enabled\n"})
	h.Answer(`^/etc/init\.d/redisctl-thp restart$`, fakehost.Result{})
	h.Answer(`^cat /sys/kernel/mm/transparent_hugepage/enabled$`, fakehost.Result{Stdout: "always madvise [never]\n"})
	rep, err := c.CheckHosts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var did []string
	refused, err := c.ApplyTuning(context.Background(), rep, func(n *Node, what string, apply func() error) error {
		did = append(did, n.Spec.Name+": "+what)
		return apply()
	})
	if err != nil || len(refused) != 0 {
		t.Fatalf("ApplyTuning: %v, refused %q", err, refused)
	}
	wantDid := []string{
		"node1: write /etc/sysctl.d/60-redisctl.conf (vm.overcommit_memory = 1, net.core.somaxconn = 511) and apply it",
		"node1: turn transparent huge pages off now and at boot (service redisctl-thp)",
	}
	if !reflect.DeepEqual(did, wantDid) {
		t.Errorf("changes:\n got %q\nwant %q", did, wantDid)
	}
	f, ok := h.File(SysctlFile)
	wantFile := sysctlHeader + "vm.overcommit_memory = 1\nnet.core.somaxconn = 511\n"
	if !ok || string(f.Data) != wantFile || f.Mode != 0o644 || f.Owner != "" {
		t.Errorf("%s: %q %v %q", SysctlFile, f.Data, f.Mode, f.Owner)
	}
	if f, ok := h.File("/etc/init.d/redisctl-thp"); !ok || f.Mode != 0o755 || !strings.HasPrefix(string(f.Data), "#!/bin/sh\n") {
		t.Errorf("THP init script not installed (mode 0755): %v", ok)
	}
	wantCalls := []string{
		"put /etc/sysctl.d/60-redisctl.conf", "put /var/lib/redisctl/mymaster.manifest.json",
		"sysctl -q -p /etc/sysctl.d/60-redisctl.conf",
		"put /etc/init.d/redisctl-thp", sysvInit{}.EnableCmd(THPService), "put /var/lib/redisctl/mymaster.manifest.json",
		"/etc/init.d/redisctl-thp restart", "cat /sys/kernel/mm/transparent_hugepage/enabled",
	}
	calls := h.Calls()[1:] // after the facts script
	if !reflect.DeepEqual(calls, wantCalls) {
		t.Errorf("calls:\n got %q\nwant %q", calls, wantCalls)
	}
	m := c.Nodes[0].Manifest
	if !reflect.DeepEqual(m.Created, []string{SysctlFile, "/etc/init.d/redisctl-thp"}) ||
		!reflect.DeepEqual(m.Services, []string{THPService}) || !reflect.DeepEqual(m.Enabled, []string{THPService}) {
		t.Errorf("manifest: created %q services %q enabled %q", m.Created, m.Services, m.Enabled)
	}
	// Nothing to fix on the other hosts: nothing ran there.
	for _, o := range hosts[1:] {
		if calls := o.Calls(); len(calls) != 1 {
			t.Errorf("%s ran %q", o.Name(), calls)
		}
	}
}

// On systemd the THP fix is a unit; somaxconn is never lowered; a sysctl
// file redisctl did not write is left alone and said so.
func TestApplyTuningSystemd(t *testing.T) {
	systemdFacts := strings.Replace(freshFacts, "init=sysv", "init=systemd", 1)
	c, hosts := checkCluster(t, systemdFacts, tuned("init=systemd", "thp=always"), tuned("overcommit=2", "sysctl_file=vm.swappiness = 1"))
	h := hosts[0]
	h.Answer(`^systemctl daemon-reload && systemctl enable redisctl-thp && echo enabled$`, fakehost.Result{Stdout: "enabled\n"})
	h.Answer(`^systemctl restart redisctl-thp$`, fakehost.Result{})
	h.Answer(`^cat /sys/kernel/mm/transparent_hugepage/enabled$`, fakehost.Result{Stdout: "always madvise [never]\n"})
	rep, err := c.CheckHosts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	refused, err := c.ApplyTuning(context.Background(), rep, func(n *Node, what string, apply func() error) error { return apply() })
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := h.File("/etc/systemd/system/redisctl-thp.service"); !ok || f.Mode != 0o644 {
		t.Errorf("THP unit not installed (mode 0644)")
	}
	want := []string{"node2: /etc/sysctl.d/60-redisctl.conf exists and was not written by redisctl; set vm.overcommit_memory = 1 and net.core.somaxconn >= 511 there or elsewhere in /etc/sysctl.d"}
	if !reflect.DeepEqual(refused, want) {
		t.Errorf("refused:\n got %q\nwant %q", refused, want)
	}
	if got := sysctlContent(parseTuning(tuned("overcommit=0", "somaxconn=4096")), 511); got != sysctlHeader+"vm.overcommit_memory = 1\nnet.core.somaxconn = 4096\n" {
		t.Errorf("somaxconn lowered or dropped: %q", got)
	}
}

// In a container the kernel settings are read-only: the failure says where
// to set them instead.
func TestApplyTuningReadOnlyKernel(t *testing.T) {
	c, hosts := checkCluster(t, freshFacts, tuned("overcommit=0"))
	hosts[0].Answer(`^sysctl -q -p`, fakehost.Result{Status: 255, Stderr: "sysctl: permission denied on key \"vm.overcommit_memory\"\n"})
	rep, err := c.CheckHosts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ApplyTuning(context.Background(), rep, func(n *Node, what string, apply func() error) error { return apply() })
	if err == nil || !strings.Contains(err.Error(), "set vm.overcommit_memory=1 net.core.somaxconn=4096 on the machine that runs it") {
		t.Errorf("error: %v", err)
	}
}
