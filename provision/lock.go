package provision

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redisctl/redisctl/provision/remote"
)

// One run at a time per cluster: up, uninstall and failover-test take a
// lock file on every host, <StateDir>/<cluster>.lock, so a second run
// refuses at once and names the first instead of deciding on a cluster the
// first is changing. The holder refreshes the file's mtime (a heartbeat);
// a lock whose heartbeat stopped, or whose process on this same control
// machine is gone, is stale and taken over.
//
// Every step on the host is a small sh script: the lock is created with
// noclobber (`set -C`), so two runs racing for it cannot both win, and a
// symbolic link is refused rather than followed. Removing a lock, as a
// takeover or a release, first takes a marker file named after the run id
// it removes, also with noclobber: only one run at a time may remove a
// given holder's lock, and only while the lock still holds that run id.

// LockStaleAfter is how long a lock may go without a heartbeat before
// another run takes it over.
const LockStaleAfter = 20 * time.Second

// lockHeartbeat is how often the holder refreshes its lock.
const lockHeartbeat = 5 * time.Second

// ErrLocked matches (errors.Is) a *LockedError.
var ErrLocked = errors.New("cluster is locked by another run")

// LockHolder is what a lock file holds: who took it. Nothing secret.
type LockHolder struct {
	Host    string    `json:"host"`    // the control machine's host name
	Machine string    `json:"machine"` // a hash of its machine id, "" when unknown
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Command string    `json:"command"` // "up", "failover-test --mode manual", ...
	RunID   string    `json:"run_id"`
}

// LockedError is a lock held by another run that is not stale.
type LockedError struct {
	Cluster    string
	Holder     LockHolder    // zero when the lock file could not be read
	Hosts      []string      // where the lock is held
	File       string        // the lock file on those hosts
	Heartbeat  time.Duration // since the holder's last heartbeat, on the host's clock
	StaleAfter time.Duration
	now        time.Time
}

