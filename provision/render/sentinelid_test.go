package render

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Fixed ids for tests that need to know them.
var (
	idA = strings.Repeat("a", 40)
	idB = strings.Repeat("b", 40)
	idC = strings.Repeat("c", 40)
	idD = strings.Repeat("d", 40)
	idE = strings.Repeat("e", 40)
)

// idSource hands out ids in order, then fails the test.
func idSource(t *testing.T, ids ...string) func() (string, error) {
	return func() (string, error) {
		if len(ids) == 0 {
			t.Fatal("more ids asked for than the test expected")
		}
		id := ids[0]
		ids = ids[1:]
		return id, nil
	}
}

// sentinelAddrs are the sentinels of testInventory's hosts at addrs.
func sentinelAddrs(addrs ...string) []Addr {
	var out []Addr
	for _, a := range addrs {
		out = append(out, Addr{Host: a, Port: 8000})
	}
	return out
}

// existingSentinelConf is a sentinel.conf as Sentinel rewrites it, with its
// id and the sentinels it knows ("ip id" each).
func existingSentinelConf(myID string, known ...string) []byte {
	var b strings.Builder
	b.WriteString("port 8000\nsentinel monitor mymaster 10.0.0.1 7000 2\n")
	if myID != "" {
		fmt.Fprintf(&b, "sentinel myid %s\n", myID)
	}
	for _, k := range known {
		ip, id, _ := strings.Cut(k, " ")
		fmt.Fprintf(&b, "sentinel known-sentinel mymaster %s 8000 %s\n", ip, id)
	}
	b.WriteString("sentinel current-epoch 0\n")
	return []byte(b.String())
}

func TestNewSentinelID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, err := NewSentinelID()
		if err != nil {
			t.Fatal(err)
		}
		if !IsSentinelID(id) || strings.ToLower(id) != id {
			t.Fatalf("NewSentinelID() = %q, want 40 lower-case hex digits", id)
		}
		if seen[id] {
			t.Fatalf("NewSentinelID() gave %s twice", id)
		}
		seen[id] = true
	}
	for _, bad := range []string{"", idA[:39], idA + "a", strings.Repeat("g", 40), " " + idA[1:]} {
		if IsSentinelID(bad) {
			t.Errorf("IsSentinelID(%q) = true", bad)
		}
	}
}

// A fresh cluster: every sentinel gets an id of its own.
func TestPlanSentinelIDsFresh(t *testing.T) {
	files := []SentinelFile{{Addr: Addr{"10.0.0.1", 8000}}, {Addr: Addr{"10.0.0.2", 8000}}, {Addr: Addr{"10.0.0.3", 8000}}}
	ids, err := PlanSentinelIDs("mymaster", files, NewSentinelID)
	if err != nil {
		t.Fatal(err)
	}
	distinct(t, ids)

	// A generator that repeats itself is asked again: no two sentinels
	// share an id.
	ids, err = PlanSentinelIDs("mymaster", files, idSource(t, idA, idA, idB, idA, idB, idC))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{idA, idB, idC}; !slices.Equal(ids, want) {
		t.Errorf("ids %q, want %q", ids, want)
	}

	_, err = PlanSentinelIDs("mymaster", files, idSource(t, "not-an-id"))
	if err == nil {
		t.Error("a generated id that is not one was accepted")
	}
}

func distinct(t *testing.T, ids []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, id := range ids {
		if !IsSentinelID(id) {
			t.Errorf("id %q is not 40 hex digits", id)
		}
		if seen[id] {
			t.Errorf("id %s given twice in %q", id, ids)
		}
		seen[id] = true
	}
}

// Sentinels with a file keep the id in it; a new sentinel gets none of
// theirs; a sentinel whose file has no id yet, or that runs without a
// file, has no known id.
func TestPlanSentinelIDsExisting(t *testing.T) {
	files := []SentinelFile{
		{Addr: Addr{"10.0.0.1", 8000}, Data: existingSentinelConf(idA)},
		{Addr: Addr{"10.0.0.2", 8000}, Data: existingSentinelConf("")},                       // never started
		{Addr: Addr{"10.0.0.3", 8000}, Data: []byte("sentinel myid not-an-id\nport 8000\n")}, // Sentinel would pick its own
		{Addr: Addr{"10.0.0.4", 8000}},
		{Addr: Addr{"10.0.0.5", 8000}, Running: true}, // its file was removed under it
	}
	ids, err := PlanSentinelIDs("mymaster", files, idSource(t, idA, idD))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{idA, "", "", idD, ""}; !slices.Equal(ids, want) {
		t.Errorf("ids %q, want %q", ids, want)
	}
}

