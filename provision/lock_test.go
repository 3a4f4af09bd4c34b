package provision

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redisctl/redisctl/provision/internal/testkit"
	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote"
	"github.com/redisctl/redisctl/provision/remote/fakehost"
)

// The lock scripts are real sh run on this machine: each fake host answers
// every command by running it with sh, its StateDir moved into a temporary
// directory of its own (the host's root). What the fake cannot show (noclobber,
// mtimes, symlinks) is then the shell's real behaviour.

// lockHost is a fake host whose commands run in a local sh under root. It
// streams stdin as an SSH host does (remote.StdinStreamer), so the lock's
// session stays open until its release, unless noStream is set: then its
// Run reads all of stdin first (fakehost's), and the lock is released in
// a session of its own.
type lockHost struct {
	*fakehost.Host
	root     string
	stateDir string
	env      []string
	noStream bool

	mu      sync.Mutex
	runs    []string               // the commands run while streaming
	running map[*exec.Cmd]struct{} // while streaming
}

// killRunning kills the commands running on h and waits until they ended.
func (h *lockHost) killRunning(t *testing.T) {
	t.Helper()
	h.mu.Lock()
	var cmds []*exec.Cmd
	for c := range h.running {
		cmds = append(cmds, c)
	}
	h.mu.Unlock()
	if len(cmds) == 0 {
		t.Fatalf("%s: no command running", h.Name())
	}
	for _, c := range cmds {
		_ = c.Process.Kill()
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		h.mu.Lock()
		n := len(h.running)
		h.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: killed commands still running", h.Name())
		}
	}
}

func (h *lockHost) StreamsStdin() bool { return !h.noStream }

// Run runs cmd in sh, its stdin given as it comes.
func (h *lockHost) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) error {
	if h.noStream {
		return h.Host.Run(ctx, cmd, stdin, stdout, stderr)
	}
	h.mu.Lock()
	h.runs = append(h.runs, cmd)
	h.mu.Unlock()
	c := exec.CommandContext(ctx, "sh", "-c", strings.ReplaceAll(cmd, h.stateDir, h.root+h.stateDir))
	c.Env = h.env
	var errOut bytes.Buffer
	c.Stdout, c.Stderr = stdout, &errOut
	if stderr != nil {
		c.Stderr = io.MultiWriter(&errOut, stderr)
	}
	if stdin != nil {
		w, err := c.StdinPipe()
		if err != nil {
			return err
		}
		go func() {
			_, _ = io.Copy(w, stdin)
			_ = w.Close()
		}()
	}
	if err := c.Start(); err != nil {
		return err
	}
	h.mu.Lock()
	if h.running == nil {
		h.running = map[*exec.Cmd]struct{}{}
	}
	h.running[c] = struct{}{}
	h.mu.Unlock()
	err := c.Wait()
	h.mu.Lock()
	delete(h.running, c)
	h.mu.Unlock()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return err
		}
		return &remote.ExitError{Host: h.Name(), Cmd: cmd, Status: ee.ExitCode(), Stderr: errOut.String()}
	}
	return nil
}

// Calls are the commands run, in order.
func (h *lockHost) Calls() []string {
	if h.noStream {
		return h.Host.Calls()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.runs)
}