func (e *LockedError) Error() string {
	who := "another redisctl run (the lock file " + e.File + " is unreadable)"
	if h := e.Holder; h.RunID != "" {
		now := e.now
		if now.IsZero() {
			now = time.Now()
		}
		who = fmt.Sprintf("redisctl %s (pid %d on %s, started %s, %s ago)", h.Command, h.PID, h.Host,
			h.Started.UTC().Format(time.RFC3339), now.Sub(h.Started).Round(time.Second))
	}
	return fmt.Sprintf("cluster %q is locked by %s; wait for it to finish, or if that run is dead, the lock is taken over automatically once it is stale (%s)",
		e.Cluster, who, e.StaleAfter)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// lockOptions are the knobs of Lock; tests shorten the times.
type lockOptions struct {
	staleAfter time.Duration
	heartbeat  time.Duration
	holder     LockHolder             // who we are, without command and run id
	alive      func(pid int) bool     // whether a process of this machine lives
	retryPause time.Duration          // between attempts on one host
	now        func() time.Time       // for messages
	note       func(host, msg string) // takeover and heartbeat notes
	// afterAcquire, when set, is a read-only script run in the same round
	// trip right after the lock is taken on a host at the first attempt;
	// collect gets its output. (up reads the facts, the host checks and
	// its files this way: see lockround.go.) The script may use $m, a
	// random marker that came on stdin, to frame what it prints.
	afterAcquire func(n *Node) string
	collect      func(n *Node, out acquiredOutput)
}

// acquiredOutput is what an afterAcquire script printed.
type acquiredOutput struct {
	text   string
	marker string    // the value of $m: random, known to this run only
	sent   time.Time // when the command left
	// arrival tells when byte i of text arrived.
	arrival func(i int) time.Time
}

// Lock takes the cluster's lock on every connected host at once and starts
// a heartbeat that keeps it fresh; call release when the run ends (it stops
// the heartbeat, removes the lock where it still holds this run's id, and
// removes the state directory if that leaves it empty, as after uninstall).
// command is the verb and its flags as the user would recognise them, for
// example "up" or "failover-test --mode manual"; it is shown to a second
// run, so it must hold nothing secret.
//
// When another run holds the lock on any host, the locks taken are
// released and the error is a *LockedError (errors.Is(err, ErrLocked))
// naming the holder. A stale lock (no heartbeat for LockStaleAfter, or its
// process on this machine is gone) is taken over, and the takeover is
// printed. Hosts without a connection are skipped: this run cannot change
// them either.
func (c *Cluster) Lock(ctx context.Context, command string) (release func(), err error) {
	return c.lock(ctx, command, c.lockOptions())
}

// lockOptions are a real run's: this machine, this process, the clock.
func (c *Cluster) lockOptions() lockOptions {
	hostname, _ := os.Hostname()
	return lockOptions{
		staleAfter: LockStaleAfter,
		heartbeat:  lockHeartbeat,
		holder:     LockHolder{Host: hostname, Machine: machineID(), PID: os.Getpid()},
		alive:      pidAlive,
		retryPause: 200 * time.Millisecond,
		now:        time.Now,
		note:       func(host, msg string) { c.P.Printf(host, "%s", msg) },
	}
}

// clusterLock is one run's lock on the hosts where it took it.
type clusterLock struct {
	c     *Cluster
	opts  lockOptions
	file  string
	self  LockHolder
	nodes []*Node // where we hold it

	stop    context.CancelFunc
	stopped chan struct{}
	once    sync.Once
	lost    sync.Map // node name -> true once a heartbeat found the lock gone
	held    sync.Map // *Node -> *heldSession: the session that took the lock, still open
}

func (c *Cluster) lock(ctx context.Context, command string, opts lockOptions) (func(), error) {
	if err := checkFileName(c.Inv.Name); err != nil {
		return nil, err
	}
	runID, err := newRunID()
	if err != nil {
		return nil, err
	}
	self := opts.holder
	self.Command, self.RunID = command, runID
	self.Started = opts.now().UTC().Truncate(time.Second)
	l := &clusterLock{c: c, opts: opts, file: LockFile(c.Layout.StateDir, c.Inv.Name), self: self}
	content, err := json.Marshal(self)
	if err != nil {
		return nil, err
	}

	var nodes []*Node
	for _, n := range c.Nodes {
		if n.Host != nil {
			nodes = append(nodes, n)
		}
	}
	held := make([]bool, len(nodes))
	index := map[*Node]int{}
	for i, n := range nodes {
		index[n] = i
	}
	var mu sync.Mutex
	var locked []*LockedError
	err = EachHost(ctx, nodes, NodeName, "lock", func(ctx context.Context, n *Node) error {
		ok, le, err := l.acquire(ctx, n, content)
		if le != nil {
			mu.Lock()
			locked = append(locked, le)
			mu.Unlock()
			return le
		}
		held[index[n]] = ok
		return err
	})
	for i, n := range nodes {
		if held[i] {
			l.nodes = append(l.nodes, n)
		}
	}
	if err != nil {
		failed := len(nodes) - len(l.nodes)
		l.removeLocks(context.WithoutCancel(ctx))
		if one := sameHolder(locked); one != nil && len(locked) == failed {
			// Held by one run wherever it failed: say so once.
			return nil, one
		}
		return nil, err
	}

	hctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	l.stop, l.stopped = stop, make(chan struct{})
	go l.heartbeat(hctx)
	return l.release, nil
}

// sameHolder merges the errors of hosts held by one run; nil when there
// are none or several holders.
func sameHolder(locked []*LockedError) *LockedError {
	if len(locked) == 0 {
		return nil
	}
	one := *locked[0]
	one.Hosts = nil
	for _, le := range locked {
		if le.Holder.RunID != one.Holder.RunID || le.Holder.RunID == "" {
			return nil
		}
		one.Hosts = append(one.Hosts, le.Hosts...)
	}
	return &one
}

func LockFile(stateDir, cluster string) string {
	return path.Join(stateDir, cluster+".lock")
}

// lockPrelude defines what every lock script uses: the state directory d,
// the lock file f, and helpers.
const lockPrelude = `d=%s; f=%s
umask 077
refuse() { echo "$*" >&2; exit 3; }
mkstate() {
  [ -L "$d" ] && refuse "$d is a symbolic link; refusing to use it"
  install -d -o root -g root -m 700 -- "$d" || exit 1
  [ -L "$d" ] && refuse "$d is a symbolic link; refusing to use it"
}
holds() {
  _c=; IFS= read -r _c <"$f" 2>/dev/null
  case $_c in *"$1"*) return 0 ;; esac; return 1
}
age() {
  now=$(date +%%s) && m=$(stat -c %%Y -- "$1" 2>/dev/null || date -r "$1" +%%s) || return 1
  echo $((now - m))
}
create() {
  [ -L "$f" ] && refuse "$f is a symbolic link; refusing to use it"
  (set -C; printf '%%s\n' "$content" > "$f") 2>/dev/null
}
`

// afterAcquireDone ends the output of a complete afterAcquire script.
const afterAcquireDone = "redisctl:after-acquire-done"

// lockAcquireScript creates the lock with the content on stdin and prints
// "acquired", or "held <age in seconds>" and the holder's content.
const lockAcquireScript = `IFS= read -r content; IFS= read -r m || :
%[1]s
mkstate
i=0
while [ $i -lt 5 ]; do
  if create; then echo acquired; after_acquire; hold; exit 0; fi
  [ -e "$f" ] && [ ! -f "$f" ] && refuse "$f is not a regular file"
  if [ -f "$f" ] && a=$(age "$f") && held=$(cat -- "$f"); then printf 'held %%s\n%%s\n' "$a" "$held"; exit 0; fi
  # Released (and the directory perhaps removed) meanwhile: again.
  i=$((i + 1)); mkstate
done
refuse "could not create $f"
`

// lockTakeoverScript replaces a stale lock, if it is still the one judged
// stale (matched by %[1]s) and still older than %[3]d seconds, under the
// marker %[2]s. It prints "acquired", "busy" (another run is removing that
// lock now), "alive <age>" (its heartbeat came back) or "lost" (someone
// else created the lock first).
const lockTakeoverScript = `content=$(cat)
mkstate
t=$f.takeover.%[2]s
# A marker this old is from a script killed in its few milliseconds.
if [ -f "$t" ] && [ ! -L "$t" ] && a=$(age "$t") && [ "$a" -gt 60 ]; then rm -f -- "$t"; fi
if ! (set -C; : > "$t") 2>/dev/null; then echo busy; exit 0; fi
trap 'rm -f -- "$t"' EXIT
[ -L "$f" ] && refuse "$f is a symbolic link; refusing to use it"
if [ -f "$f" ] && %[1]s; then
  a=$(age "$f") || a=0
  if [ "$a" -lt %[3]d ]; then echo "alive $a"; exit 0; fi
  rm -f -- "$f"
fi
if create; then echo acquired; else echo lost; fi
`

// lockHeartbeatScript refreshes the lock's mtime while it holds run %[1]s.
const lockHeartbeatScript = `if [ -f "$f" ] && [ ! -L "$f" ] && %[1]s; then touch -c -- "$f" && echo ok; else echo lost; fi
`

// lockReleaseScript removes the lock if it holds run %[1]s, under the
// marker %[2]s, then the state directory if that leaves it empty.
const lockReleaseScript = `t=$f.takeover.%[2]s
if [ -f "$f" ] && [ ! -L "$f" ] && %[1]s; then
  if (set -C; : > "$t") 2>/dev/null; then
    if %[1]s; then rm -f -- "$f" "$t" && echo released; else rm -f -- "$t"; fi
  else echo busy; fi
else echo "not ours"; fi
set -- "$d"/*; [ -e "$1" ] || [ -L "$1" ] || rmdir -- "$d" 2>/dev/null || :
`

func (l *clusterLock) script(body string, args ...any) string {
	return fmt.Sprintf(lockPrelude, remote.Quote(l.c.Layout.StateDir), remote.Quote(l.file)) + fmt.Sprintf(body, args...)
}

// holds is a shell test true while the lock file holds run id. The lock
// file is one line (create writes it), read by the shell: no process.
func holds(runID string) string {
	return "holds " + remote.Quote(`"run_id":"`+runID+`"`)
}

// acquire takes the lock on one host: ok when taken, a *LockedError when
// another live run holds it.
func (l *clusterLock) acquire(ctx context.Context, n *Node, content []byte) (ok bool, le *LockedError, err error) {
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return false, nil, ctx.Err()
			case <-time.After(l.opts.retryPause):
			}
		}
		after := "after_acquire() { :; }"
		runCtx := ctx
		if l.opts.afterAcquire != nil && attempt == 0 {
			after = "after_acquire() { (\n" + l.opts.afterAcquire(n) + "\n) 2>/dev/null; echo " + afterAcquireDone + "; }"
			// It may print files (lockround.go); collect logs what may be.
			runCtx = withUnloggedOutput(ctx)
		}
		marker, err := newRunID()
		if err != nil {
			return false, nil, err
		}
		stdin := append(append(content[:len(content):len(content)], '\n'), marker+"\n"...)
		sent := time.Now()
		var arrivals arrivalLog
		var out string
		var held *heldSession
		if remote.StreamsStdin(n.Host) {
			// The session stays open once the lock is taken, waiting for
			// the word to release it (see hold).
			script := l.script(lockAcquireScript, after+"\n"+l.holdFunc())
			held, out, err = l.startHeld(runCtx, n, script, stdin, &arrivals, marker+" holding")
		} else {
			out, err = l.runTo(runCtx, n, l.script(lockAcquireScript, after+"\nhold() { :; }"), stdin, &arrivals)
		}
		if err != nil {
			return false, nil, err
		}
		first, rest, _ := strings.Cut(out, "\n")
		if first == "acquired" {
			if held != nil {
				rest = strings.TrimSuffix(rest, "\n"+marker+" holding")
				l.held.Store(n, held)
			}
			// Only a complete output counts; otherwise the caller reads
			// again.
			if extra, ok := strings.CutSuffix(rest, afterAcquireDone); ok && l.opts.collect != nil {
				skip := len(first) + 1
				l.opts.collect(n, acquiredOutput{text: extra, marker: marker, sent: sent,
					arrival: func(i int) time.Time { return arrivals.at(skip + i) }})
			}
			return true, nil, nil
		}
		ageText, ok := strings.CutPrefix(first, "held ")
		age, err := strconv.Atoi(ageText)
		if !ok || err != nil {
			return false, nil, fmt.Errorf("lock %s: unexpected answer %q", l.file, remote.Tail(out, 2))
		}
		heartbeat := time.Duration(age) * time.Second
		var holder LockHolder
		if json.Unmarshal([]byte(rest), &holder) != nil || !isRunID(holder.RunID) {
			holder = LockHolder{}
			if heartbeat <= 2*time.Second && attempt < 2 {
				continue // being written right now
			}
		}
		le := &LockedError{Cluster: l.c.Inv.Name, Holder: holder, Hosts: []string{n.Spec.Name}, File: l.file,
			Heartbeat: heartbeat, StaleAfter: l.opts.staleAfter, now: l.opts.now()}
		why, minAge := l.stale(holder, heartbeat)
		if why == "" {
			return false, le, nil
		}
		match, marker := holds(holder.RunID), holder.RunID
		if holder.RunID == "" {
			match, marker = `! grep -qF -- '"run_id":' "$f"`, "unreadable"
		}
		out, err = l.run(ctx, n, l.script(lockTakeoverScript, match, remote.Quote(marker), int(minAge/time.Second)), content)
		if err != nil {
			return false, nil, err
		}
		switch res := strings.TrimSpace(out); {
		case res == "acquired":
			l.opts.note(n.Spec.Name, fmt.Sprintf("took over the stale lock of %s: %s", describeHolder(holder, l.file), why))
			return true, nil, nil
		case strings.HasPrefix(res, "alive"):
			return false, le, nil
		case res == "busy" || res == "lost":
			// Another run is taking it over: look again.
		default:
			return false, nil, fmt.Errorf("lock %s: unexpected answer %q", l.file, res)
		}
	}
	return false, nil, fmt.Errorf("lock %s: other runs keep taking it; try again", l.file)
}

