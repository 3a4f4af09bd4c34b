package provision

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The waits run against fake Redis servers with short timeouts; the
// subtests that wait run in parallel.

func TestWaitReplication(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	for _, tc := range []struct {
		name    string
		breakIt func(fc *fakeCluster)
		seen    string // "" means success
	}{
		{name: "every replica online", breakIt: func(*fakeCluster) {}},
		{
			name: "master lists one of two replicas",
			breakIt: func(fc *fakeCluster) {
				fc.data["node1"].Reply("INFO", masterInfo("10.0.0.2 online"))
			},
			seen: "node1 lists 1 online replicas; node2 up; node3 up",
		},
		{
			name: "replica link down",
			breakIt: func(fc *fakeCluster) {
				fc.data["node3"].Reply("INFO", replicaInfo("10.0.0.1", "down"))
			},
			seen: "node1 lists 2 online replicas; node2 up; node3 link down",
		},
		{
			name: "replica still syncing",
			breakIt: func(fc *fakeCluster) {
				fc.data["node1"].Reply("INFO", masterInfo("10.0.0.2 online", "10.0.0.3 wait_bgsave"))
			},
			seen: "node1 lists 1 online replicas; node2 up; node3 state=wait_bgsave",
		},
		{
			name: "replica still a master",
			breakIt: func(fc *fakeCluster) {
				fc.data["node1"].Reply("INFO", masterInfo("10.0.0.2 online"))
				fc.data["node3"].Reply("INFO", masterInfo())
			},
			seen: "node1 lists 1 online replicas; node2 up; node3 role master",
		},
		{
			name: "master refuses the password",
			breakIt: func(fc *fakeCluster) {
				fc.Password = "not-the-password"
			},
			seen: "node1: WRONGPASS invalid username-password pair",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fc := newFakeCluster(t)
			tc.breakIt(fc)
			master, replicas := fc.Node("node1"), []*Node{fc.Node("node2"), fc.Node("node3")}

			start := time.Now()
			err := fc.WaitReplication(t.Context(), master, replicas, timeout)

			if tc.seen == "" {
				if err != nil {
					t.Fatalf("WaitReplication: %v", err)
				}
				return
			}
			var we *WaitError
			if !errors.As(err, &we) {
				t.Fatalf("error is %T, want a *WaitError: %v", err, err)
			}
			if want := "node1 to list node2, node3 as online replicas with their links up"; we.Expected != want {
				t.Errorf("Expected = %q, want %q", we.Expected, want)
			}
			if !strings.Contains(we.Seen, tc.seen) {
				t.Errorf("Seen = %q, want it to contain %q", we.Seen, tc.seen)
			}
			if !regexp.MustCompile(`^waited 1(\.\d)?s for node1 to list .*; last seen: `).MatchString(err.Error()) {
				t.Errorf("message does not say how long it waited for what: %v", err)
			}
			if d := time.Since(start); d < timeout || d > timeout+2*time.Second {
				t.Errorf("gave up after %s, timeout %s", d, timeout)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	t.Run("healthy cluster with read-only replicas", func(t *testing.T) {
		t.Parallel()
		fc := newFakeCluster(t)
		if err := fc.Verify(t.Context(), fc.Node("node1"), time.Second); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		for _, r := range []string{"node2", "node3"} {
			if !slices.Contains(fc.data[r].Commands(), "SET") {
				t.Errorf("%s: Verify did not check that it refuses writes", r)
			}
		}
		if slices.Contains(fc.data["node1"].Commands(), "SET") {
			t.Errorf("Verify wrote to the master")
		}
	})
	t.Run("replica accepts writes", func(t *testing.T) {
		t.Parallel()
		fc := newFakeCluster(t)
		fc.data["node3"].Reply("SET", status("OK"))
		err := fc.Verify(t.Context(), fc.Node("node1"), time.Second)
		if err == nil || err.Error() != "node3: replica should refuse writes with READONLY, got <nil>" {
			t.Fatalf("Verify: %v", err)
		}
	})
	t.Run("sentinel cannot reach a peer", func(t *testing.T) {
		t.Parallel()
		fc := newFakeCluster(t)
		fc.sentinel["node1"].Reply("SENTINEL SENTINELS", []any{
			sentinelPeer("10.0.0.2", "sentinel", 300),
			sentinelPeer("10.0.0.3", "s_down,sentinel,disconnected", 42000),
		})
		err := fc.Verify(t.Context(), fc.Node("node1"), 500*time.Millisecond)
		var we *WaitError
		if !errors.As(err, &we) {
			t.Fatalf("error is %T, want a *WaitError: %v", err, err)
		}
		if want := "node1: sentinel cannot reach sentinel node3 (10.0.0.3:8000)"; !strings.Contains(we.Seen, want) {
			t.Errorf("Seen = %q, want it to contain %q", we.Seen, want)
		}
	})
}
