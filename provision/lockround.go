package provision

import (
	"bytes"
	"context"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote"
	"github.com/redisctl/redisctl/provision/render"
)

// up's first round trip to a host takes the lock and, in the same command,
// reads everything a run that changes nothing needs of that host: the host
// checks, the facts, and the files configure compares with what it
// renders. A no-change up then makes two round trips per host (this one
// and the lock's release) instead of four.
//
// The three reads run one after the other in one script, each in a
// subshell of its own, their outputs separated by a random marker that
// came on stdin (no one on the host can see it and print it). The checks
// run first, so the clock they read is close to when the command left.
// Where the lock is not taken at the first attempt (a takeover) nothing
// is collected, and each read runs on its own as before.

// LockAndGatherFacts is Lock, with each host's facts, host checks and files
// read in the same round trip as its lock where it is taken at the first
// attempt; GatherFacts, CheckHosts and configure then read only the others.
func (c *Cluster) LockAndGatherFacts(ctx context.Context, command string) (release func(), err error) {
	return c.lock(ctx, command, c.withLockRound(c.lockOptions()))
}

// withLockRound makes the lock's first round trip read the checks, the
// facts and the files.
func (c *Cluster) withLockRound(opts lockOptions) lockOptions {
	opts.afterAcquire = func(n *Node) string {
		return joinParts(checkScriptWith(c.Inv, c.probesFrom(n), true),
			factsScriptWith(c.Layout, portsOf(c.Inv), rdbFile(c.Inv), true),
			prefetchScript(c.prefetchPaths(n)))
	}
	opts.collect = c.collectLockRound
	return opts
}

// collectLockRound keeps what the lock's round trip read on n: all three
// parts, or nothing. The checks and the facts take what they need of the
// files from the files read (the init script's NOFILE, the configs'
// tls-port), so where the files could not be read (one is a link) nothing
// is kept, and each read runs on its own.
func (c *Cluster) collectLockRound(n *Node, out acquiredOutput) {
	parts := splitParts(out.text, out.marker)
	if len(parts) != 3 {
		return
	}
	paths := c.prefetchPaths(n)
	files, ok := parsePrefetch(parts[2], out.marker, paths)
	if !ok {
		return
	}
	l := c.Layout
	parts[0] += nofileLine(files[l.RedisInitScript])
	parts[1] += confTLSLines(files[l.RedisConf], files[l.SentinelConf])
	// The debug log gets the checks' and the facts' output, as when they
	// run on their own, and never the files.
	for i, what := range []string{"checks", "facts"} {
		for _, line := range strings.Split(strings.TrimSpace(parts[i]), "\n") {
			c.P.Debugf("[%s] %s: %s", n.Spec.Name, what, maskLine(line))
		}
	}
	t := parseTuning(parts[0])
	t.Before, t.Answer = out.sent, out.arrival(strings.Index(parts[0], "clock="))
	c.factsMu.Lock()
	defer c.factsMu.Unlock()
	if c.factsOut == nil {
		c.factsOut, c.checked, c.prefetched = map[*Node]string{}, map[*Node]*hostTuning{}, map[*Node]*prefetch{}
	}
	c.factsOut[n] = parts[1]
	c.checked[n] = t
	c.prefetched[n] = &prefetch{paths: paths, files: files}
}

// takeChecked returns, once, the host checks read with n's lock.
func (c *Cluster) takeChecked(n *Node) *hostTuning { return take(&c.factsMu, c.checked, n) }

// TakePrefetch returns, once, the files read with n's lock.
func (c *Cluster) TakePrefetch(n *Node) *prefetch { return take(&c.factsMu, c.prefetched, n) }

// take removes n's value from m, under mu, and returns it.
func take[T any](mu *sync.Mutex, m map[*Node]T, n *Node) T {
	mu.Lock()
	defer mu.Unlock()
	v := m[n]
	delete(m, n)
	return v
}

// partJoin ends one part of joinParts' script and begins the next.
const partJoin = "\n) 2>/dev/null; printf '\\n%s part\\n' \"$m\"\n(\n"

// joinParts runs each script in a subshell of its own, one after the
// other, printing the marker between their outputs.
func joinParts(scripts ...string) string {
	return "(\n" + strings.Join(scripts, partJoin) + "\n) 2>/dev/null"
}

// splitParts splits joinParts' output into each script's.
func splitParts(out, marker string) []string {
	return strings.Split(out, "\n"+marker+" part\n")
}

// PrefetchTag starts the prefetch script and names the files it reads
// (their paths are no secret).
const PrefetchTag = "# redisctl read-files"

// prefetchScript reads paths as ReadFiles does, framed by $m; where one
// is a link it reads nothing (configure's own read then refuses it).
func prefetchScript(paths []string) string {
	quoted := make([]string, len(paths))
	for i, p := range paths {
		quoted[i] = remote.Quote(p)
	}
	return PrefetchTag + " " + strings.Join(quoted, " ") + "\n" +
		remote.ReadFilesScript(paths, "m", `printf '%%s link\n' "$m"; exit 0`)
}

// parsePrefetch reads prefetchScript's output; ok is false when it read
// nothing usable.
func parsePrefetch(out, marker string, paths []string) (map[string][]byte, bool) {
	if strings.HasPrefix(out, marker+" link\n") {
		return nil, false
	}
	files, err := remote.ParseFrames([]byte(out), marker, paths)
	return files, err == nil
}

// prefetch are the files of one host read with its lock.
type prefetch struct {
	paths []string
	files map[string][]byte // the ones that exist
}

// covers returns the prefetched content of paths, if every one was read.
func (p *prefetch) covers(paths []string) (map[string][]byte, bool) {
	if p == nil {
		return nil, false
	}
	out := map[string][]byte{}
	for _, want := range paths {
		found := false
		for _, have := range p.paths {
			if have == want {
				found = true
				break
			}
		}
		if !found {
			return nil, false
		}
		if data, ok := p.files[want]; ok {
			out[want] = bytes.Clone(data)
		}
	}
	return out, true
}

// prefetchPaths are the files planFiles may read on n, for either init
// system: what render.HostFilesWith writes, and the TLS directory's files;
// and the sentinel's config even on a host without one, whose tls-port
// line the facts report.
func (c *Cluster) prefetchPaths(n *Node) []string {
	l := c.Layout
	paths := []string{l.RedisConf, l.SentinelConf}
	if c.Inv.Redis.ACL() {
		paths = append(paths, render.ACLFile(c.Inv))
	}
	paths = append(paths, path.Join(l.TLSDir, inventory.TLSCAFile), path.Join(l.TLSDir, inventory.TLSCertFile), path.Join(l.TLSDir, inventory.TLSKeyFile),
		l.RedisInitScript, l.RedisUnit)
	if n.Spec.Sentinel {
		paths = append(paths, l.SentinelInitScript, l.SentinelUnit)
	}
	return paths
}

// probesFrom are the "ADDR PORT" pairs host n's checks connect to: every
// other host's redis and sentinel port.
func (c *Cluster) probesFrom(n *Node) []string {
	var probes []string
	for _, t := range c.targets() {
		if t.node != n {
			probes = append(probes, t.node.Spec.Address+" "+strconv.Itoa(t.port))
		}
	}
	return probes
}
