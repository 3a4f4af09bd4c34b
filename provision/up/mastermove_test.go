package up

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redisctl/redisctl/provision"
)

// The graceful failover's parts, on the simulated cluster of
// restart_test.go (rollingSim): node1 master, a sentinel asked for
// SENTINEL FAILOVER promotes node2.

// waitPromoted gives up at its bound and says what it waited for and what
// the replicas last reported.
func TestWaitPromotedBound(t *testing.T) {
	s := newRollingSim(t)
	start := time.Now()
	n, err := s.WaitPromoted(rollingCtx(t), s.Node("node1"), 300*time.Millisecond)
	took := time.Since(start)
	var we *provision.WaitError
	if !errors.As(err, &we) {
		t.Fatalf("err = %v (%T), want a *WaitError", err, err)
	}
	if we.Expected != "a replica of node1 to be promoted" || we.Seen != "node2: slave, node3: slave" {
		t.Errorf("waited for %q, last seen %q", we.Expected, we.Seen)
	}
	if n != nil {
		t.Errorf("returned %s with the error", n.Spec.Name)
	}
	if took < 300*time.Millisecond || took > 1500*time.Millisecond {
		t.Errorf("gave up after %s, want its bound of 300ms", took)
	}
}

// waitPromoted returns the replica that reports role:master, even while
// another replica does not answer; the old master is not asked.
func TestWaitPromotedFindsThePromotedReplica(t *testing.T) {
	s := newRollingSim(t)
	s.mu.Lock()
	s.stopped["node2 redis"] = true
	s.mu.Unlock()
	polls := 0
	s.data["node3"].Reply("INFO", func([]string) any {
		s.mu.Lock()
		defer s.mu.Unlock()
		if polls++; polls < 3 {
			return replicaInfo("10.0.0.1", "up")
		}
		return masterInfo()
	})
	n, err := s.WaitPromoted(rollingCtx(t), s.Node("node1"), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if n != s.Node("node3") {
		t.Errorf("found %s, want node3", n.Spec.Name)
	}
	if slices.Contains(s.data["node1"].Commands(), "INFO") {
		t.Errorf("the old master was asked: %q", s.data["node1"].Commands())
	}
}

// gracefulFailover asks for the failover only once every replica has
// reached the paused master's offset; one that never does fails it before
// SENTINEL FAILOVER is sent, and the pause is lifted.
func TestGracefulFailoverReplicaNeverCatchesUp(t *testing.T) {
	s := newRollingSim(t)
	s.lagAtPause["node3"] = 1 << 30
	ctx, cancel := context.WithTimeout(t.Context(), 400*time.Millisecond)
	defer cancel()
	unpause, err := s.GracefulFailover(ctx, s.Node("node1"))
	if err == nil || !strings.Contains(err.Error(), "every replica to reach the master's replication offset") {
		t.Fatalf("err = %v, want the wait for the replicas named", err)
	}
	if unpause != nil {
		t.Error("returned an unpause step with its error: the caller would lift the pause twice")
	}
	want := []string{"node1: CLIENT PAUSE 360000 WRITE", "node1: client unpause"}
	if got := s.Events(); !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	if got := s.changingCommands(); !slices.Equal(got, []string{"node1 redis: CLIENT PAUSE", "node1 redis: CLIENT UNPAUSE"}) {
		t.Errorf("commands that change something: %q, want no SENTINEL FAILOVER", got)
	}
}

// A sentinel that refuses the failover fails it, and the pause is lifted.
func TestGracefulFailoverRefusedLiftsThePause(t *testing.T) {
	s := newRollingSim(t)
	s.sentinel["node1"].Reply("SENTINEL FAILOVER", respError("NOGOODSLAVE No suitable replica to promote"))
	unpause, err := s.GracefulFailover(rollingCtx(t), s.Node("node1"))
	if err == nil || !strings.Contains(err.Error(), "NOGOODSLAVE") || unpause != nil {
		t.Fatalf("err = %v, unpause set: %v; want the sentinel's refusal", err, unpause != nil)
	}
	if got := s.changingCommands(); !slices.Equal(got, []string{"node1 redis: CLIENT PAUSE", "node1 redis: CLIENT UNPAUSE", "node1 sentinel: SENTINEL FAILOVER"}) {
		t.Errorf("commands that change something: %q", got)
	}
	if got, want := s.Events(), []string{"node1: CLIENT PAUSE 360000 WRITE", "node1: client unpause"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

// A master that refuses the pause is not failed over, and nothing is
// lifted that was not paused.
func TestGracefulFailoverPauseRefused(t *testing.T) {
	s := newRollingSim(t)
	s.data["node1"].Reply("CLIENT PAUSE", respError("ERR syntax error"))
	_, err := s.GracefulFailover(rollingCtx(t), s.Node("node1"))
	if err == nil || !strings.Contains(err.Error(), "pause writes on node1") {
		t.Fatalf("err = %v, want the pause's failure", err)
	}
	if got := s.changingCommands(); !slices.Equal(got, []string{"node1 redis: CLIENT PAUSE"}) {
		t.Errorf("commands that change something: %q", got)
	}
}

// demote sends REPLICAOF the new master, then CONFIG REWRITE, to the old
// master and nothing else.
func TestDemote(t *testing.T) {
	s := newRollingSim(t)
	if err := s.Demote(rollingCtx(t), s.Node("node1"), s.Node("node3")); err != nil {
		t.Fatal(err)
	}
	if got, want := s.Events(), []string{"node1: REPLICAOF 10.0.0.3 7000", "node1: CONFIG REWRITE"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	s.data["node2"].Reply("CONFIG REWRITE", respError("ERR Rewriting config file: Permission denied"))
	err := s.Demote(rollingCtx(t), s.Node("node2"), s.Node("node3"))
	if err == nil || !strings.Contains(err.Error(), "node2: CONFIG REWRITE after REPLICAOF") || !strings.Contains(err.Error(), "Permission denied") {
		t.Errorf("err = %v, want CONFIG REWRITE's failure", err)
	}
}
