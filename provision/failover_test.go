package provision

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redisctl/redisctl/provision/remote/fakehost"
)

// FailoverTest against a fake cluster that fails over (ftLab, in
// failovertest_helpers_test.go): each mode fails node1 its own way, the
// sentinels promote node2, and the report, the commands each host and
// server received and their order are checked.

// ftHostCalls returns the commands run on a host that match pattern.
func ftHostCalls(h *testHost, pattern string) []string {
	re := regexp.MustCompile(pattern)
	var out []string
	for _, c := range h.Calls() {
		if re.MatchString(c) {
			out = append(out, c)
		}
	}
	return out
}

// ftWantOrder checks that the lab's log has each event, in this order.
func ftWantOrder(t *testing.T, log []string, events ...string) {
	t.Helper()
	at := -1
	for _, e := range events {
		i := slices.Index(log, e)
		if i < 0 {
			t.Errorf("lab log lacks %q:\n  %s", e, strings.Join(log, "\n  "))
			return
		}
		if i < at {
			t.Errorf("lab log has %q before %q:\n  %s", e, log[at], strings.Join(log, "\n  "))
			return
		}
		at = i
	}
}

// ftReceived reports whether a fake server received cmd.
func ftReceived(s *fakeRedis, cmd string) bool {
	return slices.Contains(s.Commands(), cmd)
}

const (
	ftKillCmds    = `^kill `
	ftServiceCmds = `^/etc/init\.d/redis_7000 `
)