func newLockHost(t *testing.T, name, stateDir string) *lockHost {
	t.Helper()
	h := &lockHost{Host: fakehost.New(name), root: t.TempDir(), stateDir: stateDir}
	env := os.Environ()
	if os.Geteuid() != 0 {
		// Owner root needs root: install runs without -o and -g;
		// everything else runs as it would.
		bin := t.TempDir()
		real, err := exec.LookPath("install")
		if err != nil {
			t.Fatal(err)
		}
		fake := "#!/bin/sh\nfor a; do shift; case $skip$a in -o | -g) skip=1 ;; 1*) skip= ;; *) set -- \"$@\" \"$a\" ;; esac; done\nexec " + real + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(bin, "install"), []byte(fake), 0o755); err != nil {
			t.Fatal(err)
		}
		env = append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	h.env = env
	h.On(`.`, func(cmd string, stdin []byte) fakehost.Result {
		c := exec.Command("sh", "-c", strings.ReplaceAll(cmd, stateDir, h.root+stateDir))
		c.Env = env
		c.Stdin = bytes.NewReader(stdin)
		var out, errOut bytes.Buffer
		c.Stdout, c.Stderr = &out, &errOut
		status := 0
		if err := c.Run(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Errorf("%s: run sh: %v", name, err)
			}
			status = c.ProcessState.ExitCode()
		}
		return fakehost.Result{Stdout: out.String(), Stderr: errOut.String(), Status: status}
	})
	return h
}

// lockFixture is a three-host cluster of lockHosts and the notes Lock made.
type lockFixture struct {
	c     *Cluster
	hosts []*lockHost
	opts  lockOptions

	mu    sync.Mutex
	notes []string
}

func newLockFixture(t *testing.T) *lockFixture {
	t.Helper()
	inv := testInventory(t)
	f := &lockFixture{c: &Cluster{Inv: inv, Layout: inv.Layout(), P: testProgress(t)}}
	for i := range inv.Hosts {
		h := newLockHost(t, inv.Hosts[i].Name, f.c.Layout.StateDir)
		f.hosts = append(f.hosts, h)
		f.c.Nodes = append(f.c.Nodes, &Node{Spec: &inv.Hosts[i], Host: h})
	}
	hostname, _ := os.Hostname()
	f.opts = lockOptions{
		staleAfter: 2 * time.Second,
		heartbeat:  time.Hour, // tests of the heartbeat shorten it
		holder:     LockHolder{Host: hostname, Machine: machineID(), PID: os.Getpid()},
		alive:      pidAlive,
		retryPause: 10 * time.Millisecond,
		now:        time.Now,
		note: func(host, msg string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.notes = append(f.notes, host+": "+msg)
		},
	}
	return f
}

func (f *lockFixture) Notes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.notes)
}

// file is the lock file of host i on this machine.
func (f *lockFixture) file(i int) string {
	return f.hosts[i].root + LockFile(f.c.Layout.StateDir, f.c.Inv.Name)
}

// holder reads host i's lock file; nil when there is none.
func (f *lockFixture) holder(t *testing.T, i int) *LockHolder {
	t.Helper()
	data, err := os.ReadFile(f.file(i))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var h LockHolder
	if err := json.Unmarshal(data, &h); err != nil {
		t.Fatalf("%s: %v: %s", f.file(i), err, data)
	}
	return &h
}

