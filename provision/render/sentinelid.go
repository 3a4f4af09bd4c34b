package render

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// A sentinel finds the other sentinels from their hello messages on the
// master (every 2 s) and the replicas from the master's INFO. A config file
// may already name them: "sentinel myid", "sentinel known-sentinel" and
// "sentinel known-replica" lines, which Sentinel itself writes when it
// rewrites its file. redisctl writes them into a sentinel's first config
// file, so that the sentinel knows its peers from its first second. The
// ids must be the ones the peers really have, and distinct: Sentinel
// refuses a file naming two sentinels with one id, and a sentinel that
// shares its id with another never fails over.

// SentinelIdentity is what a sentinel.conf written for the first time says
// about the sentinel and its peers.
type SentinelIdentity struct {
	MyID      string          // this sentinel's id: 40 hex digits
	Sentinels []KnownSentinel // the other sentinels, each with the id it has
	Replicas  []Addr          // the replicas of the master it monitors
}

// KnownSentinel is another sentinel and its id.
type KnownSentinel struct {
	Addr Addr
	ID   string
}

// SentinelFile is one sentinel of the cluster as redisctl found it before
// writing anything: its address and, when it has one, its config file.
type SentinelFile struct {
	Addr Addr
	// Data is the config file on the host; nil when there is none: that
	// sentinel's file is written for the first time in this run.
	Data []byte
	// Running is true when the sentinel runs. One that runs without a
	// file has an id in memory only, which no file can tell: it gets no
	// new one, and no one names it.
	Running bool
}

// sentinelIDLen is the length of a sentinel id (Redis's CONFIG_RUN_ID_SIZE).
const sentinelIDLen = 40