// stale says why a lock whose heartbeat is that old may be taken over, and
// how old it must still be when it is replaced; "" when it may not.
func (l *clusterLock) stale(h LockHolder, heartbeat time.Duration) (why string, minAge time.Duration) {
	if heartbeat > l.opts.staleAfter {
		return fmt.Sprintf("no heartbeat for %s", heartbeat), l.opts.staleAfter
	}
	me := l.opts.holder
	if h.RunID != "" && h.Host == me.Host && h.Machine == me.Machine && h.PID > 0 && h.PID != me.PID && !l.opts.alive(h.PID) {
		return fmt.Sprintf("its process %d on this machine is gone", h.PID), 0
	}
	return "", 0
}

func describeHolder(h LockHolder, file string) string {
	if h.RunID == "" {
		return "an unreadable lock file " + file
	}
	return fmt.Sprintf("redisctl %s (pid %d on %s, started %s)", h.Command, h.PID, h.Host, h.Started.UTC().Format(time.RFC3339))
}

// run runs one lock script with stdin and returns its output.
func (l *clusterLock) run(ctx context.Context, n *Node, script string, stdin []byte) (string, error) {
	return l.runTo(ctx, n, script, stdin, &arrivalLog{})
}

// runTo is run, its output kept in out.
func (l *clusterLock) runTo(ctx context.Context, n *Node, script string, stdin []byte, out *arrivalLog) (string, error) {
	err := refusal(n.Host.Run(ctx, script, bytes.NewReader(stdin), out, nil))
	return strings.TrimRight(out.String(), "\n"), err
}