// plant writes a lock of another run on host i, its heartbeat age old.
func (f *lockFixture) plant(t *testing.T, i int, h LockHolder, age time.Duration) {
	t.Helper()
	file := f.file(i)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(h)
	if err := os.WriteFile(file, append(data, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	mtime := time.Now().Add(-age)
	if err := os.Chtimes(file, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// otherRun is a run of redisctl up on another control machine.
func otherRun() LockHolder {
	return LockHolder{Host: "ops-laptop", Machine: "0123456789ab", PID: 4242, Command: "up",
		Started: time.Date(2026, 11, 28, 1, 2, 3, 0, time.UTC), RunID: "00112233445566778899aabb"}
}

func TestLockRefusesSecondRunNamingTheHolder(t *testing.T) {
	f := newLockFixture(t)
	release, err := f.c.lock(context.Background(), "up", f.opts)
	if err != nil {
		t.Fatalf("first lock: %v", err)
	}
	for i := range f.hosts {
		h := f.holder(t, i)
		if h == nil || h.Command != "up" || h.PID != os.Getpid() || h.Host != f.opts.holder.Host || !isRunID(h.RunID) || h.Started.IsZero() {
			t.Fatalf("host %d holds %+v", i, h)
		}
		st, err := os.Lstat(f.file(i))
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o600 {
			t.Errorf("lock file %s: %v %v; want a regular file, mode 0600", f.file(i), st.Mode(), err)
		}
		if st, err := os.Stat(filepath.Dir(f.file(i))); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("state directory: %v %v; want mode 0700", st.Mode(), err)
		}
	}

	_, err = f.c.lock(context.Background(), "failover-test --mode manual", f.opts)
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) {
		t.Fatalf("second lock: %v; want a *LockedError", err)
	}
	want := regexp.QuoteMeta(`cluster "mymaster" is locked by redisctl up (pid `+strconv.Itoa(os.Getpid())+` on `+f.opts.holder.Host+`, started `) +
		`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, \d+s ago\); wait for it to finish, or if that run is dead, the lock is taken over automatically once it is stale \(2s\)$`
	if !regexp.MustCompile(want).MatchString(err.Error()) {
		t.Errorf("message:\n%s\nwant it to match\n%s", err, want)
	}
	if slices.Sort(le.Hosts); !slices.Equal(le.Hosts, []string{"node1", "node2", "node3"}) {
		t.Errorf("held on %v, want every host", le.Hosts)
	}
	if h := f.holder(t, 0); h == nil || h.Command != "up" {
		t.Errorf("the refused run changed the lock: %+v", h)
	}

	release()
	release() // twice is harmless
	for i := range f.hosts {
		if _, err := os.Lstat(filepath.Dir(f.file(i))); !os.IsNotExist(err) {
			t.Errorf("host %d: the empty state directory is left after release (%v)", i, err)
		}
	}
	again, err := f.c.lock(context.Background(), "uninstall", f.opts)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
	if n := f.Notes(); len(n) != 0 {
		t.Errorf("notes without any takeover: %q", n)
	}
}

// Lock with the default settings: the message a person sees.
func TestLockDefaultMessage(t *testing.T) {
	f := newLockFixture(t)
	release, err := f.c.Lock(context.Background(), "up")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	_, err = f.c.Lock(context.Background(), "uninstall")
	if err == nil || !strings.HasSuffix(err.Error(), "taken over automatically once it is stale (20s)") || !strings.Contains(err.Error(), "locked by redisctl up (pid ") {
		t.Errorf("second Lock: %v", err)
	}
}

// A lock held on one host only still refuses, and the locks taken on the
// other hosts are given back.
func TestLockHeldOnOneHostReleasesTheOthers(t *testing.T) {
	f := newLockFixture(t)
	f.plant(t, 1, otherRun(), 0)
	_, err := f.c.lock(context.Background(), "up", f.opts)
	var le *LockedError
	if !errors.As(err, &le) || !slices.Equal(le.Hosts, []string{"node2"}) || le.Holder.Host != "ops-laptop" || le.Holder.PID != 4242 {
		t.Fatalf("lock: %v (%+v); want locked by ops-laptop on node2", err, le)
	}
	if !strings.Contains(err.Error(), "locked by redisctl up (pid 4242 on ops-laptop, started 2026-11-28T01:02:03Z, ") {
		t.Errorf("message: %v", err)
	}
	for _, i := range []int{0, 2} {
		if h := f.holder(t, i); h != nil {
			t.Errorf("host %d still holds %+v after the refusal", i, h)
		}
	}
	if h := f.holder(t, 1); h == nil || h.RunID != otherRun().RunID {
		t.Errorf("node2's lock changed: %+v", h)
	}
}

func TestLockTakesOverWhenHeartbeatStopped(t *testing.T) {
	f := newLockFixture(t)
	for i := range f.hosts {
		f.plant(t, i, otherRun(), 30*time.Second)
	}
	release, err := f.c.lock(context.Background(), "up", f.opts)
	if err != nil {
		t.Fatalf("lock over a stale one: %v", err)
	}
	defer release()
	for i := range f.hosts {
		if h := f.holder(t, i); h == nil || h.RunID == otherRun().RunID || h.PID != os.Getpid() {
			t.Errorf("host %d holds %+v, want this run", i, h)
		}
	}
	notes := f.Notes()
	if len(notes) != 3 {
		t.Fatalf("notes %q; want one per host", notes)
	}
	for _, n := range notes {
		if !strings.Contains(n, "took over the stale lock of redisctl up (pid 4242 on ops-laptop, started 2026-11-28T01:02:03Z): no heartbeat for 3") {
			t.Errorf("note %q", n)
		}
	}
}

func TestLockTakesOverDeadProcessOfThisMachine(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip(err)
	}
	f := newLockFixture(t)
	ours := otherRun()
	ours.Host, ours.Machine, ours.PID = f.opts.holder.Host, f.opts.holder.Machine, dead.Process.Pid
	for i := range f.hosts {
		f.plant(t, i, ours, 0) // a fresh heartbeat: only the pid tells
	}
	release, err := f.c.lock(context.Background(), "up", f.opts)
	if err != nil {
		t.Fatalf("lock over a dead run of this machine: %v", err)
	}
	release()
	notes := f.Notes()
	if len(notes) != 3 || !strings.Contains(notes[0], "is gone") {
		t.Errorf("notes %q; want one per host saying the process is gone", notes)
	}

	// The same with a live process is held.
	ours.PID = os.Getppid()
	for i := range f.hosts {
		f.plant(t, i, ours, 0)
	}
	if _, err := f.c.lock(context.Background(), "up", f.opts); !errors.Is(err, ErrLocked) {
		t.Errorf("lock of a live process of this machine: %v; want refused", err)
	}
	// And a dead pid on another machine proves nothing.
	other := otherRun()
	other.PID = dead.Process.Pid
	for i := range f.hosts {
		f.plant(t, i, other, 0)
	}
	if _, err := f.c.lock(context.Background(), "up", f.opts); !errors.Is(err, ErrLocked) {
		t.Errorf("lock of another machine's pid: %v; want refused", err)
	}
}

func TestLockReleaseKeepsAnotherRunsLock(t *testing.T) {
	f := newLockFixture(t)
	release, err := f.c.lock(context.Background(), "up", f.opts)
	if err != nil {
		t.Fatal(err)
	}
	// Node1's lock went to another run meanwhile.
	f.plant(t, 0, otherRun(), 0)
	release()
	if h := f.holder(t, 0); h == nil || h.RunID != otherRun().RunID {
		t.Errorf("release removed or changed another run's lock: %+v", h)
	}
	for _, i := range []int{1, 2} {
		if h := f.holder(t, i); h != nil {
			t.Errorf("host %d: our lock is left: %+v", i, h)
		}
	}
}

// Where the host streams stdin (an SSH host), the session that took the
// lock stays open and releases it when told: one command per host for the
// whole lock. Where it does not, or where that session ended before the
// release, the lock is released in a session of its own. Either way no
// lock and no state directory is left.
func TestLockReleasedInTheSessionThatTookIt(t *testing.T) {
	f := newLockFixture(t)
	f.hosts[2].noStream = true
	release, err := f.c.lock(context.Background(), "up", f.opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range f.hosts {
		if f.holder(t, i) == nil {
			t.Fatalf("host %d: no lock while it is held", i)
		}
	}
	if len(f.hosts[0].Calls()) != 1 || len(f.hosts[1].Calls()) != 1 {
		t.Fatalf("commands before the release: %d, %d; want 1 each", len(f.hosts[0].Calls()), len(f.hosts[1].Calls()))
	}
	// Host 1's session ends (the connection lost) before the release.
	f.hosts[1].killRunning(t)
	release()
	for i := range f.hosts {
		if h := f.holder(t, i); h != nil {
			t.Errorf("host %d: lock left after the release: %+v", i, h)
		}
		if _, err := os.Stat(f.hosts[i].root + f.c.Layout.StateDir); !os.IsNotExist(err) {
			t.Errorf("host %d: state directory left after the release: %v", i, err)
		}
	}
	if calls := f.hosts[0].Calls(); len(calls) != 1 {
		t.Errorf("host 0 ran %d commands, want 1 (the release in the lock's session): %q", len(calls), calls)
	}
	for _, i := range []int{1, 2} {
		if calls := f.hosts[i].Calls(); len(calls) != 2 || !strings.Contains(calls[1], "released") {
			t.Errorf("host %d ran %q, want the lock and its release in a session of its own", i, calls)
		}
	}
}

func TestLockHeartbeat(t *testing.T) {
	f := newLockFixture(t)
	f.opts.heartbeat = 20 * time.Millisecond
	release, err := f.c.lock(context.Background(), "up", f.opts)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(f.file(0), old, old); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := os.Stat(f.file(0))
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(st.ModTime()) < time.Minute {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the heartbeat did not refresh the lock's mtime")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Taken over by another run: said once, and not refreshed.
	f.plant(t, 1, otherRun(), 0)
	deadline = time.Now().Add(5 * time.Second)
	for len(f.Notes()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if n := f.Notes(); len(n) != 1 || !strings.HasPrefix(n[0], "node2: warning: the lock") {
		t.Errorf("notes %q; want one warning for node2", n)
	}

	release()
	calls := len(f.hosts[0].Calls())
	time.Sleep(100 * time.Millisecond)
	if after := len(f.hosts[0].Calls()); after != calls {
		t.Errorf("%d commands after release; want the heartbeat stopped", after-calls)
	}
}

// Of several runs racing for one stale lock exactly one gets it.
func TestLockTakeoverRace(t *testing.T) {
	f := newLockFixture(t)
	f.c.Nodes = f.c.Nodes[:1]
	f.plant(t, 0, otherRun(), time.Minute)
	const runs = 8
	var wg sync.WaitGroup
	errs := make([]error, runs)
	releases := make([]func(), runs)
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			releases[i], errs[i] = f.c.lock(context.Background(), "up", f.opts)
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
			defer releases[i]()
		case !errors.Is(err, ErrLocked):
			t.Errorf("run %d: %v; want held or locked", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d runs hold the lock, want 1", won)
	}
}

func TestLockRefusesSymlinks(t *testing.T) {
	f := newLockFixture(t)
	target := t.TempDir()
	// The state directory of node1 is a link; node2's lock file is one.
	dir := filepath.Dir(f.file(0))
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(f.file(1)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(target, "victim"), f.file(1)); err != nil {
		t.Fatal(err)
	}
	_, err := f.c.lock(context.Background(), "up", f.opts)
	if err == nil || errors.Is(err, ErrLocked) || strings.Contains(err.Error(), "umask") ||
		!strings.Contains(err.Error(), "node1: lock: "+f.hosts[0].root+"/var/lib/redisctl is a symbolic link; refusing to use it") ||
		!strings.Contains(err.Error(), "node2: lock: "+f.file(1)+" is a symbolic link; refusing to use it") {
		t.Fatalf("lock: %v; want a refusal naming the link", err)
	}
	if entries, _ := os.ReadDir(target); len(entries) != 0 {
		t.Errorf("something was written through a link: %v", entries)
	}
	if h := f.holder(t, 2); h != nil {
		t.Errorf("node3 keeps a lock after the failure: %+v", h)
	}
}

func TestLockRefusesUnsafeClusterName(t *testing.T) {
	f := newLockFixture(t)
	f.c.Inv.Name = "../etc"
	if _, err := f.c.lock(context.Background(), "up", f.opts); err == nil {
		t.Error("a cluster name with .. was accepted")
	}
	for _, h := range f.hosts {
		if len(h.Calls()) != 0 {
			t.Errorf("%s ran %q", h.Name(), h.Calls())
		}
	}
}

// up reads each host's facts in its lock's round trip: the facts script
// runs (for real, in sh) right after the lock is taken, its whole output
// is collected, and nothing else runs. Where the lock is taken over from a
// stale run (a second attempt) nothing is collected, and GatherFacts reads
// that host on its own.
func TestLockRunsAfterAcquireInItsRoundTrip(t *testing.T) {
	f := newLockFixture(t)
	f.plant(t, 2, otherRun(), 30*time.Second)
	var mu sync.Mutex
	got := map[string]string{}
	f.opts.afterAcquire = func(*Node) string {
		return factsScript(f.c.Layout, portsOf(f.c.Inv), rdbFile(f.c.Inv))
	}
	f.opts.collect = func(n *Node, out acquiredOutput) {
		mu.Lock()
		defer mu.Unlock()
		got[n.Spec.Name] = out.text
	}
	release, err := f.c.lock(context.Background(), "up", f.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for i, h := range f.hosts[:2] {
		out, ok := got[h.Name()]
		if !ok {
			t.Fatalf("%s: no facts collected", h.Name())
		}
		if fa := parseFacts(out, factPorts{redis: 7000, sentinel: 8000}); fa.OSID == "" || fa.Arch == "" || strings.Contains(out, afterAcquireDone) {
			t.Errorf("%s: facts %+v from %q", h.Name(), fa, out)
		}
		if calls := h.Calls(); len(calls) != 1 {
			t.Errorf("host %d ran %d commands to lock and read its facts, want 1", i, len(calls))
		}
	}
	if out, ok := got[f.hosts[2].Name()]; ok {
		t.Errorf("facts collected with a takeover: %q", out)
	}
}

// The lock's first round trip reads, for real in sh, the host checks, the
// facts and the files configure compares, each part framed by the run's
// marker; the clock is timed within the round trip, and the checks and
// the facts take the init script's NOFILE and the configs' tls-port from
// the files read. A file that is a link makes the files unread
// (configure's own read then refuses it), and nothing is kept: each read
// then runs on its own.
func TestLockRoundReadsChecksFactsAndFiles(t *testing.T) {
	f := newLockFixture(t)
	for i := range f.c.Inv.Hosts {
		// The probes connect to the other hosts: loopback only.
		f.c.Inv.Hosts[i].Address = fmt.Sprintf("127.0.0.%d", i+1)
		f.c.Inv.Redis.Port, f.c.Inv.Sentinel.Port = 1, 2 // nothing listens there
	}
	dir := t.TempDir()
	l := &f.c.Layout
	l.RedisConf, l.SentinelConf = filepath.Join(dir, "redis.conf"), filepath.Join(dir, "sentinel.conf")
	l.RedisInitScript, l.SentinelInitScript = filepath.Join(dir, "redis.init"), filepath.Join(dir, "sentinel.init")
	l.RedisUnit, l.SentinelUnit, l.TLSDir = filepath.Join(dir, "redis.service"), filepath.Join(dir, "sentinel.service"), filepath.Join(dir, "tls")
	conf := "port 7000\nrequirepass \"secret\"\ntls-port 7000\n"
	if err := os.WriteFile(l.RedisConf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.RedisInitScript, []byte("#!/bin/sh\nNOFILE=10032 # open files\nNOFILE=5\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A TLS key among the files: read, and kept out of the debug log.
	const keyData = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg-not-a-real-key"
	key := "-----BEGIN PRIVATE KEY-----\n" + keyData + "\n-----END PRIVATE KEY-----\n"
	if err := os.MkdirAll(l.TLSDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.TLSDir, inventory.TLSKeyFile), []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	logDir := t.TempDir()
	f.c.P = NewProgress(io.Discard, logDir, "test", false)
	for i, n := range f.c.Nodes {
		n.Host = f.c.P.Logged(f.hosts[i])
	}
	round := func() {
		t.Helper()
		sent := time.Now()
		release, err := f.c.lock(context.Background(), "up", f.c.withLockRound(f.opts))
		if err != nil {
			t.Fatal(err)
		}
		release()
		for _, n := range f.c.Nodes {
			out, ok := f.c.takeFactsOutput(n)
			if !ok || !strings.Contains(out, "os_id=") {
				t.Errorf("%s: facts %q", n.Spec.Name, out)
			}
			if facts := parseFacts(out, portsOf(f.c.Inv)); !facts.RedisConfTLS || facts.SentinelConfTLS {
				t.Errorf("%s: tls-port in redis.conf %v, in sentinel.conf %v; want true, false", n.Spec.Name, facts.RedisConfTLS, facts.SentinelConfTLS)
			}
			ck := f.c.takeChecked(n)
			if ck == nil {
				t.Fatalf("%s: no host checks kept", n.Spec.Name)
			}
			if ck.NoFileScript != "10032" {
				t.Errorf("%s: NOFILE of the init script %q, want 10032", n.Spec.Name, ck.NoFileScript)
			}
			if ck.Clock == 0 || ck.Before.Before(sent) || ck.Answer.Before(ck.Before) || ck.Answer.After(time.Now()) {
				t.Errorf("%s: clock %.3f read between %s and %s, sent at %s", n.Spec.Name, ck.Clock, ck.Before, ck.Answer, sent)
			}
			if len(ck.Probes) != 2*(len(f.c.Nodes)-1) {
				t.Errorf("%s: probes %+v", n.Spec.Name, ck.Probes)
			}
		}
	}
	round()
	for _, n := range f.c.Nodes {
		keyFile := filepath.Join(l.TLSDir, inventory.TLSKeyFile)
		files, ok := f.c.TakePrefetch(n).covers([]string{l.RedisConf, l.SentinelConf, l.RedisUnit, keyFile})
		if !ok || string(files[l.RedisConf]) != conf || string(files[keyFile]) != key || len(files) != 2 {
			t.Errorf("%s: files read with the lock: %q (%v)", n.Spec.Name, files, ok)
		}
		if _, ok := f.c.TakePrefetch(n).covers([]string{l.RedisConf}); ok {
			t.Errorf("%s: the files were handed out twice", n.Spec.Name)
		}
	}
	if err := f.c.P.Close(); err != nil {
		t.Fatal(err)
	}
	data := testkit.DebugLog(t, logDir)
	if strings.Contains(string(data), keyData) || strings.Contains(string(data), "secret") {
		t.Errorf("the debug log holds the files read with the lock:\n%s", data)
	}
	if !strings.Contains(string(data), "facts: os_id=") || !strings.Contains(string(data), "checks: clock=") {
		t.Errorf("the debug log lacks the facts and the checks read with the lock:\n%s", data)
	}
	f.c.P = testProgress(t)
	for i, n := range f.c.Nodes {
		n.Host = f.hosts[i]
	}
	// A link where a config is: nothing read, nothing kept.
	if err := os.Rename(l.RedisConf, l.RedisConf+".real"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(l.RedisConf+".real", l.RedisConf); err != nil {
		t.Fatal(err)
	}
	release, err := f.c.lock(context.Background(), "up", f.c.withLockRound(f.opts))
	if err != nil {
		t.Fatal(err)
	}
	release()
	for _, n := range f.c.Nodes {
		if p := f.c.TakePrefetch(n); p != nil {
			t.Errorf("%s: files read through a link: %q", n.Spec.Name, p.files)
		}
		if out, ok := f.c.takeFactsOutput(n); ok {
			t.Errorf("%s: facts kept without the files they take a part of: %q", n.Spec.Name, out)
		}
		if ck := f.c.takeChecked(n); ck != nil {
			t.Errorf("%s: checks kept without the files they take a part of", n.Spec.Name)
		}
	}
}
