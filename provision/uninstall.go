package provision

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote"
)

// UninstallOptions configure Uninstall.
type UninstallOptions struct {
	Connect  Connector
	Progress *Progress
	KeepData bool
	// BackupDir, when set, receives the master's RDB (a fresh BGSAVE)
	// before anything is stopped.
	BackupDir string
	// Confirm is shown the plan and returns whether to go on.
	Confirm func(plan string) (bool, error)
}

// UninstallResult says what was done and what is left.
type UninstallResult struct {
	Backup  string   // path of the RDB copy, if any
	Removed []string // "node1: /etc/redis/redis_7000.conf"
	Kept    []string // things left on purpose, with why
	Left    []string // hosts or things that could not be handled
}

// ErrNotConfirmed is returned when the plan was not confirmed.
var ErrNotConfirmed = errors.New("not confirmed; nothing was changed")

// hostPlan is what uninstall will do on one host.
type hostPlan struct {
	node     *Node
	stop     []string // services running now, sentinel first
	remove   []string // files and directories from the manifest, deepest first
	keep     []string // recorded, kept on purpose (--keep-data)
	userdel  bool
	services []string
	// shared are recorded paths another cluster on the host still uses
	// (the binaries, the redis user's directories): kept, and handed over
	// to heir's manifest so that the last cluster to go removes them.
	shared    []string
	heir      string // "" when the other cluster is an older redisctl's
	giveUser  bool
	otherName string

	// What the removal did: written by this host's goroutine only.
	removed, kept []string
}