func TestFailoverTestModes(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{ModeStop, ModeKill, ModePause, ModeManual} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			l := newFTLab(t)
			rep, took, err := l.failoverTest(t, t.Context(), FailoverOptions{Mode: mode})
			t.Logf("%s: %s, report %+v", mode, took, rep)
			if err != nil {
				t.Fatalf("FailoverTest: %v", err)
			}
			log := l.Log()

			// The report.
			if rep.Mode != mode || rep.OldMaster != "node1" || rep.NewMaster != "node2" {
				t.Errorf("mode %q, old master %q, new master %q; want %s, node1, node2", rep.Mode, rep.OldMaster, rep.NewMaster, mode)
			}
			// Twenty acknowledged writes before the failure, twenty after
			// it, once the writer found the new master by itself.
			if rep.WritesAcked < 40 {
				t.Errorf("%d writes acknowledged, want at least 40", rep.WritesAcked)
			}
			if n := l.setsOn("node2"); n < 20 {
				t.Errorf("node2 took %d of the writer's writes, want at least 20 once it is master", n)
			}
			// ... after the sentinels agreed and before the old master
			// comes back (pause mode only waits for the sentinels to
			// convert it: nothing the lab sees).
			l.mu.Lock()
			agreed, back := l.agreedAfter, l.backAfter
			l.mu.Unlock()
			if mode != ModePause && (agreed < 0 || back-agreed < 20) {
				t.Errorf("node2 took writes %d to %d between the sentinels' agreement and node1's return, want at least 20", agreed, back)
			}
			if done := rep.WritesAcked + rep.WritesFailed; rep.WritesAttempted < done || rep.WritesAttempted > done+1 {
				t.Errorf("%d writes attempted, %d acknowledged, %d failed: they do not add up", rep.WritesAttempted, rep.WritesAcked, rep.WritesFailed)
			}
			if rep.AckedMissing != 0 {
				t.Errorf("%d acknowledged writes missing, want none: every write reached node2", rep.AckedMissing)
			}
			// The sentinels act reactAfter (and more) after the failure.
			if rep.AgreementSeconds < l.reactAfter.Seconds() {
				t.Errorf("agreement after %.2fs, before the sentinels even reacted (%s)", rep.AgreementSeconds, l.reactAfter)
			}
			if rep.RestoreSeconds == nil {
				t.Error("a restore ran and the report has no restore_seconds")
			}
			if !rep.Restored || rep.FinalVerdict != Healthy || len(rep.FinalProblems) != 0 {
				t.Errorf("restored %v, final verdict %s %v; want restored and healthy", rep.Restored, rep.FinalVerdict, rep.FinalProblems)
			}

			// The old master is a replica of the new one.
			l.mu.Lock()
			n1 := *l.nodes["node1"]
			l.mu.Unlock()
			if !n1.running || n1.frozen != nil || n1.writesHeld != nil || n1.role != "slave" || n1.masterIP != "10.0.0.2" {
				t.Errorf("node1 after the test: running %v, frozen %v, writes held %v, role %s of %s; want a running replica of 10.0.0.2",
					n1.running, n1.frozen != nil, n1.writesHeld != nil, n1.role, n1.masterIP)
			}
			// Every acknowledged write was read back from the new master
			// (only), and the test's keys are gone from it afterwards.
			if !ftReceived(l.data["node2"], "MGET") || ftReceived(l.data["node1"], "MGET") || ftReceived(l.data["node3"], "MGET") {
				t.Errorf("MGET: node1 %v, node2 %v, node3 %v; want node2 only",
					ftReceived(l.data["node1"], "MGET"), ftReceived(l.data["node2"], "MGET"), ftReceived(l.data["node3"], "MGET"))
			}
			for _, name := range []string{"node1", "node2", "node3"} {
				for k := range l.kvOf(name) {
					if strings.HasPrefix(k, "redisctl:failover-test:") {
						t.Errorf("%s still holds the test key %s", name, k)
						break
					}
				}
			}
			// Nothing was done to the replicas' hosts.
			for _, h := range l.hosts[1:] {
				if c := ftHostCalls(h, ftKillCmds+"|"+ftServiceCmds); len(c) > 0 {
					t.Errorf("%s ran %q; only node1 is failed", h.Name(), c)
				}
			}

			node1 := l.hosts[0]
			kills := ftHostCalls(node1, ftKillCmds)
			services := ftHostCalls(node1, ftServiceCmds)
			var detection []string
			if rep.DetectionSeconds != nil {
				detection = append(detection, "detection")
			}
			if rep.ODownSeconds != nil {
				detection = append(detection, "odown")
			}
			js, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			if rep.PromotionSeconds == nil || !strings.Contains(string(js), `"promotion_seconds":`) {
				t.Errorf("no promotion time, though the sentinels published +switch-master: %s", js)
			}

			if mode != ModeManual {
				if rep.DetectionSeconds == nil || rep.ODownSeconds == nil || rep.PromotionSeconds == nil {
					t.Fatalf("sentinel events seen: %v, want +sdown, +odown and +switch-master: %s", detection, js)
				}
				if *rep.DetectionSeconds < l.reactAfter.Seconds() || *rep.DetectionSeconds > *rep.ODownSeconds || *rep.ODownSeconds > *rep.PromotionSeconds {
					t.Errorf("detection %.2fs, odown %.2fs, promotion %.2fs: want them in order, the first at least %s after the failure",
						*rep.DetectionSeconds, *rep.ODownSeconds, *rep.PromotionSeconds, l.reactAfter)
				}
				// No write can succeed between the failure and the promotion.
				if rep.UnwritableSeconds < l.reactAfter.Seconds() {
					t.Errorf("unwritable for %.2fs, want at least %s", rep.UnwritableSeconds, l.reactAfter)
				}
				for _, s := range l.sentinel {
					if ftReceived(s, "SENTINEL FAILOVER") {
						t.Errorf("%s received SENTINEL FAILOVER in mode %s", s.Name(), mode)
					}
				}
				for _, d := range l.data {
					if ftReceived(d, "CLIENT PAUSE") || ftReceived(d, "REPLICAOF") {
						t.Errorf("%s received CLIENT PAUSE or REPLICAOF in mode %s: %v", d.Name(), mode, d.Commands())
					}
				}
			}

			switch mode {
			case ModeStop:
				if !slices.Equal(kills, nil) || !slices.Equal(services, []string{"/etc/init.d/redis_7000 stop", "/etc/init.d/redis_7000 start"}) {
					t.Errorf("node1 ran %q and %q; want the service stopped, then started", kills, services)
				}
			case ModeKill:
				if !slices.Equal(kills, []string{"kill -KILL 4100"}) || !slices.Equal(services, []string{"/etc/init.d/redis_7000 start"}) {
					t.Errorf("node1 ran %q and %q; want one kill -KILL of its redis, then the service started", kills, services)
				}
			case ModePause:
				if !slices.Equal(kills, []string{"kill -STOP 4100", "kill -CONT 4100"}) || len(services) != 0 {
					t.Errorf("node1 ran %q and %q; want kill -STOP, then kill -CONT, once each, and no service command", kills, services)
				}
				// Resumed once every sentinel named node2, not before.
				ftWantOrder(t, log, "node1: kill -STOP 4100", "sentinels: promote node2", "node1: kill -CONT 4100")
			case ModeManual:
				if len(kills) != 0 || len(services) != 0 {
					t.Errorf("node1 ran %q and %q; a graceful failover signals nothing", kills, services)
				}
				if detection != nil || strings.Contains(string(js), "detection_seconds") || strings.Contains(string(js), "odown_seconds") {
					t.Errorf("a graceful failover reports %v (a replica's +sdown is no detection of the master): %s", detection, js)
				}
				// Writes paused, the replicas caught up, the failover asked
				// of one sentinel, the old master made a replica before its
				// writes resume.
				pause := "node1: CLIENT PAUSE ? WRITE"
				if i := slices.IndexFunc(log, regexp.MustCompile(`^node1: CLIENT PAUSE \d{5,} WRITE$`).MatchString); i >= 0 {
					pause = log[i]
				}
				ftWantOrder(t, log, pause, "node1 sentinel: SENTINEL FAILOVER mymaster",
					"sentinels: promote node2", "node1: REPLICAOF 10.0.0.2 7000", "node1: CONFIG REWRITE", "node1: CLIENT UNPAUSE")
				for name, s := range l.sentinel {
					if got := ftReceived(s, "SENTINEL FAILOVER"); got != (name == "node1") {
						t.Errorf("%s received SENTINEL FAILOVER: %v; want node1's sentinel only", s.Name(), got)
					}
				}
				for _, name := range []string{"node2", "node3"} {
					if d := l.data[name]; ftReceived(d, "CLIENT PAUSE") || ftReceived(d, "REPLICAOF") {
						t.Errorf("%s received %v; only node1 is paused and demoted", name, d.Commands())
					}
				}
			}

			// Stop and kill restore the old master through its config:
			// replicaof the new master is written before it starts, so it
			// never comes back as a second master. Pause and manual leave
			// its files alone.
			conf, _ := node1.File(l.Layout.RedisConf)
			hasReplicaof := regexp.MustCompile(`(?m)^replicaof 10\.0\.0\.2 7000$`).Match(conf.Data)
			if mode == ModeStop || mode == ModeKill {
				if !hasReplicaof {
					t.Errorf("node1's %s has no replicaof 10.0.0.2 7000:\n%s", l.Layout.RedisConf, conf.Data)
				}
				ftWantOrder(t, log, "sentinels: promote node2", "node1: /etc/init.d/redis_7000 start", "node1: redis starts as slave 10.0.0.2")
			} else if hasReplicaof || len(ftHostCalls(node1, `^put `)) != 0 {
				t.Errorf("mode %s wrote files on node1: %q", mode, ftHostCalls(node1, `^put `))
			}
		})
	}
}

