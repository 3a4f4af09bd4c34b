package provision

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The day-2 paths that now read one observation, against fake servers.

// failedOver makes node2 the master the sentinels name, node1 down.
func failedOver(fc *fakeCluster, sentinels ...string) {
	fc.data["node1"].Reply("INFO", respError("LOADING"))
	fc.data["node2"].Reply("INFO", masterInfo("10.0.0.3 online"))
	fc.data["node3"].Reply("INFO", replicaInfo("10.0.0.2", "up"))
	for _, n := range sentinels {
		fc.sentinel[n].Reply("SENTINEL MASTER", sentinelMaster("10.0.0.2", "master"))
	}
}

func TestWaitNewMaster(t *testing.T) {
	t.Parallel()
	t.Run("every sentinel names node2", func(t *testing.T) {
		t.Parallel()
		fc := newFakeCluster(t)
		failedOver(fc, "node1", "node2", "node3")
		m, err := fc.WaitNewMaster(t.Context(), fc.Node("node1"), time.Second)
		if err != nil || m == nil || m.Spec.Name != "node2" {
			t.Fatalf("waitNewMaster = %v, %v; want node2", m, err)
		}
		for _, c := range fc.data["node1"].Commands() {
			if c == "INFO" {
				t.Errorf("the old master was asked INFO; it may be paused")
			}
		}
	})
	t.Run("one sentinel still names the old master", func(t *testing.T) {
		t.Parallel()
		fc := newFakeCluster(t)
		failedOver(fc, "node1", "node2")
		_, err := fc.WaitNewMaster(t.Context(), fc.Node("node1"), 500*time.Millisecond)
		var we *WaitError
		if !errors.As(err, &we) || we.Seen != "node1 names 10.0.0.2:7000, node2 names 10.0.0.2:7000, node3 names 10.0.0.1:7000" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("the sentinels' choice is not master yet", func(t *testing.T) {
		t.Parallel()
		fc := newFakeCluster(t)
		failedOver(fc, "node1", "node2", "node3")
		fc.data["node2"].Reply("INFO", replicaInfo("10.0.0.1", "down"))
		_, err := fc.WaitNewMaster(t.Context(), fc.Node("node1"), 500*time.Millisecond)
		var we *WaitError
		if !errors.As(err, &we) || !strings.HasSuffix(we.Seen, "; node2 does not report role master yet") {
			t.Fatalf("err = %v", err)
		}
	})
}

// checkStaleMaster reads the sentinels' flags and the running servers'
// offsets from the snapshot up took.
func TestCheckStaleMasterFromSnapshot(t *testing.T) {
	fc := newFakeCluster(t)
	for _, n := range fc.Nodes {
		n.Facts = &Facts{RedisPid: 4100, SentinelPid: 4200}
	}
	m := fc.Node("node1")
	m.Facts.RedisPid = 0 // down, and no config: it would start empty
	fc.data["node1"].Reply("INFO", respError("ERR connection refused"))
	fc.sentinel["node3"].Reply("SENTINEL MASTER", sentinelMaster("10.0.0.1", "master,s_down"))
	fc.sentinel["node2"].Reply("SENTINEL MASTER", respError("ERR busy"))

	err := fc.CheckStaleMaster(t.Context(), m, fc.Observe(t.Context()))

	var se *StaleMasterError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a *StaleMasterError", err)
	}
	want := []string{
		"node2 is at replication offset 1000, but node1 would load offset 0 (no config yet: an empty dataset): 1000 bytes of writes would be lost",
		"node3 is at replication offset 1000, but node1 would load offset 0 (no config yet: an empty dataset): 1000 bytes of writes would be lost",
		"the sentinel on node2 is running but does not answer (ERR busy): whether a failover is under way cannot be told",
		`the sentinel on node3 flags node1 "master,s_down": a failover is due`,
	}
	if got := strings.Join(se.Reasons, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("reasons:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// uninstall's master is the analysis's: the one the sentinels name, not
// the first node that reports role:master.
func TestUninstallCurrentMasterIgnoresAStaleMaster(t *testing.T) {
	fc := newFakeCluster(t)
	for _, n := range fc.Nodes {
		n.Facts = &Facts{RedisPid: 4100}
	}
	failedOver(fc, "node1", "node2", "node3")
	fc.data["node1"].Reply("INFO", masterInfo()) // came back with its old config
	m, why := fc.currentMaster(t.Context(), fc.Nodes)
	if m == nil || m.Spec.Name != "node2" {
		t.Fatalf("currentMaster = %v (%s), want node2", m, why)
	}
}
