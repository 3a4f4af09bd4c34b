package provision

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"testing"

	"github.com/redisctl/redisctl/provision/internal/testkit"
	"github.com/redisctl/redisctl/provision/remote"
	"github.com/redisctl/redisctl/provision/render"
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
	masterInfo     = testkit.MasterInfo
	replicaInfo    = testkit.ReplicaInfo
	sentinelMaster = testkit.SentinelMaster
	sentinelPeer   = testkit.SentinelPeer
)

// TestTestkitMarkers pins the copies testkit keeps of provision's script
// markers (it cannot import provision): the fake hosts answer the lock,
// its round trip and the host checks by them.
func TestTestkitMarkers(t *testing.T) {
	for _, m := range []struct{ name, testkit, provision string }{
		{"afterAcquireDone", testkit.AfterAcquireDone, afterAcquireDone},
		{"partJoin", testkit.PartJoin, partJoin},
		{"prefetchTag", testkit.PrefetchTag, PrefetchTag},
		{"checkScriptTag", testkit.CheckScriptTag, CheckScriptTag},
	} {
		if m.testkit != m.provision {
			t.Errorf("testkit's %s is %q, provision's %q", m.name, m.testkit, m.provision)
		}
	}
	layout := testInventory(t).Layout()
	prelude := fmt.Sprintf(lockPrelude, remote.Quote(layout.StateDir), remote.Quote(LockFile(layout.StateDir, "mymaster")))
	if !regexp.MustCompile(testkit.LockCmdPattern).MatchString(prelude) {
		t.Errorf("testkit.LockCmdPattern %q does not match the lock scripts' start %q", testkit.LockCmdPattern, prelude)
	}
	if !regexp.MustCompile(checkPattern).MatchString(CheckScriptTag + "\n") {
		t.Errorf("testkit.CheckPattern %q does not match the check script's start", checkPattern)
	}
}

// testProgress sends progress lines to the test log.
func testProgress(t *testing.T) *Progress {
	return NewProgress(testkit.LogWriter{T: t}, "", "test", false)
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

// healthyUpCluster is a fake cluster on which up has already run: the
// password is stored, every host has its files as up renders them, its
// manifest, both servers running and answering, nothing missing
// (testkit.Running).
func healthyUpCluster(t *testing.T) *fakeCluster {
	t.Helper()
	fc := newFakeCluster(t)
	if err := os.WriteFile(fc.Inv.Redis.PasswordFile, []byte(testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	master := fc.Node("node1")
	fc.Inv.Redis.Password = testPassword // to render; up reads it from the file
	defer func() { fc.Inv.Redis.Password = "" }()
	for i, n := range fc.Nodes {
		files, err := render.HostFiles(fc.Inv, n.Spec, master.Spec.Address, "sysv")
		if err != nil {
			t.Fatal(err)
		}
		m := &Manifest{Version: 2, Cluster: fc.Inv.Name, Services: fc.Services(n)}
		for _, f := range files {
			m.Created = append(m.Created, f.Path)
		}
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		testkit.Running(fc.hosts[i], files, ManifestPath(fc.Layout.StateDir, fc.Inv.Name), data, fc.Layout.RedisPid, fc.Layout.SentinelPid)
	}
	return fc
}