// A host set up again: the sentinels that still know its old id name it
// with that id, and it gets it back, unless they disagree or another
// sentinel has it.
func TestPlanSentinelIDsReusesThePeersClaim(t *testing.T) {
	for _, c := range []struct {
		name   string
		files  []SentinelFile
		random []string
		want   string // id of 10.0.0.3
	}{
		{"both peers agree", []SentinelFile{
			{Addr: Addr{"10.0.0.1", 8000}, Data: existingSentinelConf(idA, "10.0.0.2 "+idB, "10.0.0.3 "+idC)},
			{Addr: Addr{"10.0.0.2", 8000}, Data: existingSentinelConf(idB, "10.0.0.1 "+idA, "10.0.0.3 "+idC)},
			{Addr: Addr{"10.0.0.3", 8000}},
		}, nil, idC},
		{"one peer knows it", []SentinelFile{
			{Addr: Addr{"10.0.0.1", 8000}, Data: existingSentinelConf(idA, "10.0.0.3 "+idC)},
			{Addr: Addr{"10.0.0.2", 8000}, Data: existingSentinelConf(idB)},
			{Addr: Addr{"10.0.0.3", 8000}},
		}, nil, idC},
		{"peers disagree", []SentinelFile{
			{Addr: Addr{"10.0.0.1", 8000}, Data: existingSentinelConf(idA, "10.0.0.3 "+idC)},
			{Addr: Addr{"10.0.0.2", 8000}, Data: existingSentinelConf(idB, "10.0.0.3 "+idD)},
			{Addr: Addr{"10.0.0.3", 8000}},
		}, []string{idE}, idE},
		{"claimed id is another sentinel's", []SentinelFile{
			{Addr: Addr{"10.0.0.1", 8000}, Data: existingSentinelConf(idA, "10.0.0.3 "+idB)},
			{Addr: Addr{"10.0.0.2", 8000}, Data: existingSentinelConf(idB)},
			{Addr: Addr{"10.0.0.3", 8000}},
		}, []string{idE}, idE},
		{"another master's sentinel", []SentinelFile{
			{Addr: Addr{"10.0.0.1", 8000}, Data: []byte("sentinel myid " + idA + "\nsentinel known-sentinel other 10.0.0.3 8000 " + idC + "\n")},
			{Addr: Addr{"10.0.0.3", 8000}},
		}, []string{idE}, idE},
		{"another port", []SentinelFile{
			{Addr: Addr{"10.0.0.1", 8000}, Data: existingSentinelConf(idA, "10.0.0.3 "+idC)},
			{Addr: Addr{"10.0.0.3", 8100}},
		}, []string{idE}, idE},
	} {
		t.Run(c.name, func(t *testing.T) {
			ids, err := PlanSentinelIDs("mymaster", c.files, idSource(t, c.random...))
			if err != nil {
				t.Fatal(err)
			}
			if got := ids[len(ids)-1]; got != c.want {
				t.Errorf("id of the new sentinel %s, want %s", got, c.want)
			}
			var known []string
			for _, id := range ids {
				if id != "" {
					known = append(known, id)
				}
			}
			distinct(t, known)
		})
	}
}

