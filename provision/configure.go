package provision

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/redisctl/redisctl/provision/acl"
	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote"
	"github.com/redisctl/redisctl/provision/render"
)

// userScript creates the unprivileged "redis" system user when missing,
// printing userCreated when it did. It runs under set -e: a failed useradd
// stops the script.
const userScript = `if ! id -u redis >/dev/null 2>&1; then
shell=/usr/sbin/nologin; [ -x "$shell" ] || shell=/sbin/nologin; [ -x "$shell" ] || shell=/bin/false
if getent group redis >/dev/null 2>&1; then g="-g redis"; else g="-U"; fi
useradd --system $g --home-dir /var/lib/redis --no-create-home --shell "$shell" redis || { echo "redisctl: could not create the redis user (useradd failed)" >&2; exit 1; }
echo ` + userCreated + `
fi
`

// userCreated is the line userScript prints when it created the user.
const userCreated = "redisctl:created-user-redis"

// hostDirs are the directories redisctl owns on n, with owner and mode.
func (c *Cluster) hostDirs(n *Node) []dirSpec {
	l := c.Layout
	dirs := []dirSpec{
		{Path: l.StateDir, Mode: 0o700},
		// Redis and Sentinel rewrite their configs through a temporary file
		// here, so the directory is theirs.
		{Path: l.ConfDir, Owner: "redis:redis", Mode: 0o750},
		// Redis writes only in its own data directory: the parent is
		// root's, so the redis account cannot swap the directories in it.
		{Path: path.Dir(l.DataDir), Mode: 0o755, KeepForeign: true},
		{Path: l.DataDir, Owner: "redis:redis", Mode: 0o750},
	}
	if n.Spec.Sentinel {
		dirs = append(dirs, dirSpec{Path: l.SentinelDir, Owner: "redis:redis", Mode: 0o750})
	}
	if c.Inv.TLS.Enabled {
		// In the config directory, which is redis's: a root-owned one
		// there could be swapped by redis (see ensureDirsScript).
		dirs = append(dirs, dirSpec{Path: l.TLSDir, Owner: "redis:redis", Mode: 0o750})
	}
	return dirs
}

func (c *Cluster) hostLogs(n *Node) []string {
	logs := []string{c.Layout.RedisLog}
	if n.Spec.Sentinel {
		logs = append(logs, c.Layout.SentinelLog)
	}
	return logs
}

// MissingOnHost lists what prepareHost would create on n (read only). The
// facts script checked the same paths under this run's lock, and nothing
// before prepare changes them: its answer is used when it has one.
func (c *Cluster) MissingOnHost(ctx context.Context, n *Node) ([]string, error) {
	if f := n.Facts; f != nil && f.MissingChecked {
		var out []string
		if !f.RedisUser {
			out = append(out, "the redis user")
		}
		var want []string
		for _, d := range c.hostDirs(n) {
			if d.Path != c.Layout.StateDir {
				want = append(want, d.Path)
			}
		}
		for _, p := range append(want, c.hostLogs(n)...) {
			if slices.Contains(f.Missing, p) {
				out = append(out, p)
			}
		}
		return out, nil
	}
	var b strings.Builder
	b.WriteString("id -u redis >/dev/null 2>&1 || echo 'the redis user'\n")
	for _, d := range c.hostDirs(n) {
		if d.Path == c.Layout.StateDir {
			continue // redisctl's own bookkeeping, made with the first change
		}
		// A link where a directory belongs is reported too: the prepare
		// step then refuses it by name.
		fmt.Fprintf(&b, "[ -d %[1]s ] && [ ! -L %[1]s ] || echo %[1]s\n", remote.Quote(d.Path))
	}
	for _, f := range c.hostLogs(n) {
		fmt.Fprintf(&b, "[ -e %[1]s ] && [ ! -L %[1]s ] || echo %[1]s\n", remote.Quote(f))
	}
	out, err := remote.Output(ctx, n.Host, b.String())
	if err != nil {
		return nil, err
	}
	return strings.FieldsFunc(strings.TrimSpace(out), func(r rune) bool { return r == '\n' }), nil
}

