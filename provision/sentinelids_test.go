package provision

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redisctl/redisctl/provision/render"
)

// planSentinelConfs runs planFiles for every node of c at once, as the
// configure step does, and returns each node's planned sentinel.conf
// change (nil when there is none).
func planSentinelConfs(t *testing.T, c *Cluster) map[string]*FileChange {
	t.Helper()
	out := map[string]*FileChange{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			changes, err := c.PlanFiles(context.Background(), n, "10.0.0.1")
			if err != nil {
				t.Errorf("%s: %v", n.Spec.Name, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			out[n.Spec.Name] = nil
			for _, ch := range changes {
				if ch.File.Path == c.Layout.SentinelConf {
					out[n.Spec.Name] = &ch
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// sentinelIdentityOf reads a sentinel.conf's myid and its known-sentinel
// lines as "address id".
func sentinelIdentityOf(t *testing.T, data []byte) (myID string, known []string) {
	t.Helper()
	lines, err := render.ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		switch configKey(l) {
		case "sentinel myid":
			myID = l.Args[2]
		case "sentinel known-sentinel":
			known = append(known, l.Args[3]+" "+l.Args[5])
		}
	}
	slices.Sort(known)
	return myID, known
}

func newIDCluster(t *testing.T) *fakeCluster {
	fc := newFakeCluster(t)
	fc.SetPassword(testPassword)
	for _, n := range fc.Nodes {
		n.Facts = &Facts{Init: "sysv"}
	}
	return fc
}

// A fresh cluster: each first sentinel.conf has an id of its own and names
// the other sentinels by the ids their files give them; planning writes
// nothing and reads each host once more, for the ids.
func TestPlanFilesSentinelIdentitiesFresh(t *testing.T) {
	fc := newIDCluster(t)
	planned := planSentinelConfs(t, fc.Cluster)
	ids := map[string]string{} // address -> own id
	known := map[string][]string{}
	for _, n := range fc.Nodes {
		ch := planned[n.Spec.Name]
		if ch == nil || ch.Old != nil {
			t.Fatalf("%s: sentinel.conf planned as %+v, want a new file", n.Spec.Name, ch)
		}
		ids[n.Spec.Address], known[n.Spec.Address] = sentinelIdentityOf(t, ch.New)
		if !render.IsSentinelID(ids[n.Spec.Address]) {
			t.Fatalf("%s: myid %q", n.Spec.Name, ids[n.Spec.Address])
		}
	}
	seen := map[string]bool{}
	for addr, id := range ids {
		if seen[id] {
			t.Errorf("id %s given twice", id)
		}
		seen[id] = true
		var want []string
		for other, oid := range ids {
			if other != addr {
				want = append(want, other+" "+oid)
			}
		}
		slices.Sort(want)
		if !slices.Equal(known[addr], want) {
			t.Errorf("sentinel %s knows %q, want %q", addr, known[addr], want)
		}
	}
	for _, h := range fc.hosts {
		for _, call := range h.Calls() {
			if strings.HasPrefix(call, "put ") {
				t.Errorf("%s: planning wrote: %s", h.Name(), call)
			}
		}
		if got := h.RoundTrips(); got != 2 {
			t.Errorf("%s: %d round trips, want 2 (its files, then the sentinel ids)", h.Name(), got)
		}
	}

	// Planned again in the same run: the same ids.
	again := planSentinelConfs(t, fc.Cluster)
	for _, n := range fc.Nodes {
		if id, _ := sentinelIdentityOf(t, again[n.Spec.Name].New); id != ids[n.Spec.Address] {
			t.Errorf("%s: planned again with id %s, first %s", n.Spec.Name, id, ids[n.Spec.Address])
		}
	}
}

// A sentinel.conf that exists is merged, never rendered again: its id,
// epochs and known peers stay as Sentinel wrote them, and no ids are read
// from the other hosts.
func TestPlanFilesKeepsExistingSentinelConf(t *testing.T) {
	fc := newIDCluster(t)
	first := planSentinelConfs(t, fc.Cluster)
	for i, n := range fc.Nodes {
		// As Sentinel rewrites it, with a setting redisctl manages changed.
		data := strings.Replace(string(first[n.Spec.Name].New), "down-after-milliseconds mymaster 5000", "down-after-milliseconds mymaster 9000", 1) +
			"sentinel current-epoch 3\nsentinel config-epoch mymaster 2\n"
		fc.hosts[i].SetFile(fc.Layout.SentinelConf, []byte(data), 0o640, "redis:redis")
	}
	fc2 := newIDCluster(t) // a later run
	for i, n := range fc2.Nodes {
		n.Host = fc.hosts[i]
	}
	before := map[string]int{}
	for _, h := range fc.hosts {
		before[h.Name()] = h.RoundTrips()
	}
	planned := planSentinelConfs(t, fc2.Cluster)
	for i, n := range fc2.Nodes {
		ch := planned[n.Spec.Name]
		if ch == nil || ch.Old == nil || !slices.Equal(ch.Keys, []string{"sentinel down-after-milliseconds"}) {
			t.Fatalf("%s: planned %+v, want only down-after-milliseconds updated", n.Spec.Name, ch)
		}
		oldID, oldKnown := sentinelIdentityOf(t, ch.Old)
		newID, newKnown := sentinelIdentityOf(t, ch.New)
		if oldID != newID || !slices.Equal(oldKnown, newKnown) || !strings.Contains(string(ch.New), "sentinel current-epoch 3\nsentinel config-epoch mymaster 2\n") {
			t.Errorf("%s: the merge changed Sentinel's state:\n%s", n.Spec.Name, ch.New)
		}
		if got := fc.hosts[i].RoundTrips() - before[fc.hosts[i].Name()]; got != 1 {
			t.Errorf("%s: %d round trips, want 1 (its own files)", n.Spec.Name, got)
		}
	}
}

// A host set up again while the others keep their files: it gets back the
// id they know it by, and knows them by theirs; a peer whose file has no
// id yet is left out.
func TestPlanFilesSentinelIdentityOfANewHost(t *testing.T) {
	fc := newIDCluster(t)
	first := planSentinelConfs(t, fc.Cluster)
	fc.hosts[0].SetFile(fc.Layout.SentinelConf, first["node1"].New, 0o640, "redis:redis")
	fc.hosts[1].SetFile(fc.Layout.SentinelConf, first["node2"].New, 0o640, "redis:redis")
	id3, _ := sentinelIdentityOf(t, first["node3"].New)
	id1, _ := sentinelIdentityOf(t, first["node1"].New)

	fc2 := newIDCluster(t)
	for i, n := range fc2.Nodes {
		n.Host = fc.hosts[i]
	}
	planned := planSentinelConfs(t, fc2.Cluster)
	if planned["node1"] != nil || planned["node2"] != nil {
		t.Errorf("existing sentinel.conf files planned as changed: %+v %+v", planned["node1"], planned["node2"])
	}
	got, known := sentinelIdentityOf(t, planned["node3"].New)
	if got != id3 {
		t.Errorf("node3 gets id %s, want %s, the one node1 and node2 know it by", got, id3)
	}
	if len(known) != 2 || known[0] != "10.0.0.1 "+id1 {
		t.Errorf("node3 knows %q", known)
	}

	// node2's file as a sentinel that never started has it: no id.
	fc.hosts[1].SetFile(fc.Layout.SentinelConf, []byte("port 8000\nsentinel monitor mymaster 10.0.0.1 7000 2\n"), 0o640, "redis:redis")
	fc3 := newIDCluster(t)
	for i, n := range fc3.Nodes {
		n.Host = fc.hosts[i]
	}
	planned = planSentinelConfs(t, fc3.Cluster)
	if _, known := sentinelIdentityOf(t, planned["node3"].New); !slices.Equal(known, []string{"10.0.0.1 " + id1}) {
		t.Errorf("node3 knows %q, want only node1 (node2's id is unknown)", known)
	}
}