// refusal is a lock script's error: the reason it printed when it refused.
func refusal(err error) error {
	var ee *remote.ExitError
	if errors.As(err, &ee) && ee.Status == 3 {
		// The script refused and said why; the script itself is in the debug log.
		return errors.New(remote.Tail(ee.Stderr, 1))
	}
	return err
}

// holdFunc is the shell function hold, which the acquire script calls once
// it has taken the lock: it says so (the line "$m holding") and waits on
// stdin; the line "release" releases the lock as lockReleaseScript does.
// A no-change up thus releases its lock without another session and sudo
// on each host. Anything else on stdin, or its end (the connection lost),
// leaves the lock, which goes stale as when the run is killed.
func (l *clusterLock) holdFunc() string {
	return "hold() {\n  printf '%s holding\\n' \"$m\"\n  IFS= read -r _cmd || exit 0\n  [ \"$_cmd\" = release ] || exit 0\n" +
		fmt.Sprintf(lockReleaseScript, holds(l.self.RunID), remote.Quote(l.self.RunID)) + "}"
}

// heldSession is the session that took a host's lock, open and waiting for
// the word to release it (holdFunc).
type heldSession struct {
	stdin  *io.PipeWriter
	done   chan error // the command's end
	out    *arrivalLog
	from   int // where its output after the holding line starts
	cancel context.CancelFunc
}