// PrepareHost makes the user, directories and log files Redis needs. The
// config directory belongs to redis: Redis and Sentinel rewrite their config
// through a temporary file in that directory, and a rewrite that fails loses
// Sentinel's state at the next restart.
func (c *Cluster) PrepareHost(ctx context.Context, n *Node) error {
	// The user, the directories and the log files in one round trip, and
	// one manifest save for what it created (the user before its
	// directories, which it owns).
	var b strings.Builder
	b.WriteString(ensureDirsPrelude)
	if !n.Facts.RedisUser {
		b.WriteString(userScript)
	}
	b.WriteString(ensureDirsCalls(c.hostDirs(n), n.Manifest.Has))
	b.WriteString("set +e\n")
	for _, f := range c.hostLogs(n) {
		b.WriteString(logFileScript(f, "redis:redis"))
	}
	out, err := remote.Output(ctx, n.Host, b.String())
	added := false
	for _, p := range strings.Fields(out) {
		if p == userCreated {
			// Recorded even when a later part failed: uninstall removes
			// the user only where redisctl made it.
			c.P.Printf(n.Spec.Name, "created system user redis")
			n.Manifest.mu.Lock()
			n.Manifest.CreatedUser = true
			n.Manifest.mu.Unlock()
			added = true
		} else if n.Manifest.AddCreated(p) {
			added = true
		}
	}
	if err == nil {
		n.Facts.RedisUser = true
	}
	if added {
		if serr := n.Manifest.Save(ctx, n.Host); err == nil {
			err = serr
		}
	}
	return err
}

// FileChange is one file that differs from what redisctl wants.
type FileChange struct {
	File     render.File
	Old      []byte // nil for a new file
	New      []byte
	Keys     []string // managed directives that differ (config files)
	Live     bool     // the file belongs to a running server
	IsConfig bool
	// ACL are the users that differ, for the ACL file of a data node.
	ACL []acl.Difference
}

// PlanFiles renders every file for n and compares it with what is on the
// host. Config files are merged (see mergeConfig) so that state Redis and
// Sentinel wrote into them survives.
func (c *Cluster) PlanFiles(ctx context.Context, n *Node, masterAddr string) ([]FileChange, error) {
	return c.PlanFilesFrom(ctx, n, masterAddr, nil)
}

