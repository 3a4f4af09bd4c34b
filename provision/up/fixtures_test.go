package up

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/redisctl/redisctl/provision"
	"github.com/redisctl/redisctl/provision/internal/testkit"
	"github.com/redisctl/redisctl/provision/render"
)

// Fixtures of up's tests: testkit's fake hosts, fake Redis servers and
// inventories under the short names provision's tests use too, and a fake
// cluster built on them.

const (
	testPassword = testkit.Password
	freshFacts   = testkit.FreshFacts
	factsPattern = testkit.FactsPattern
	checkPattern = testkit.CheckPattern
)

type (
	testHost      = testkit.Host
	testConnector = testkit.Connector
	fakeRedis     = testkit.FakeRedis
	status        = testkit.Status
	respError     = testkit.RespError
)

var (
	testInventory   = testkit.Inventory
	newTestHost     = testkit.NewHost
	freshHosts      = testkit.FreshHosts
	checkReply      = testkit.CheckReply
	tuned           = testkit.Tuned
	masterInfo      = testkit.MasterInfo
	replicaInfo     = testkit.ReplicaInfo
	sentinelMaster  = testkit.SentinelMaster
	sentinelPeer    = testkit.SentinelPeer
	sentinelReplica = testkit.SentinelReplica
	sha256Hex       = testkit.Sha256Hex
	assertFiles     = testkit.AssertFiles
)

// testProgress sends progress lines to the test log.
func testProgress(t *testing.T) *provision.Progress {
	return provision.NewProgress(testkit.LogWriter{T: t}, "", "test", false)
}

// fakeCluster is a connected three-node cluster on testkit's healthy
// servers (testkit.Servers): node1 is master with node2 and node3 online.
type fakeCluster struct {
	*provision.Cluster
	data     map[string]*fakeRedis // by node name
	sentinel map[string]*fakeRedis
	hosts    []*testHost
}

func newFakeCluster(t *testing.T) *fakeCluster {
	t.Helper()
	inv := testInventory(t)
	c := &provision.Cluster{Inv: inv, Layout: inv.Layout(), Password: testPassword, P: testProgress(t)}
	s := testkit.NewServers(t, inv)
	for i, h := range s.Hosts {
		c.Nodes = append(c.Nodes, &provision.Node{Spec: &inv.Hosts[i], Host: h})
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
		m := &provision.Manifest{Version: 2, Cluster: fc.Inv.Name, Services: fc.Services(n)}
		for _, f := range files {
			m.Created = append(m.Created, f.Path)
		}
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		testkit.Running(fc.hosts[i], files, provision.ManifestPath(fc.Layout.StateDir, fc.Inv.Name), data, fc.Layout.RedisPid, fc.Layout.SentinelPid)
	}
	return fc
}

// saver makes node name of fc answer a backup (testkit.Saver) with rdb
// as its dump file, and returns its host.
func saver(fc *fakeCluster, name string, rdb []byte, keys int) *testHost {
	for i, n := range fc.Nodes {
		if n.Spec.Name == name {
			testkit.Saver(fc.data[name], fc.hosts[i], name == "node1", rdb, keys)
			return fc.hosts[i]
		}
	}
	panic("no node " + name)
}
