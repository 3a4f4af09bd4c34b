package provision

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/redisctl/redisctl/provision/internal/testkit"
	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote"
)

// Shared fixtures of the provision tests. The ones that need no provision
// type live in internal/testkit (shared with the subpackages' tests); the
// short names below keep the many tests that use them readable.

// Inventories (testkit.Inventory): three hosts, node1 master.
const testPassword = testkit.Password

var (
	testInventory = testkit.Inventory
	sha256Hex     = testkit.Sha256Hex
)

// Fake hosts and the connector handing them out.
type (
	testHost      = testkit.Host
	testConnector = testkit.Connector
)

const (
	freshFacts   = testkit.FreshFacts
	factsPattern = testkit.FactsPattern
)

var (
	newTestHost = testkit.NewHost
	freshHosts  = testkit.FreshHosts
)

// Host checks (check_test.go).
const (
	checkPattern = testkit.CheckPattern
	tunedHost    = testkit.TunedHost
)

var (
	checkReply = testkit.CheckReply
	tuned      = testkit.Tuned
)

// Fake Redis servers and their replies.
type (
	fakeRedis = testkit.FakeRedis
	status    = testkit.Status
	respError = testkit.RespError
)

var (
	masterInfo      = testkit.MasterInfo
	replicaInfo     = testkit.ReplicaInfo
	sentinelMaster  = testkit.SentinelMaster
	sentinelReplica = testkit.SentinelReplica
	sentinelPeer    = testkit.SentinelPeer
)

// TestTestkitMarkers pins the copies testkit keeps of provision's script
// markers (it cannot import provision): the fake hosts answer the lock,
// its round trip and the host checks by them.
func TestTestkitMarkers(t *testing.T) {
	for _, m := range []struct{ name, testkit, provision string }{
		{"afterAcquireDone", testkit.AfterAcquireDone, afterAcquireDone},
		{"partJoin", testkit.PartJoin, partJoin},
		{"prefetchTag", testkit.PrefetchTag, prefetchTag},
		{"checkScriptTag", testkit.CheckScriptTag, checkScriptTag},
	} {
		if m.testkit != m.provision {
			t.Errorf("testkit's %s is %q, provision's %q", m.name, m.testkit, m.provision)
		}
	}
	layout := testInventory(t).Layout()
	prelude := fmt.Sprintf(lockPrelude, remote.Quote(layout.StateDir), remote.Quote(lockFile(layout.StateDir, "mymaster")))
	if !regexp.MustCompile(testkit.LockCmdPattern).MatchString(prelude) {
		t.Errorf("testkit.LockCmdPattern %q does not match the lock scripts' start %q", testkit.LockCmdPattern, prelude)
	}
	if !regexp.MustCompile(checkPattern).MatchString(checkScriptTag + "\n") {
		t.Errorf("testkit.CheckPattern %q does not match the check script's start", checkPattern)
	}
}

// testProgress sends progress lines to the test log.
func testProgress(t *testing.T) *Progress {
	return NewProgress(testkit.LogWriter{T: t}, "", "test", false)
}

// runUp runs Up against the connector's fake hosts, with an empty build
// cache and short waits.
func runUp(t *testing.T, inv *inventory.Inventory, conn *testConnector) (*Summary, error) {
	t.Helper()
	p := testProgress(t)
	defer p.Close()
	return Up(context.Background(), inv, UpOptions{
		Connect:     conn.Connect,
		CacheDir:    t.TempDir(),
		Progress:    p,
		SyncTimeout: 2 * time.Second,
	})
}

// wantStep checks that err is a *StepError of step and returns its message.
func wantStep(t *testing.T, err error, step string) string {
	t.Helper()
	if err == nil {
		t.Fatalf("Up succeeded, want a failure at step %q", step)
	}
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("error is %T, want a *StepError: %v", err, err)
	}
	if se.Step != step {
		t.Fatalf("Up failed at step %q, want %q: %v", se.Step, step, err)
	}
	return err.Error()
}

// fakeCluster is a connected three-node cluster (the nodes of
// testInventory) on testkit's healthy servers (testkit.Servers): node1 is
// master with node2 and node3 online, every sentinel names node1, knows
// the two other sentinels and both replicas, and CKQUORUM is OK. Tests
// change replies to break it.
type fakeCluster struct {
	*Cluster
	data     map[string]*fakeRedis // by node name
	sentinel map[string]*fakeRedis
	hosts    []*testHost
}

func newFakeCluster(t *testing.T) *fakeCluster {
	t.Helper()
	inv := testInventory(t)
	c := &Cluster{Inv: inv, Layout: inv.Layout(), Password: testPassword, P: testProgress(t)}
	s := testkit.NewServers(t, inv)
	for i, h := range s.Hosts {
		c.Nodes = append(c.Nodes, &Node{Spec: &inv.Hosts[i], Host: h})
	}
	return &fakeCluster{Cluster: c, data: s.Data, sentinel: s.Sentinel, hosts: s.Hosts}
}