// The first config files of a fresh cluster, rendered with the ids planned
// for it, agree: each sentinel's myid is the id the others name it by, no
// file names its own id among the others, and each knows every replica.
func TestSentinelIdentitiesAgree(t *testing.T) {
	for _, masterAddr := range []string{"10.0.0.1", "10.0.0.2"} { // the second: after a failover
		inv := testInventory("pw", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4")
		inv.Hosts[3].Sentinel = false
		var sentinels []Addr
		var files []SentinelFile
		for _, h := range inv.Hosts {
			if h.Sentinel {
				a := Addr{Host: h.Address, Port: inv.Sentinel.Port}
				sentinels = append(sentinels, a)
				files = append(files, SentinelFile{Addr: a})
			}
		}
		var replicas []Addr
		for _, h := range inv.Hosts {
			if h.Address != masterAddr {
				replicas = append(replicas, Addr{Host: h.Address, Port: inv.Redis.Port})
			}
		}
		ids, err := PlanSentinelIDs(inv.Name, files, NewSentinelID)
		if err != nil {
			t.Fatal(err)
		}
		myIDs := map[string]string{}            // address -> the id in its own file
		namedAs := map[string]map[string]bool{} // address -> the ids others name it by
		knownReplicas := map[string][]string{}  // address -> its known-replica lines
		for i, s := range sentinels {
			h := inv.Hosts[i]
			id, err := NewSentinelIdentity(i, sentinels, ids, replicas)
			if err != nil {
				t.Fatal(err)
			}
			sc, err := NewSentinelConf(inv, &h, masterAddr, InitSysV)
			if err != nil {
				t.Fatal(err)
			}
			sc.Identity = id
			data, err := RenderSentinelConf(sc)
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckSentinelConf(data, inv.Name, "pw"); err != nil {
				t.Fatalf("%s: %v", h.Name, err)
			}
			lines, err := ParseConfig(data)
			if err != nil {
				t.Fatal(err)
			}
			my := Find(lines, "sentinel", "myid")
			if len(my) != 1 || len(my[0].Args) != 3 {
				t.Fatalf("%s: myid lines %v", h.Name, my)
			}
			myIDs[s.Host] = my[0].Args[2]
			peers := Find(lines, "sentinel", "known-sentinel")
			if len(peers) != len(sentinels)-1 {
				t.Errorf("%s: %d known-sentinel lines, want %d", h.Name, len(peers), len(sentinels)-1)
			}
			for _, p := range peers {
				if len(p.Args) != 6 || p.Args[2] != inv.Name || p.Args[4] != strconv.Itoa(inv.Sentinel.Port) {
					t.Fatalf("%s: line %d: %q", h.Name, p.Num, p.Args)
				}
				if p.Args[3] == s.Host || p.Args[5] == my[0].Args[2] {
					t.Errorf("%s: line %d names this sentinel itself: %q", h.Name, p.Num, p.Args)
				}
				if namedAs[p.Args[3]] == nil {
					namedAs[p.Args[3]] = map[string]bool{}
				}
				namedAs[p.Args[3]][p.Args[5]] = true
			}
			for _, r := range Find(lines, "sentinel", "known-replica") {
				if len(r.Args) != 5 || r.Args[2] != inv.Name || r.Args[4] != strconv.Itoa(inv.Redis.Port) {
					t.Fatalf("%s: line %d: %q", h.Name, r.Num, r.Args)
				}
				knownReplicas[s.Host] = append(knownReplicas[s.Host], r.Args[3])
			}
			// Sentinel reads a known-* line only after its monitor line.
			monitor := Find(lines, "sentinel", "monitor")[0].Num
			for _, l := range slices.Concat(peers, Find(lines, "sentinel", "known-replica")) {
				if l.Num < monitor {
					t.Errorf("%s: line %d comes before the monitor line", h.Name, l.Num)
				}
			}
		}
		distinct(t, slices.Collect(maps.Values(myIDs)))
		for addr, id := range myIDs {
			if want := map[string]bool{id: true}; !maps.Equal(namedAs[addr], want) {
				t.Errorf("master %s: the others name sentinel %s by %v, its own id is %s", masterAddr, addr, slices.Collect(maps.Keys(namedAs[addr])), id)
			}
		}
		var wantReplicas []string
		for _, r := range replicas {
			wantReplicas = append(wantReplicas, r.Host)
		}
		for addr, got := range knownReplicas {
			if !slices.Equal(got, wantReplicas) {
				t.Errorf("master %s: sentinel %s knows replicas %q, want %q", masterAddr, addr, got, wantReplicas)
			}
		}
		if len(knownReplicas) != len(sentinels) {
			t.Errorf("master %s: %d sentinels list replicas, want %d", masterAddr, len(knownReplicas), len(sentinels))
		}
	}
}

func TestNewSentinelIdentityLeavesOut(t *testing.T) {
	sentinels := sentinelAddrs("10.0.0.1", "10.0.0.2", "node3.example", "10.0.0.4", "10.0.0.5", "10.0.0.6")
	replicas := []Addr{{"10.0.0.2", 7000}, {"node3.example", 7000}}
	// 10.0.0.2 has no id yet; node3 is a DNS name; 10.0.0.5 and 10.0.0.6
	// share one (a copied file).
	ids := []string{idA, "", idC, idD, idE, idE}
	id, err := NewSentinelIdentity(0, sentinels, ids, replicas)
	if err != nil {
		t.Fatal(err)
	}
	want := &SentinelIdentity{MyID: idA, Sentinels: []KnownSentinel{{Addr{"10.0.0.4", 8000}, idD}}, Replicas: []Addr{{"10.0.0.2", 7000}}}
	if fmt.Sprint(id) != fmt.Sprint(want) {
		t.Errorf("identity %+v\nwant %+v", id, want)
	}

	for _, c := range []struct {
		self int
		ids  []string
	}{
		{1, ids},                // its own id unknown
		{4, ids},                // its own id is another's too
		{0, []string{idA, idB}}, // ids do not match the sentinels
		{6, ids},                // no such sentinel
		{0, []string{"x", "", idC, idD, idE, ""}}, // not an id
	} {
		if _, err := NewSentinelIdentity(c.self, sentinels, c.ids, replicas); err == nil {
			t.Errorf("self %d, ids %q: no error", c.self, c.ids)
		}
	}
}

// RenderSentinelConf refuses what Sentinel would refuse or misread, however
// the identity was made.
func TestRenderSentinelConfRefusesBadIdentity(t *testing.T) {
	inv := testInventory("pw", "10.0.0.1", "10.0.0.2", "10.0.0.3")
	peer := func(ip, id string) KnownSentinel { return KnownSentinel{Addr{ip, 8000}, id} }
	for _, c := range []struct {
		name string
		id   SentinelIdentity
		want string
	}{
		{"own id among the others", SentinelIdentity{MyID: idA, Sentinels: []KnownSentinel{peer("10.0.0.2", idA)}},
			"known sentinel 10.0.0.2: has this sentinel's own id"},
		{"two peers with one id", SentinelIdentity{MyID: idA, Sentinels: []KnownSentinel{peer("10.0.0.2", idB), peer("10.0.0.3", idB)}},
			"known sentinel 10.0.0.3: id " + idB + " is another known sentinel's too"},
		{"one peer twice", SentinelIdentity{MyID: idA, Sentinels: []KnownSentinel{peer("10.0.0.2", idB), peer("10.0.0.2", idC)}},
			"known sentinel 10.0.0.2 port 8000: listed twice"},
		{"bad own id", SentinelIdentity{MyID: "0123"}, `sentinel myid "0123" is not 40 hex digits`},
		{"bad peer id", SentinelIdentity{MyID: idA, Sentinels: []KnownSentinel{peer("10.0.0.2", "x y")}},
			`known sentinel 10.0.0.2: id "x y" is not 40 hex digits`},
		{"master as replica", SentinelIdentity{MyID: idA, Replicas: []Addr{{"10.0.0.1", 7000}}},
			"known replica 10.0.0.1 port 7000: that is the master"},
		{"replica twice", SentinelIdentity{MyID: idA, Replicas: []Addr{{"10.0.0.2", 7000}, {"10.0.0.2", 7000}}},
			"known replica 10.0.0.2 port 7000: listed twice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sc, err := NewSentinelConf(inv, &inv.Hosts[0], "10.0.0.1", InitSysV)
			if err != nil {
				t.Fatal(err)
			}
			sc.Identity = &c.id
			_, err = RenderSentinelConf(sc)
			if want := sc.Path + ": " + c.want; err == nil || err.Error() != want {
				t.Errorf("got error %v\nwant %s", err, want)
			}
		})
	}
}