// Without the restore the old master is left failed, and the report
// says what the cluster is then, without an error.
func TestFailoverTestNoRestore(t *testing.T) {
	t.Parallel()
	l := newFTLab(t)
	rep, took, err := l.failoverTest(t, t.Context(), FailoverOptions{Mode: ModeStop, NoRestore: true})
	t.Logf("%s, report %+v", took, rep)
	if err != nil {
		t.Fatalf("FailoverTest: %v", err)
	}
	if rep.NewMaster != "node2" || rep.Restored || rep.RestoreSeconds != nil || rep.AckedMissing != 0 || rep.WritesAcked < 40 {
		t.Errorf("report: new master %q, restored %v (%v s), %d missing of %d acknowledged",
			rep.NewMaster, rep.Restored, rep.RestoreSeconds, rep.AckedMissing, rep.WritesAcked)
	}
	if got := ftHostCalls(l.hosts[0], ftServiceCmds); !slices.Equal(got, []string{"/etc/init.d/redis_7000 stop"}) {
		t.Errorf("node1 ran %q; want the stop only", got)
	}
	if rep.FinalVerdict != Degraded || !slices.ContainsFunc(rep.FinalProblems, func(p string) bool {
		return strings.HasPrefix(p, "node1: redis is not answering")
	}) {
		t.Errorf("final verdict %s, problems %q; want degraded, node1 not answering", rep.FinalVerdict, rep.FinalProblems)
	}
}