// startHeld runs the acquire script with stdin left open after its first
// bytes, and returns its output once it printed the line holding (the lock
// is taken, the session stays open: held is not nil) or once it ended.
// The session does not end with ctx: it is the release's to end.
func (l *clusterLock) startHeld(ctx context.Context, n *Node, script string, stdin []byte, out *arrivalLog, holding string) (held *heldSession, text string, err error) {
	pr, pw := io.Pipe()
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h := &heldSession{stdin: pw, done: make(chan error, 1), out: out, cancel: cancel}
	seen := out.notify("\n" + holding + "\n")
	go func() {
		err := n.Host.Run(hctx, script, io.MultiReader(bytes.NewReader(stdin), pr), out, nil)
		// Whatever is still waiting to write to the command gives up.
		_ = pw.CloseWithError(io.ErrClosedPipe)
		h.done <- refusal(err)
	}()
	select {
	case <-seen:
		h.from = out.Len()
		return h, strings.TrimRight(out.String(), "\n"), nil
	case err := <-h.done:
		cancel()
		return nil, strings.TrimRight(out.String(), "\n"), err
	case <-ctx.Done():
		cancel()
		<-h.done
		return nil, "", ctx.Err()
	}
}

// release sends the word and waits for the session to end; an error when
// the lock may still be there (the session had ended, or did not say what
// it did).
func (h *heldSession) release(ctx context.Context) error {
	defer h.cancel()
	select {
	case err := <-h.done:
		return fmt.Errorf("the session ended before the release: %v", err)
	default:
	}
	go func() {
		_, _ = io.WriteString(h.stdin, "release\n")
		_ = h.stdin.Close()
	}()
	select {
	case err := <-h.done:
		if err != nil {
			return err
		}
		switch got := strings.TrimSpace(h.out.From(h.from)); got {
		case "released", "not ours":
			return nil
		default:
			return fmt.Errorf("unexpected answer %q", got)
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// arrivalLog is a command's output with the time each part of it arrived.
type arrivalLog struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ends  []int // the end of each write
	times []time.Time
	watch string        // notify's: closes seen once the output holds it
	seen  chan struct{} // closed once
}

func (a *arrivalLog) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	from := max(a.buf.Len()-len(a.watch), 0)
	a.buf.Write(p)
	a.ends = append(a.ends, a.buf.Len())
	a.times = append(a.times, time.Now())
	if a.seen != nil && a.watch != "" && bytes.Contains(a.buf.Bytes()[from:], []byte(a.watch)) {
		close(a.seen)
		a.watch = ""
	}
	return len(p), nil
}

// notify returns a channel closed once the output holds s.
func (a *arrivalLog) notify(s string) <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.watch, a.seen = s, make(chan struct{})
	return a.seen
}