// PlanFilesFrom is planFiles comparing with pre, the files read in up's
// lock round trip, where they cover every file it reads.
func (c *Cluster) PlanFilesFrom(ctx context.Context, n *Node, masterAddr string, pre *prefetch) ([]FileChange, error) {
	opts := render.HostOptions{RedisVersion: runningVersion(n), Credentials: c.Creds,
		RedisTLS: c.renderTLS(n, false), SentinelTLS: c.renderTLS(n, true)}
	files, err := render.HostFilesWith(c.Inv, n.Spec, masterAddr, n.Facts.Init, opts)
	if err != nil {
		return nil, err
	}
	// One round trip for all of them: a no-change run reads and writes
	// nothing else here. A TLS cluster's certificate and key are read
	// with the rest, to keep them while they are good.
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.Path
	}
	paths = append(paths, c.tlsPaths()...)
	onHost, ok := pre.covers(paths)
	if !ok {
		var err error
		if onHost, err = n.Host.ReadFiles(ctx, paths); err != nil {
			return nil, err
		}
	}
	if opts.TLS, err = c.hostTLSFiles(n, onHost); err != nil {
		return nil, err
	}
	if opts.TLS != nil {
		if files, err = render.HostFilesWith(c.Inv, n.Spec, masterAddr, n.Facts.Init, opts); err != nil {
			return nil, err
		}
	}
	var changes []FileChange
	for _, f := range files {
		old := onHost[f.Path]
		if len(old) == 0 {
			old = nil // missing, or empty: planned as a new file, as ReadFile had it
		}
		ch := FileChange{File: f, Old: old, New: f.Data}
		switch f.Path {
		case c.Layout.RedisConf:
			ch.IsConfig, ch.Live = true, n.Facts.RedisPid > 0
			ch.New, ch.Keys, err = mergeConfig(old, f.Data, append([]string{"replicaof", "requirepass", "aclfile", "masteruser"}, tlsDirectives...)...)
		case c.Layout.SentinelConf:
			ch.IsConfig, ch.Live = true, n.Facts.SentinelPid > 0
			if old == nil && n.Facts.SentinelPid == 0 {
				// Written for the first time: with the sentinel's id and
				// its peers. A file that exists is only ever merged (and
				// a sentinel running without one has an id of its own).
				if ch.File.Data, err = c.firstSentinelConf(ctx, n, masterAddr); err != nil {
					return nil, err
				}
			}
			desired := ch.File.Data
			if old != nil && staleRequirepass(old, c.Password) {
				desired = withLineOf(desired, old, "requirepass")
			}
			ch.New, ch.Keys, err = mergeConfig(old, desired, append([]string{"sentinel auth-user"}, tlsDirectives...)...)
		case render.ACLFile(c.Inv):
			ch.Live = n.Facts.RedisPid > 0
			if old != nil {
				ch.ACL, err = c.compareACL(ctx, n, old, f.Data)
				if err == nil && len(ch.ACL) == 0 {
					continue
				}
				for _, d := range ch.ACL {
					ch.Keys = append(ch.Keys, d.String())
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		if old != nil && bytes.Equal(old, ch.New) {
			continue
		}
		changes = append(changes, ch)
	}
	return changes, nil
}

// tlsDirectives are the TLS lines of a config, gone from it when the
// cluster goes back to plaintext (Redis keeps writing tls-port 0 and the
// like once they were set).
var tlsDirectives = []string{"tls-port", "tls-cert-file", "tls-key-file", "tls-ca-cert-file", "tls-auth-clients", "tls-replication"}

// runningVersion is the version of the Redis that runs on n while its
// build is not the inventory's (an upgrade moves it at its restart): what
// changes live must suit it. "" means the inventory's version.
func runningVersion(n *Node) string {
	if n.Facts.RedisPid > 0 {
		return n.Facts.RedisVersion
	}
	return ""
}

// WriteFiles writes planned changes and records new files in the manifest.
func (c *Cluster) WriteFiles(ctx context.Context, n *Node, changes []FileChange) error {
	// In one round trip: the manifest when new files are recorded in it
	// (recordNewFiles), then each file, written and renamed in turn.
	files := make([]remote.NewFile, len(changes))
	for i, ch := range changes {
		files[i] = remote.NewFile{Path: ch.File.Path, Data: ch.New, Mode: ch.File.Mode, Owner: ch.File.Owner}
	}
	var err error
	if recordNewFiles(n, changes) {
		err = n.Manifest.SaveThen(ctx, n.Host, files)
	} else {
		err = n.Host.PutFiles(ctx, files)
	}
	if err != nil {
		return err
	}
	for _, ch := range changes {
		what := "updated"
		if ch.Old == nil {
			what = "wrote"
		}
		if len(ch.Keys) > 0 && ch.Old != nil {
			what += " (" + strings.Join(ch.Keys, ", ") + ")"
		}
		c.P.Printf(n.Spec.Name, "%s %s", what, ch.File.Path)
	}
	return nil
}

// recordNewFiles records in n's manifest the files of changes that do not
// exist yet, and says whether it added any; writeFiles saves the manifest
// before it writes any of them: a run cut off between the two then leaves
// a path recorded that uninstall finds missing, never a file it does not
// know it made. (Live changes write nothing.)
func recordNewFiles(n *Node, changes []FileChange) (added bool) {
	for _, ch := range changes {
		if ch.Old == nil && !ch.Live && n.Manifest.AddCreated(ch.File.Path) {
			added = true
		}
	}
	return added
}

// Services returns the service names a node runs.
func (c *Cluster) Services(n *Node) []string {
	s := []string{c.Layout.RedisService}
	if n.Spec.Sentinel {
		s = append(s, c.Layout.SentinelService)
	}
	return s
}

// serviceCmd is the command that runs action on a service.
func (c *Cluster) serviceCmd(n *Node, svc, action string) string {
	return n.Init.ServiceCmd(svc, action)
}

// EnableServices registers services to start at boot, in one command,
// and records them.
func (c *Cluster) EnableServices(ctx context.Context, n *Node, svcs []string) error {
	out, err := remote.Output(ctx, n.Host, n.Init.EnableCmd(svcs...))
	if err != nil {
		return fmt.Errorf("enable %s: %w", strings.Join(svcs, ", "), err)
	}
	for _, svc := range svcs {
		n.Manifest.AddService(svc, strings.Contains(out, "enabled"))
	}
	return n.Manifest.Save(ctx, n.Host)
}

// logFileScript creates a log file for redis (mode 0640) without following
// a link: a link is refused, a new file is made with O_EXCL under a umask
// that gives its mode, chown -h changes the file and never a target, and
// chmod runs only where no one but root can swap the file. It prints the
// file when it created it. It runs after ensureDirsScript, whose safe_dir
// it uses.
func logFileScript(file, owner string) string {
	return fmt.Sprintf(`f=%[1]s
if [ -L "$f" ]; then printf 'redisctl: %%s is a symbolic link; refusing to follow it as root (check who made it, remove it, and run again)\n' "$f" >&2; exit 3; fi
if [ ! -e "$f" ]; then (umask 137; set -C; : > "$f") && echo "$f"; fi
chown -h %[2]s "$f"
if safe_dir "${f%%/*}"; then chmod 640 "$f"; fi
`, remote.Quote(file), remote.Quote(owner))
}

// firstSentinelConf renders the sentinel.conf of n for a host that has
// none yet, with the sentinel's id and the peers it knows from its first
// start (see render.SentinelIdentity): the replicas of masterAddr, and the
// other sentinels whose ids are known, each with the id it has. Those are
// the ids decided for the run (sentinelIDs): the one in a sentinel's file,
// or the one generated for a sentinel whose file is written in this run.
// A sentinel whose file has no id yet (it never started) is left out; the
// sentinels find it by its hello messages, as before.
func (c *Cluster) firstSentinelConf(ctx context.Context, n *Node, masterAddr string) ([]byte, error) {
	ids, err := c.sentinelIDs().decide(ctx, c)
	if err != nil {
		return nil, err
	}
	sentinels := c.Sentinels()
	addrs := make([]render.Addr, len(sentinels))
	idList := make([]string, len(sentinels))
	self := -1
	for i, s := range sentinels {
		addrs[i] = render.Addr{Host: s.Spec.Address, Port: c.Inv.Sentinel.Port}
		idList[i] = ids[s]
		if s == n {
			self = i
		}
	}
	var replicas []render.Addr
	for _, r := range c.Nodes {
		if !inventory.SameAddress(r.Spec.Address, masterAddr) {
			replicas = append(replicas, render.Addr{Host: r.Spec.Address, Port: c.Inv.Redis.Port})
		}
	}
	identity, err := render.NewSentinelIdentity(self, addrs, idList, replicas)
	if err != nil {
		return nil, err
	}
	sc, err := render.NewSentinelConfWith(c.Inv, n.Spec, masterAddr, n.Facts.Init, render.HostOptions{Credentials: c.Creds})
	if err != nil {
		return nil, err
	}
	sc.Identity = identity
	return render.RenderSentinelConf(sc)
}

// sentinelIDs are the ids of a cluster's sentinels for one run. Every node
// that writes its first sentinel.conf (in parallel with the others) names
// its peers with the ids they write for themselves, so the ids are decided
// once, for all of them.
type sentinelIDs struct {
	mu  sync.Mutex
	ids map[*Node]string // nil until decided; "" for an unknown id
}

func (c *Cluster) sentinelIDs() *sentinelIDs {
	c.sentinelIDsOnce.Do(func() { c.sentinelIDsRun = &sentinelIDs{} })
	return c.sentinelIDsRun
}

// decide returns the id of every sentinel of c, reading each sentinel's
// config file (one round trip per host, all at once) the first time it is
// called; an error is not kept, so a later call tries again. It changes
// nothing on any host: a plan decides ids as up does, and only writing a
// first sentinel.conf puts one on a host.
func (s *sentinelIDs) decide(ctx context.Context, c *Cluster) (map[*Node]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids != nil {
		return s.ids, nil
	}
	sentinels := c.Sentinels()
	files := make([]render.SentinelFile, len(sentinels))
	err := EachHost(ctx, sentinels, NodeName, "read the sentinel's id", func(ctx context.Context, n *Node) error {
		if n.Host == nil {
			return fmt.Errorf("not connected")
		}
		got, err := n.Host.ReadFiles(ctx, []string{c.Layout.SentinelConf})
		if err != nil {
			return err
		}
		data := got[c.Layout.SentinelConf]
		if len(data) == 0 {
			data = nil // missing, or empty: written as a new file, as planFiles has it
		}
		i := slices.Index(sentinels, n)
		files[i] = render.SentinelFile{Addr: render.Addr{Host: n.Spec.Address, Port: c.Inv.Sentinel.Port}, Data: data,
			Running: n.Facts != nil && n.Facts.SentinelPid > 0}
		return nil
	})
	if err != nil {
		return nil, err
	}
	list, err := render.PlanSentinelIDs(c.Inv.Name, files, render.NewSentinelID)
	if err != nil {
		return nil, err
	}
	s.ids = map[*Node]string{}
	for i, n := range sentinels {
		s.ids[n] = list[i]
	}
	return s.ids, nil
}