// Writes that never reached the new master are counted: after a kill
// they are the price of asynchronous replication (a note); after a
// graceful failover, which pauses writes until the replicas caught up,
// they are an error.
func TestFailoverTestCountsLostWrites(t *testing.T) {
	t.Parallel()
	t.Run("kill", func(t *testing.T) {
		t.Parallel()
		l := newFTLab(t)
		l.loseLast = 3 // the master's last three writes never left it
		rep, _, err := l.failoverTest(t, t.Context(), FailoverOptions{Mode: ModeKill})
		if err != nil {
			t.Fatalf("FailoverTest: %v", err)
		}
		// The writer waits for each reply before the next write, so of
		// the last three the master set at least two were acknowledged.
		if rep.AckedMissing < 2 || rep.AckedMissing > 3 {
			t.Errorf("%d acknowledged writes missing, want 2 or 3", rep.AckedMissing)
		}
		if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.HasPrefix(n, "replication is asynchronous") }) {
			t.Errorf("notes %q do not explain the loss", rep.Notes)
		}
	})
	t.Run("manual", func(t *testing.T) {
		t.Parallel()
		l := newFTLab(t)
		// node2 drops what it replicates while it reports the master's
		// offset: what node1 acknowledged is not on the new master.
		l.unreplicated["node2"] = true
		rep, _, err := l.failoverTest(t, t.Context(), FailoverOptions{Mode: ModeManual})
		if err == nil || !strings.Contains(err.Error(), "acknowledged writes are missing after a graceful failover") {
			t.Fatalf("err = %v, want the missing writes", err)
		}
		if rep == nil || rep.AckedMissing < 20 || !strings.HasPrefix(err.Error(), strconv.Itoa(rep.AckedMissing)+" acknowledged") {
			t.Fatalf("report %+v, err %v: want the 20 or more writes node1 acknowledged counted missing", rep, err)
		}
		if !slices.ContainsFunc(rep.Notes, func(n string) bool {
			return strings.HasPrefix(n, "a graceful failover should lose no acknowledged write")
		}) {
			t.Errorf("notes %q", rep.Notes)
		}
	})
}

// An unhealthy cluster is refused before anything is changed. (The
// preflight gives the cluster five seconds to become healthy; the
// context's deadline cuts that short.)
func TestFailoverTestPreflightRefusal(t *testing.T) {
	t.Parallel()
	l := newFTLab(t)
	l.mu.Lock()
	l.nodes["node3"].running = false
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	rep, took, err := l.failoverTest(t, ctx, FailoverOptions{Mode: ModeKill})
	var pe *PreflightError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *PreflightError", err)
	}
	if rep != nil {
		t.Errorf("a report from a refused test: %+v", rep)
	}
	msg := err.Error()
	if pe.Health.Verdict != Degraded || !strings.HasPrefix(msg, "refusing to test a failover: the cluster is degraded, nothing was changed:\n") ||
		!strings.Contains(msg, "\n  - node3: redis is not answering on 10.0.0.3:7000") {
		t.Errorf("verdict %s, error:\n%s", pe.Health.Verdict, msg)
	}
	// Nothing was changed: no signal, no service command, no write, no
	// pause, no failover asked.
	for _, h := range l.hosts {
		if c := ftHostCalls(h, ftKillCmds+"|"+ftServiceCmds+"|^put "); len(c) != 0 {
			t.Errorf("%s ran %q", h.Name(), c)
		}
	}
	for _, d := range l.data {
		for _, c := range []string{"SET", "CLIENT PAUSE", "REPLICAOF", "CONFIG REWRITE"} {
			if ftReceived(d, c) {
				t.Errorf("%s received %s", d.Name(), c)
			}
		}
	}
	for _, s := range l.sentinel {
		if ftReceived(s, "SENTINEL FAILOVER") {
			t.Errorf("%s received SENTINEL FAILOVER", s.Name())
		}
	}
	if log := l.Log(); len(log) != 0 {
		t.Errorf("the lab saw: %q", log)
	}
	t.Logf("took %s", took)
}