// Len is the length of the output so far.
func (a *arrivalLog) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.Len()
}

// From is the output from byte i on.
func (a *arrivalLog) From(i int) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return string(a.buf.Bytes()[i:])
}

func (a *arrivalLog) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.String()
}

// at is when byte i arrived (now, for a byte that has not).
func (a *arrivalLog) at(i int) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, end := range a.ends {
		if i < end {
			return a.times[k]
		}
	}
	return time.Now()
}

// heartbeat refreshes the lock on every host until release, and says once
// per host when the lock is no longer this run's.
func (l *clusterLock) heartbeat(ctx context.Context) {
	defer close(l.stopped)
	t := time.NewTicker(l.opts.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_ = EachHost(ctx, l.nodes, NodeName, "lock heartbeat", func(ctx context.Context, n *Node) error {
			if _, gone := l.lost.Load(n.Spec.Name); gone {
				return nil
			}
			cctx, cancel := context.WithTimeout(ctx, l.opts.staleAfter/2)
			defer cancel()
			out, err := l.run(cctx, n, l.script(lockHeartbeatScript, holds(l.self.RunID)), nil)
			if err != nil {
				if ctx.Err() == nil {
					l.c.P.Debugf("[%s] lock heartbeat: %v", n.Spec.Name, err)
				}
				return err
			}
			if out == "lost" {
				l.lost.Store(n.Spec.Name, true)
				l.opts.note(n.Spec.Name, fmt.Sprintf("warning: the lock %s is no longer this run's (its heartbeat was late and another run took it over); another run may be changing the cluster", l.file))
			}
			return nil
		})
	}
}

// release stops the heartbeat and removes the lock where it is still ours.
func (l *clusterLock) release() {
	l.once.Do(func() {
		l.stop()
		<-l.stopped
		l.removeLocks(context.Background())
	})
}

// removeLocks removes this run's lock from the hosts it holds it on:
// through the session that took it where that is still open, otherwise
// in a session of its own.
func (l *clusterLock) removeLocks(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	script := l.script(lockReleaseScript, holds(l.self.RunID), remote.Quote(l.self.RunID))
	err := EachHost(ctx, l.nodes, NodeName, "release lock", func(ctx context.Context, n *Node) error {
		if h, ok := l.held.LoadAndDelete(n); ok {
			err := h.(*heldSession).release(ctx)
			if err == nil {
				return nil
			}
			l.c.P.Debugf("[%s] release the lock in the session that took it: %v; releasing it in a session of its own", n.Spec.Name, err)
		}
		_, err := l.run(ctx, n, script, nil)
		return err
	})
	if err != nil {
		l.opts.note("", fmt.Sprintf("warning: could not release the lock %s (it goes stale in %s): %v", l.file, l.opts.staleAfter, err))
	}
	l.nodes = nil
}

// newRunID is a random id for one run's lock.
func newRunID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// isRunID reports whether s looks like a run id: it names a marker file
// and goes into a grep pattern, so nothing else may pass.
func isRunID(s string) bool {
	return len(s) >= 8 && len(s) <= 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// machineID tells apart control machines that share a host name, without
// revealing the machine id itself; "" where there is none.
func machineID() string {
	data, err := os.ReadFile("/etc/machine-id")
	if err != nil || len(strings.TrimSpace(string(data))) == 0 {
		return ""
	}
	sum := sha256.Sum256([]byte("redisctl lock " + strings.TrimSpace(string(data))))
	return hex.EncodeToString(sum[:6])
}

// pidAlive reports whether a process of this machine is alive; a process
// of another user counts.
func pidAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}