// Uninstall stops and removes exactly what up recorded in each host's
// manifest: sentinels first (so nothing fails over while the cluster is
// torn down), then replicas, then the master.
func Uninstall(ctx context.Context, inv *inventory.Inventory, o UninstallOptions) (*UninstallResult, error) {
	p := o.Progress
	res := &UninstallResult{}
	c, errs := ConnectPartial(ctx, inv, o.Connect, p)
	defer c.Close()
	var up []*Node
	for _, n := range c.Nodes {
		if n.Host == nil {
			res.Left = append(res.Left, fmt.Sprintf("%s: unreachable, nothing done there: %v", n.Spec.Name, errs[n.Spec.Name]))
			continue
		}
		up = append(up, n)
	}
	unlock, err := c.Lock(ctx, "uninstall")
	if err != nil {
		return res, err
	}
	defer unlock()
	if err := EachHost(ctx, up, NodeName, "gather facts", func(ctx context.Context, n *Node) error {
		f, err := GatherFacts(ctx, n.Host, inv)
		if err != nil {
			return err
		}
		m, err := LoadManifest(ctx, n.Host, c.Layout, c.Inv.Name, f.Manifests)
		n.SetFacts(f, m, c.Layout)
		return err
	}); err != nil {
		return res, err
	}
	if pw, _, _, err := ResolvePassword(inv, false); err == nil {
		// Without the users' passwords (an ACL cluster whose files are
		// gone) the servers are stopped without a final save, as without
		// the cluster password.
		if _, err := c.UseSecrets(pw, false, false); err != nil {
			c.Creds = nil
			c.Password = ""
		}
	}

	plans := c.UninstallPlans(up, o.KeepData)
	text := planText(plans, o)
	if o.Confirm != nil {
		ok, err := o.Confirm(text)
		if err != nil {
			return res, err
		}
		if !ok {
			return res, ErrNotConfirmed
		}
	}

	if o.BackupDir != "" {
		file, err := c.backupMaster(ctx, up, o.BackupDir)
		if err != nil {
			return res, fmt.Errorf("backup failed, nothing was stopped or removed: %w", err)
		}
		res.Backup = file
	}

	// Stop: every sentinel, then the replicas, then the master.
	master, _ := c.currentMaster(ctx, up)
	order := slices.Clone(plans)
	slices.SortStableFunc(order, func(a, b *hostPlan) int {
		return boolInt(a.node == master) - boolInt(b.node == master)
	})
	var stopErrs []error
	for _, svc := range []string{c.Layout.SentinelService, c.Layout.RedisService} {
		for _, hp := range order {
			if !slices.Contains(hp.stop, svc) {
				continue
			}
			pid := c.Layout.RedisPid
			if svc == c.Layout.SentinelService {
				pid = c.Layout.SentinelPid
			}
			if _, err := c.StopService(ctx, hp.node, svc, pid); err != nil {
				stopErrs = append(stopErrs, &HostError{Host: hp.node.Spec.Name, Step: "stop " + svc, Err: err})
			}
		}
	}
	if err := errors.Join(stopErrs...); err != nil {
		return res, fmt.Errorf("%w\nnothing was removed; run uninstall again once the services stop", err)
	}

	// Each host's goroutine writes only its own plan's results; they are
	// merged afterwards, in inventory order.
	err = EachHost(ctx, plans, func(hp *hostPlan) string { return hp.node.Spec.Name }, "remove", func(ctx context.Context, hp *hostPlan) error {
		var err error
		hp.removed, hp.kept, err = c.RemoveHost(ctx, hp)
		return err
	})
	if err != nil {
		res.Left = append(res.Left, err.Error())
	}
	for _, hp := range plans {
		for _, r := range hp.removed {
			res.Removed = append(res.Removed, hp.node.Spec.Name+": "+r)
		}
		for _, k := range hp.kept {
			res.Kept = append(res.Kept, hp.node.Spec.Name+": "+k)
		}
		for _, k := range hp.keep {
			res.Kept = append(res.Kept, hp.node.Spec.Name+": "+k+" (--keep-data)")
		}
	}
	if len(res.Left) > 0 {
		return res, fmt.Errorf("uninstall is incomplete:\n  %s\nrun redisctl uninstall again to finish", strings.Join(res.Left, "\n  "))
	}
	return res, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (c *Cluster) UninstallPlans(nodes []*Node, keepData bool) []*hostPlan {
	var plans []*hostPlan
	for _, n := range nodes {
		hp := &hostPlan{node: n, userdel: n.Manifest.CreatedUser, services: n.Manifest.Services}
		if n.Manifest.Shared() {
			hp.giveUser, hp.userdel = hp.userdel, false
			hp.otherName = strings.Join(Named(n.Manifest.Others), ", ")
			for _, o := range n.Manifest.Others {
				if o != "" {
					hp.heir = o
					break
				}
			}
		}
		if n.Facts.SentinelPid > 0 {
			hp.stop = append(hp.stop, c.Layout.SentinelService)
		}
		if n.Facts.RedisPid > 0 {
			hp.stop = append(hp.stop, c.Layout.RedisService)
		}
		created := slices.Clone(n.Manifest.Created)
		// Deepest paths first, so directories are emptied before rmdir.
		slices.SortStableFunc(created, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
		for _, p := range created {
			if n.Manifest.Shared() && c.sharedPath(p) {
				hp.shared = append(hp.shared, p)
				continue
			}
			if keepData && (p == c.Layout.DataDir || p == path.Dir(c.Layout.DataDir) || strings.HasPrefix(p, c.Layout.DataDir+"/")) {
				hp.keep = append(hp.keep, p)
				continue
			}
			hp.remove = append(hp.remove, p)
		}
		plans = append(plans, hp)
	}
	return plans
}

// sharedPath reports whether p serves every cluster on a host rather than
// this one: the binaries and the directories above the per-port ones.
func (c *Cluster) sharedPath(p string) bool {
	l := c.Layout
	switch p {
	case path.Join(l.BinDir, "redis-server"), path.Join(l.BinDir, "redis-cli"), path.Join(l.BinDir, "redis-sentinel"),
		stagedName(l.BinDir, "redis-server"), stagedName(l.BinDir, "redis-cli"),
		l.ConfDir, path.Dir(l.DataDir), l.StateDir, path.Join(l.StateDir, "build"):
		return true
	}
	return false
}

func planText(plans []*hostPlan, o UninstallOptions) string {
	var b strings.Builder
	if o.BackupDir != "" {
		fmt.Fprintf(&b, "first: save the master's dataset (BGSAVE) and copy it to %s\n", o.BackupDir)
	}
	for _, hp := range plans {
		fmt.Fprintf(&b, "%s:\n", hp.node.Spec.Name)
		if len(hp.stop) == 0 && len(hp.remove) == 0 && !hp.userdel && len(hp.services) == 0 && len(hp.shared) == 0 {
			fmt.Fprintf(&b, "  nothing recorded by redisctl here; nothing to do\n")
			continue
		}
		if len(hp.stop) > 0 {
			fmt.Fprintf(&b, "  stop:   %s\n", strings.Join(hp.stop, ", "))
		}
		if len(hp.services) > 0 {
			fmt.Fprintf(&b, "  unregister services: %s\n", strings.Join(hp.services, ", "))
		}
		for _, r := range hp.remove {
			fmt.Fprintf(&b, "  remove: %s\n", r)
		}
		for _, k := range hp.keep {
			fmt.Fprintf(&b, "  keep:   %s (--keep-data)\n", k)
		}
		for _, k := range hp.shared {
			fmt.Fprintf(&b, "  keep:   %s (shared with %s)\n", k, hp.otherName)
		}
		if hp.giveUser {
			fmt.Fprintf(&b, "  keep:   the redis user (shared with %s)\n", hp.otherName)
		}
		if hp.userdel {
			fmt.Fprintf(&b, "  remove the redis user (redisctl created it)\n")
		}
	}
	return b.String()
}

// currentMaster is the master now among nodes, as the analysis of one
// observation decides it, with the reason when there is none.
func (c *Cluster) currentMaster(ctx context.Context, nodes []*Node) (*Node, string) {
	if c.Password == "" {
		return nil, "no password known for the cluster"
	}
	if !slices.ContainsFunc(nodes, func(n *Node) bool { return n.Facts.RedisPid > 0 }) {
		return nil, "no redis is running"
	}
	s := c.Observe(ctx)
	a := Analyze(s, c.Expectations())
	m := c.Node(a.Master)
	if m == nil || !slices.Contains(nodes, m) {
		return nil, a.Why
	}
	return m, ""
}

// RemoveHost deletes what the manifest records. A directory that still
// holds files redisctl did not create is kept and reported; the manifest
// itself goes last, and only when everything else went.
func (c *Cluster) RemoveHost(ctx context.Context, hp *hostPlan) (removed, kept []string, err error) {
	n := hp.node
	for _, svc := range hp.services {
		if n.Init == nil {
			return removed, kept, fmt.Errorf("unregister %s: unknown init system %q", svc, n.Facts.Init)
		}
		if err := n.Host.Run(ctx, n.Init.DisableCmd(svc), nil, nil, nil); err != nil {
			return removed, kept, fmt.Errorf("unregister %s: %w", svc, err)
		}
	}
	manifest := ManifestPath(c.Layout.StateDir, c.Inv.Name)
	var script strings.Builder
	script.WriteString(`rmpath() {
  p=$1
  if [ -d "$p" ] && [ ! -L "$p" ]; then
    if [ "$2" = all ]; then rm -rf -- "$p"; fi
    if [ ! -e "$p" ] || rmdir -- "$p" 2>/dev/null; then echo "removed $p"; else echo "kept $p"; fi
  elif [ -e "$p" ] || [ -L "$p" ]; then rm -f -- "$p" && echo "removed $p"
  else echo "gone $p"; fi
}
`)
	for _, p := range hp.remove {
		if p == manifest {
			continue
		}
		// Files go; directories go only when empty, except the data and
		// build directories, whose contents Redis and the build made.
		mode := "empty"
		if p == c.Layout.DataDir || p == c.Layout.SentinelDir || p == path.Join(c.Layout.StateDir, "build") {
			mode = "all"
		}
		fmt.Fprintf(&script, "rmpath %s %s\n", remote.Quote(p), mode)
	}
	out, err := remote.Output(ctx, n.Host, script.String())
	if err != nil {
		return removed, kept, err
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		what, p, _ := strings.Cut(line, " ")
		switch what {
		case "removed":
			removed = append(removed, p)
		case "kept":
			kept = append(kept, p+" (holds files redisctl did not create)")
		}
	}
	if cmd := n.Init.ReloadCmd(); cmd != "" {
		_ = n.Host.Run(ctx, cmd, nil, nil, nil)
	}
	if hp.userdel {
		if err := n.Host.Run(ctx, "if id -u redis >/dev/null 2>&1; then userdel redis; fi; if getent group redis >/dev/null 2>&1; then groupdel redis 2>/dev/null || true; fi", nil, nil, nil); err != nil {
			return removed, kept, fmt.Errorf("remove the redis user: %w", err)
		}
		removed = append(removed, "user redis")
	}
	// What another cluster still uses goes into its manifest first, so the
	// last cluster to go removes it.
	if hp.heir != "" && (len(hp.shared) > 0 || hp.giveUser) {
		if err := handOver(ctx, n.Host, c.Layout, hp.heir, hp.shared, hp.giveUser); err != nil {
			return removed, kept, fmt.Errorf("hand the shared files over to cluster %s: %w", hp.heir, err)
		}
	}
	for _, k := range hp.shared {
		kept = append(kept, k+" (shared with "+hp.otherName+")")
	}
	// Finally the manifest (and an older redisctl's manifest.json it was
	// adopted from) and the state directory, when nothing is kept there.
	rm := remote.Cmd("rm", "-f", "--", manifest)
	if n.Manifest.legacy != "" {
		rm = remote.Cmd("rm", "-f", "--", manifest, n.Manifest.legacy)
	}
	out, err = remote.Output(ctx, n.Host, fmt.Sprintf("%[1]s; if rmdir %[2]s 2>/dev/null; then echo removed; fi", rm, remote.Quote(c.Layout.StateDir)))
	if err != nil {
		return removed, kept, err
	}
	removed = append(removed, manifest)
	if strings.TrimSpace(out) == "removed" {
		removed = append(removed, c.Layout.StateDir)
	}
	for _, r := range removed {
		c.P.Printf(n.Spec.Name, "removed %s", r)
	}
	for _, k := range kept {
		c.P.Printf(n.Spec.Name, "kept %s", k)
	}
	return removed, kept, nil
}

// backupMaster saves the master's dataset to dir as Backup does: before a
// teardown the master, which holds every acknowledged write, is the source.
func (c *Cluster) backupMaster(ctx context.Context, nodes []*Node, dir string) (string, error) {
	if c.Password == "" {
		return "", errors.New("no password known for the cluster, cannot talk to the master")
	}
	m, why := c.currentMaster(ctx, nodes)
	if m == nil {
		return "", fmt.Errorf("no running master found to back up: %s", why)
	}
	res, err := c.BackupNode(ctx, m, "master", dir)
	if err != nil {
		return "", err
	}
	return res.File, nil
}

// Empty reports whether the plan has nothing to remove, unregister or hand
// over.
func (hp *hostPlan) Empty() bool {
	return len(hp.remove) == 0 && len(hp.services) == 0 && len(hp.shared) == 0 && !hp.userdel && !hp.giveUser
}

// UninstallWhat is one line of what removing hp does, in the words of
// uninstall's plan.
func UninstallWhat(hp *hostPlan) string {
	var parts []string
	if len(hp.services) > 0 {
		parts = append(parts, "unregister "+strings.Join(hp.services, ", "))
	}
	if len(hp.remove) > 0 {
		parts = append(parts, "remove "+strings.Join(hp.remove, ", "))
	}
	if hp.userdel {
		parts = append(parts, "remove the redis user")
	}
	if len(hp.shared) > 0 {
		parts = append(parts, fmt.Sprintf("keep %s (shared with %s)", strings.Join(hp.shared, ", "), hp.otherName))
	}
	if hp.giveUser {
		parts = append(parts, fmt.Sprintf("keep the redis user (shared with %s)", hp.otherName))
	}
	return strings.Join(parts, "; ")
}