// NewSentinelID returns a random sentinel id: 40 hex digits, as Sentinel
// makes its own.
func NewSentinelID() (string, error) {
	b := make([]byte, sentinelIDLen/2)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate a sentinel id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// IsSentinelID reports whether s has the form of a sentinel id.
func IsSentinelID(s string) bool {
	if len(s) != sentinelIDLen {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// PlanSentinelIDs returns the id of each sentinel in files, in order: the
// "sentinel myid" of a sentinel whose file exists ("" when that file has
// none, or one that is not an id: that sentinel picks its own when it
// starts, so no one can name it yet), "" for one that runs without a
// file, and a new id for a sentinel whose file is written now. A new id is the one the existing files agree the
// sentinel at that address had (a host set up again: its peers, which
// never forget a sentinel, then know it at once, with no stale entry
// left), else a random one from newID. No new id equals another id of
// the cluster.
func PlanSentinelIDs(masterName string, files []SentinelFile, newID func() (string, error)) ([]string, error) {
	ids := make([]string, len(files))
	used := map[string]bool{}
	claims := map[Addr]map[string]bool{} // what the existing files call each address
	for i, f := range files {
		if f.Data == nil {
			continue
		}
		st := readSentinelState(f.Data, masterName)
		ids[i] = st.myID
		if st.myID != "" {
			used[st.myID] = true
		}
		for _, k := range st.known {
			a := addrKey(k.Addr)
			if claims[a] == nil {
				claims[a] = map[string]bool{}
			}
			claims[a][k.ID] = true
		}
	}
	for i, f := range files {
		if f.Data != nil || f.Running {
			continue
		}
		id := ""
		if c := claims[addrKey(f.Addr)]; len(c) == 1 {
			for claimed := range c {
				if !used[claimed] {
					id = claimed
				}
			}
		}
		for id == "" || used[id] {
			var err error
			if id, err = newID(); err != nil {
				return nil, err
			}
			if !IsSentinelID(id) {
				return nil, fmt.Errorf("generated sentinel id %q is not 40 hex digits", id)
			}
		}
		used[id] = true
		ids[i] = id
	}
	return ids, nil
}

// NewSentinelIdentity is what the first config file of sentinel self (an
// index into sentinels, whose ids are ids as PlanSentinelIDs returns them)
// says: its own id, the other sentinels whose ids are known, and the
// replicas. Peers and replicas known by a DNS name are left out: Sentinel
// knows instances by the address they report, and a name would stay a
// second, stale entry. A peer whose id another sentinel shares is left out
// too (a copied file: Sentinel would refuse the line, and the owner of the
// id is unknown).
func NewSentinelIdentity(self int, sentinels []Addr, ids []string, replicas []Addr) (*SentinelIdentity, error) {
	if len(ids) != len(sentinels) || self < 0 || self >= len(sentinels) {
		return nil, fmt.Errorf("sentinel identity: %d ids for %d sentinels, self %d", len(ids), len(sentinels), self)
	}
	if !IsSentinelID(ids[self]) {
		return nil, fmt.Errorf("sentinel identity: id %q of %s is not 40 hex digits", ids[self], sentinels[self].Host)
	}
	count := map[string]int{}
	for _, id := range ids {
		count[id]++
	}
	if count[ids[self]] > 1 {
		return nil, fmt.Errorf("sentinel identity: the id of %s is another sentinel's too", sentinels[self].Host)
	}
	id := &SentinelIdentity{MyID: ids[self]}
	for i, a := range sentinels {
		if i == self || !IsSentinelID(ids[i]) || count[ids[i]] > 1 || !isIP(a.Host) {
			continue
		}
		id.Sentinels = append(id.Sentinels, KnownSentinel{Addr: a, ID: ids[i]})
	}
	for _, a := range replicas {
		if isIP(a.Host) {
			id.Replicas = append(id.Replicas, a)
		}
	}
	return id, nil
}

// check refuses an identity Sentinel would refuse or misread: an id that
// is not one, two sentinels with one id (itself included), one address
// twice, or the master among the replicas.
func (id *SentinelIdentity) check(master Addr) error {
	if !IsSentinelID(id.MyID) {
		return fmt.Errorf("sentinel myid %q is not 40 hex digits", id.MyID)
	}
	ids := map[string]bool{id.MyID: true}
	addrs := map[Addr]bool{}
	for _, s := range id.Sentinels {
		switch {
		case !IsSentinelID(s.ID):
			return fmt.Errorf("known sentinel %s: id %q is not 40 hex digits", s.Addr.Host, s.ID)
		case s.ID == id.MyID:
			return fmt.Errorf("known sentinel %s: has this sentinel's own id", s.Addr.Host)
		case ids[s.ID]:
			return fmt.Errorf("known sentinel %s: id %s is another known sentinel's too", s.Addr.Host, s.ID)
		case addrs[addrKey(s.Addr)]:
			return fmt.Errorf("known sentinel %s port %d: listed twice", s.Addr.Host, s.Addr.Port)
		}
		ids[s.ID], addrs[addrKey(s.Addr)] = true, true
	}
	replicas := map[Addr]bool{}
	for _, r := range id.Replicas {
		switch {
		case addrKey(r) == addrKey(master):
			return fmt.Errorf("known replica %s port %d: that is the master", r.Host, r.Port)
		case replicas[addrKey(r)]:
			return fmt.Errorf("known replica %s port %d: listed twice", r.Host, r.Port)
		}
		replicas[addrKey(r)] = true
	}
	return nil
}

// sentinelState is what a sentinel's config file says about its identity.
type sentinelState struct {
	myID  string          // "" when the file has no valid one
	known []KnownSentinel // its known-sentinel lines for the master
}

// readSentinelState reads a sentinel.conf's myid and known-sentinel lines
// for masterName. A file that does not parse says nothing: the merge of
// that file refuses it by name.
func readSentinelState(data []byte, masterName string) sentinelState {
	var st sentinelState
	lines, err := ParseConfig(data)
	if err != nil {
		return st
	}
	for _, l := range lines {
		switch {
		case isSentinelLine(l, "myid") && len(l.Args) == 3:
			// Sentinel applies the last line.
			st.myID = ""
			if IsSentinelID(l.Args[2]) {
				st.myID = l.Args[2]
			}
		case isSentinelLine(l, "known-sentinel") && len(l.Args) == 6 && l.Args[2] == masterName:
			port, err := strconv.Atoi(l.Args[4])
			if err != nil || !IsSentinelID(l.Args[5]) {
				continue
			}
			st.known = append(st.known, KnownSentinel{Addr: Addr{Host: l.Args[3], Port: port}, ID: l.Args[5]})
		}
	}
	return st
}

// isSentinelLine reports whether l is "sentinel <sub> ...", names compared
// without case as Redis compares them.
func isSentinelLine(l Line, sub string) bool {
	return len(l.Args) > 1 && strings.EqualFold(l.Args[0], "sentinel") && strings.EqualFold(l.Args[1], sub)
}

// addrKey is an address in one spelling: an IP address in its canonical
// form, as Sentinel writes it.
func addrKey(a Addr) Addr {
	if ip, err := netip.ParseAddr(a.Host); err == nil {
		a.Host = ip.Unmap().String()
	}
	return a
}