// No new master within the bound: the error is the wait's, naming what
// the sentinels said last; the old master is not restored, and a paused
// one is resumed all the same.
func TestFailoverTestNoNewMaster(t *testing.T) {
	t.Parallel()
	t.Run("the sentinels elect no one", func(t *testing.T) {
		t.Parallel()
		l := newFTLab(t)
		l.neverPromote = true
		l.shortBound(t, time.Second)
		rep, took, err := l.failoverTest(t, t.Context(), FailoverOptions{Mode: ModePause})
		var we *WaitError
		if !errors.As(err, &we) || we.Expected != "every sentinel to name the same new master" ||
			we.Seen != "node1 names 10.0.0.1:7000, node2 names 10.0.0.1:7000, node3 names 10.0.0.1:7000" {
			t.Fatalf("err = %v, want the wait for a new master, naming what each sentinel said", err)
		}
		if !strings.Contains(err.Error(), "last seen: node1 names 10.0.0.1:7000") || we.Waited < time.Second {
			t.Errorf("err = %v (waited %s)", err, we.Waited)
		}
		if rep == nil || rep.OldMaster != "node1" || rep.NewMaster != "" || rep.Restored {
			t.Errorf("report %+v", rep)
		}
		if got := ftHostCalls(l.hosts[0], ftKillCmds+"|"+ftServiceCmds); !slices.Equal(got, []string{"kill -STOP 4100", "kill -CONT 4100"}) {
			t.Errorf("node1 ran %q; want its redis stopped and resumed, nothing else", got)
		}
		l.mu.Lock()
		frozen := l.nodes["node1"].frozen != nil
		l.mu.Unlock()
		if frozen {
			t.Errorf("node1 is left frozen")
		}
		t.Logf("took %s", took)
	})
	t.Run("a graceful failover that does not happen", func(t *testing.T) {
		t.Parallel()
		l := newFTLab(t)
		l.neverPromote = true
		l.shortBound(t, time.Second)
		rep, took, err := l.failoverTest(t, t.Context(), FailoverOptions{Mode: ModeManual})
		var we *WaitError
		if !errors.As(err, &we) || we.Seen != "node1 names 10.0.0.1:7000, node2 names 10.0.0.1:7000, node3 names 10.0.0.1:7000" {
			t.Fatalf("err = %v, want the wait for a new master, naming what each sentinel said", err)
		}
		if rep == nil || rep.NewMaster != "" || rep.Restored {
			t.Errorf("report %+v", rep)
		}
		// node1 is still the master: its writes resume, it is not demoted.
		log := l.Log()
		ftWantOrder(t, log, "node1 sentinel: SENTINEL FAILOVER mymaster", "node1: CLIENT UNPAUSE")
		if slices.ContainsFunc(log, func(e string) bool { return strings.HasPrefix(e, "node1: REPLICAOF") }) {
			t.Errorf("node1 was demoted with no new master:\n  %s", strings.Join(log, "\n  "))
		}
		t.Logf("took %s", took)
	})
	t.Run("the sentinels' choice never becomes master", func(t *testing.T) {
		t.Parallel()
		l := newFTLab(t)
		l.stuckPromotion = true
		l.shortBound(t, time.Second)
		rep, took, err := l.failoverTest(t, t.Context(), FailoverOptions{Mode: ModeKill})
		var we *WaitError
		if !errors.As(err, &we) ||
			we.Seen != "node1 names 10.0.0.2:7000, node2 names 10.0.0.2:7000, node3 names 10.0.0.2:7000; node2 does not report role master yet" {
			t.Fatalf("err = %v, want the wait for a new master, naming what was seen", err)
		}
		if rep == nil || rep.NewMaster != "" || rep.Restored {
			t.Errorf("report %+v", rep)
		}
		if got := ftHostCalls(l.hosts[0], ftKillCmds+"|"+ftServiceCmds); !slices.Equal(got, []string{"kill -KILL 4100"}) {
			t.Errorf("node1 ran %q; want the kill only, no restore", got)
		}
		t.Logf("took %s", took)
	})
}

// kill and pause signal the pid the server itself reports, and only when
// the pid file confirms it: otherwise nothing is signalled.
func TestFailoverTestRefusesAnUnconfirmedPid(t *testing.T) {
	t.Parallel()
	l := newFTLab(t)
	l.hosts[0].Answer(ftLivePidPattern(l.fakeCluster), fakehost.Result{Stdout: "999\n"})
	_, _, err := l.failoverTest(t, t.Context(), FailoverOptions{Mode: ModeKill})
	if err == nil || !strings.Contains(err.Error(), "node1: redis on port 7000 reports pid 4100, but "+l.Layout.RedisPid+" names pid 999; refusing to signal") {
		t.Fatalf("err = %v, want the pid mismatch", err)
	}
	for _, h := range l.hosts {
		if c := ftHostCalls(h, ftKillCmds); len(c) != 0 {
			t.Errorf("%s ran %q", h.Name(), c)
		}
	}
	if ftReceived(l.data["node1"], "SET") {
		t.Errorf("the writer started before the pid was confirmed")
	}
}

func TestFailoverTestUnknownMode(t *testing.T) {
	t.Parallel()
	conn := &testConnector{}
	_, err := FailoverTest(t.Context(), testInventory(t), FailoverOptions{Mode: "reboot", Connect: conn.Connect})
	if err == nil || err.Error() != `unknown mode "reboot" (want stop, kill, pause or manual)` || conn.Calls.Load() != 0 {
		t.Errorf("err = %v, %d connections; want the mode refused before connecting", err, conn.Calls.Load())
	}
}