// TestGoldenSentinelIdentity pins a first sentinel.conf with its id and
// peers (fixed ids), for an IPv4 and an IPv6 cluster.
func TestGoldenSentinelIdentity(t *testing.T) {
	for _, set := range []struct {
		name  string
		addrs []string
	}{
		{"sentinel-identity", []string{"10.231.0.11", "10.231.0.12", "10.231.0.13"}},
		{"sentinel-identity-ipv6", []string{"fd00::11", "fd00::12", "fd00::13"}},
	} {
		inv := testInventory("s3cret-Pa55", set.addrs...)
		sentinels := sentinelAddrs(set.addrs...)
		var replicas []Addr
		for _, a := range set.addrs[1:] {
			replicas = append(replicas, Addr{Host: a, Port: inv.Redis.Port})
		}
		ids := []string{idA, idB, idC}
		for i := range inv.Hosts {
			h := &inv.Hosts[i]
			id, err := NewSentinelIdentity(i, sentinels, ids, replicas)
			if err != nil {
				t.Fatal(err)
			}
			sc, err := NewSentinelConf(inv, h, set.addrs[0], InitSystemd)
			if err != nil {
				t.Fatal(err)
			}
			sc.Identity = id
			data, err := RenderSentinelConf(sc)
			if err != nil {
				t.Fatal(err)
			}
			compareDir(t, goldenRoot+"/"+set.name+"/"+h.Name, map[string][]byte{"sentinel_8000.conf": data})
		}
	}
}
