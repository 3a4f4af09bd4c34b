package testkit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote"
	"github.com/redisctl/redisctl/provision/remote/fakehost"
)

// Markers of provision's scripts that the fake hosts answer. testkit
// cannot import provision, so each must equal provision's; pinned by a
// provision test (TestTestkitMarkers).
const (
	// AfterAcquireDone must equal provision's afterAcquireDone (lock.go):
	// it ends the output of a complete after_acquire script.
	AfterAcquireDone = "redisctl:after-acquire-done"
	// PartJoin must equal provision's partJoin (lockround.go): it ends one
	// part of a lock round's script and begins the next.
	PartJoin = "\n) 2>/dev/null; printf '\\n%s part\\n' \"$m\"\n(\n"
	// PrefetchTag must equal provision's prefetchTag (lockround.go): it
	// starts the script that reads files in the lock's round trip.
	PrefetchTag = "# redisctl read-files"
	// CheckScriptTag must equal provision's checkScriptTag (check.go): it
	// starts the host check script.
	CheckScriptTag = "# redisctl host checks"
	// LockCmdPattern must match the run lock's scripts as provision's
	// lockPrelude (lock.go) starts them, with the default state directory.
	LockCmdPattern = `^d=/var/lib/redisctl; f=/var/lib/redisctl/\S+\.lock\n`
)

// lockCmdPrefix starts every run lock script (LockCmdPattern).
const lockCmdPrefix = "d=/var/lib/redisctl; f="

// Host is a fake host that also records what fakehost does not: the files
// read and how often Close was called. It answers the facts script, the
// host checks (TunedHost) and the run lock.
type Host struct {
	*fakehost.Host

	mu     sync.Mutex
	reads  []string
	closed int
	// readCalls counts ReadFile and ReadFiles calls: round trips.
	readCalls int
}

// NewHost returns a fake host whose facts script prints facts.
func NewHost(name, facts string) *Host {
	h := &Host{Host: fakehost.New(name)}
	h.Answer(FactsPattern, fakehost.Result{Stdout: facts})
	h.On(CheckPattern, CheckReply(TunedHost))
	// The run lock (its scripts are tested for real in provision's
	// lock_test.go). The facts script up runs with it is answered as the
	// host answers it alone.
	h.On(LockCmdPattern, h.LockReply)
	return h
}

// FreshHosts returns node1..node3 with FreshFacts.
func FreshHosts() []*Host {
	return []*Host{NewHost("node1", FreshFacts), NewHost("node2", FreshFacts), NewHost("node3", FreshFacts)}
}

// LockReply answers the run lock's scripts: the lock is taken, and the
// scripts run with it are answered by lockRound. It is what NewHost
// installs for LockCmdPattern, for a test that wraps it.
func (h *Host) LockReply(cmd string, stdin []byte) fakehost.Result {
	const open, end = "after_acquire() { (\n", "\n) 2>/dev/null; echo " + AfterAcquireDone + "; }"
	_, marker, _ := strings.Cut(strings.TrimSpace(string(stdin)), "\n")
	if _, body, ok := strings.Cut(cmd, open); ok && marker != "" {
		if script, _, ok := strings.Cut(body, end); ok {
			if out, ok := h.lockRound(script, marker); ok {
				return fakehost.Result{Stdout: "acquired\n" + out + AfterAcquireDone + "\n"}
			}
		}
	}
	return fakehost.Result{Stdout: "acquired\n"}
}

// lockRound answers the scripts up runs with its lock (joinParts) as the
// host answers each alone, the files read from what the host has.
func (h *Host) lockRound(script, marker string) (string, bool) {
	inner, ok := strings.CutPrefix(script, "(\n")
	if !ok {
		return "", false
	}
	if inner, ok = strings.CutSuffix(inner, "\n) 2>/dev/null"); !ok {
		return "", false
	}
	var outs []string
	for _, part := range strings.Split(inner, PartJoin) {
		if list, ok := strings.CutPrefix(part, PrefetchTag+" "); ok {
			list, _, _ = strings.Cut(list, "\n")
			var b strings.Builder
			for i, p := range strings.Fields(list) {
				if f, ok := h.Host.File(strings.Trim(p, "'")); ok {
					fmt.Fprintf(&b, "%s %d\n%s\n%s end\n", marker, i, f.Data, marker)
				} else {
					fmt.Fprintf(&b, "%s %d missing\n", marker, i)
				}
			}
			outs = append(outs, b.String())
			continue
		}
		r, ok := h.Host.Reply(part)
		if !ok || r.Status != 0 {
			return "", false
		}
		outs = append(outs, r.Stdout)
	}
	return strings.Join(outs, "\n"+marker+" part\n"), true
}

// ReadFile records the read and reads from the fake host.
func (h *Host) ReadFile(ctx context.Context, path string) ([]byte, error) {
	h.mu.Lock()
	h.reads = append(h.reads, path)
	h.readCalls++
	h.mu.Unlock()
	return h.Host.ReadFile(ctx, path)
}

// ReadFiles records the reads and reads from the fake host.
func (h *Host) ReadFiles(ctx context.Context, paths []string) (map[string][]byte, error) {
	h.mu.Lock()
	h.reads = append(h.reads, paths...)
	h.readCalls++
	h.mu.Unlock()
	return h.Host.ReadFiles(ctx, paths)
}

// Close counts the call; the fake host stays usable.
func (h *Host) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed++
	return nil
}

// Calls returns the commands run so far, less the run lock's scripts and
// the host checks (tested on their own in provision's lock_test.go and
// check_test.go), so tests see the steps' commands.
func (h *Host) Calls() []string {
	var out []string
	for _, c := range h.Host.Calls() {
		if !strings.HasPrefix(c, lockCmdPrefix) && !strings.HasPrefix(c, CheckScriptTag) {
			out = append(out, c)
		}
	}
	return out
}

// Reads returns the paths read so far.
func (h *Host) Reads() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.reads...)
}

// ReadCalls returns how many ReadFile and ReadFiles calls reached the
// host: its read round trips.
func (h *Host) ReadCalls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.readCalls
}

// RoundTrips returns how many commands and reads reached the host, the
// lock's and the checks' too.
func (h *Host) RoundTrips() int {
	n := 0
	for _, c := range h.Host.Calls() {
		if !strings.HasPrefix(c, "read-files ") { // counted in readCalls
			n++
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return n + h.readCalls
}

// Closed returns how often Close was called.
func (h *Host) Closed() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// Connector hands out fake hosts in inventory order, as provision's
// SSHConnector does: a host with an error in Errs gets a nil entry and its
// error joined into the result. Connect is the connect function the
// provision entry points take.
type Connector struct {
	Hosts []*Host          // in inventory order
	Errs  map[string]error // by host name
	Calls atomic.Int32     // how often Connect was called
}

// Connect returns the hosts of inv, in order.
func (c *Connector) Connect(ctx context.Context, inv *inventory.Inventory) ([]remote.Host, error) {
	c.Calls.Add(1)
	out := make([]remote.Host, len(inv.Hosts))
	var errs []error
	for i, h := range inv.Hosts {
		if err := c.Errs[h.Name]; err != nil {
			errs = append(errs, err)
			continue
		}
		out[i] = c.Hosts[i]
	}
	return out, errors.Join(errs...)
}
