package provision

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote"
	"github.com/redisctl/redisctl/provision/render"
)

// What check --apply (and up --apply-tuning) fixes: the kernel settings,
// in a sysctl file applied now and at every boot, and transparent huge
// pages, with a small service that turns them off at every boot. Both are
// recorded in the cluster's manifest, so uninstall removes them. The rest
// (memory, disk, clocks, firewalls) is for a person: the report says what
// to do.

// sysctlHeader starts the sysctl file: a file that does not start with it
// was not written by redisctl and is left alone.
const sysctlHeader = "# Written by redisctl (check --apply, up --apply-tuning): kernel settings Redis needs.\n" +
	"# redisctl uninstall removes this file.\n"

// TuningChange makes one change on one host through apply and records it
// (up's plan and summary, or check --apply's report).
type TuningChange func(n *Node, what string, apply func() error) error

// sysctlContent is the sysctl file n needs, or "" when its settings are
// right. somaxconn is never lowered: a higher value is kept.
func sysctlContent(t *hostTuning, backlog int) string {
	wrongSomaxconn := t.Somaxconn >= 0 && t.Somaxconn < backlog
	if t.Overcommit == "1" && !wrongSomaxconn {
		return ""
	}
	s := sysctlHeader + "vm.overcommit_memory = 1\n"
	if t.Somaxconn >= 0 {
		s += fmt.Sprintf("net.core.somaxconn = %d\n", max(t.Somaxconn, backlog))
	}
	return s
}

func tcpBacklog(c *Cluster) int {
	if v, err := strconv.Atoi(directive(c.Inv, "tcp-backlog")); err == nil {
		return v
	}
	return defaultTCPBacklog
}

// ApplyTuning fixes on every host what can be fixed, through change. It
// returns the fixes it refused to make, one line each (the findings that
// are not Fixable are for a person; their Fix says what to do), and the
// errors of the fixes that failed. Hosts need their facts (the
// init system) and manifest.
func (c *Cluster) ApplyTuning(ctx context.Context, rep *TuningReport, change TuningChange) ([]string, error) {
	notFixed := make([][]string, len(c.Nodes))
	err := EachHost(ctx, c.Nodes, NodeName, "apply tuning", func(ctx context.Context, n *Node) error {
		t := rep.hosts[n.Spec.Name]
		if t == nil {
			return nil
		}
		i := slices.Index(c.Nodes, n)
		var errs []error
		if content := sysctlContent(t, tcpBacklog(c)); content != "" {
			if t.SysctlFile != "" && !strings.HasPrefix(t.SysctlFile, sysctlHeader) {
				notFixed[i] = append(notFixed[i], fmt.Sprintf("%s: %s exists and was not written by redisctl; set vm.overcommit_memory = 1 and net.core.somaxconn >= %d there or elsewhere in /etc/sysctl.d", n.Spec.Name, SysctlFile, tcpBacklog(c)))
			} else {
				what := "write " + SysctlFile + " (" + strings.Join(sysctlKeys(content), ", ") + ") and apply it"
				if t.SysctlFile == content {
					what = "apply " + SysctlFile + " again (" + strings.Join(sysctlKeys(content), ", ") + ")"
				}
				errs = append(errs, change(n, what, func() error { return c.applySysctl(ctx, n, t, content) }))
			}
		}
		if t.THP == "always" {
			what := "turn transparent huge pages off now and at boot (service " + THPService + ")"
			if t.THPUnit {
				what = "turn transparent huge pages off (restart service " + THPService + ")"
			}
			errs = append(errs, change(n, what, func() error { return c.applyTHP(ctx, n, t) }))
		}
		return errors.Join(errs...)
	})
	var out []string
	for _, l := range notFixed {
		out = append(out, l...)
	}
	return out, err
}

func sysctlKeys(content string) []string {
	var keys []string
	for _, line := range strings.Split(content, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			keys = append(keys, line)
		}
	}
	return keys
}

// applySysctl writes the sysctl file (when it differs) and applies it.
func (c *Cluster) applySysctl(ctx context.Context, n *Node, t *hostTuning, content string) error {
	if t.SysctlFile != content {
		if !t.SysctlDir {
			if err := n.Host.Run(ctx, remote.Cmd("mkdir", "-p", path.Dir(SysctlFile)), nil, nil, nil); err != nil {
				return err
			}
		}
		if err := n.Host.PutFile(ctx, SysctlFile, []byte(content), 0o644, ""); err != nil {
			return fmt.Errorf("write %s: %w", SysctlFile, err)
		}
		if t.SysctlFile == "" {
			n.Manifest.AddCreated(SysctlFile)
			if err := n.Manifest.Save(ctx, n.Host); err != nil {
				return err
			}
		}
	}
	var w []string
	for _, kv := range sysctlKeys(content) {
		k, v, _ := strings.Cut(kv, "=")
		w = append(w, strings.TrimSpace(k)+"="+strings.TrimSpace(v))
	}
	cmd := "sysctl -q -p " + remote.Quote(SysctlFile)
	if err := n.Host.Run(ctx, cmd, nil, nil, nil); err != nil {
		return fmt.Errorf("%w (a container cannot change the kernel's settings: set %s on the machine that runs it)", err, strings.Join(w, " "))
	}
	return nil
}

// applyTHP installs, enables and runs the THP service.
func (c *Cluster) applyTHP(ctx context.Context, n *Node, t *hostTuning) error {
	if n.Init == nil {
		return fmt.Errorf("unknown init system %q: cannot install %s", n.Facts.Init, THPService)
	}
	s := render.THPService{Name: THPService, File: thpFile}
	file, mode, renderFn := n.Init.THPFile()
	if !t.THPUnit {
		data, err := renderFn(s)
		if err != nil {
			return err
		}
		if err := n.Host.PutFile(ctx, file, data, mode, ""); err != nil {
			return fmt.Errorf("write %s: %w", file, err)
		}
		n.Manifest.AddCreated(file)
		out, err := remote.Output(ctx, n.Host, n.Init.EnableCmd(THPService))
		if err != nil {
			return errors.Join(fmt.Errorf("enable %s: %w", THPService, err), n.Manifest.Save(ctx, n.Host))
		}
		n.Manifest.AddService(THPService, strings.Contains(out, "enabled"))
		if err := n.Manifest.Save(ctx, n.Host); err != nil {
			return err
		}
	}
	// Restart: a oneshot unit that ran once stays active, and start would
	// do nothing.
	if err := n.Host.Run(ctx, n.Init.ServiceCmd(THPService, "restart"), nil, nil, nil); err != nil {
		return fmt.Errorf("run %s: %w", THPService, err)
	}
	out, err := remote.Output(ctx, n.Host, remote.Cmd("cat", thpFile))
	if err != nil {
		return err
	}
	if strings.Contains(out, "[always]") {
		return fmt.Errorf("%s ran, but %s still says %q (read-only in a container? set it on the machine that runs it)", THPService, thpFile, strings.TrimSpace(out))
	}
	return nil
}

// CheckOptions configure Check.
type CheckOptions struct {
	Connect  Connector
	Progress *Progress
	// Apply fixes what can be fixed, then checks again.
	Apply bool
}

// Check runs the host checks (redisctl check). With Apply it takes the
// cluster's lock, fixes what it can and checks again: the report's
// findings are then the state after the fixes, each fixed one marked.
func Check(ctx context.Context, inv *inventory.Inventory, o CheckOptions) (*TuningReport, error) {
	c, err := Connect(ctx, inv, o.Connect, o.Progress)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if !o.Apply {
		return c.CheckHosts(ctx)
	}
	unlock, err := c.Lock(ctx, "check --apply")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := c.GatherFacts(ctx); err != nil {
		return nil, err
	}
	before, err := c.CheckHosts(ctx)
	if err != nil {
		return nil, err
	}
	var applied []string
	var mu sync.Mutex
	notFixed, applyErr := c.ApplyTuning(ctx, before, func(n *Node, what string, apply func() error) error {
		if err := apply(); err != nil {
			return err
		}
		o.Progress.Printf(n.Spec.Name, "%s", what)
		mu.Lock()
		applied = append(applied, n.Spec.Name+": "+what)
		mu.Unlock()
		return nil
	})
	after, err := c.CheckHosts(ctx)
	if err != nil {
		return nil, errors.Join(applyErr, err)
	}
	for i, f := range after.Findings {
		for _, b := range before.Findings {
			if b.Host == f.Host && b.Check == f.Check && b.Verdict != LevelOK && f.Verdict == LevelOK {
				after.Findings[i].Fixed = true
			}
		}
	}
	slices.Sort(applied)
	after.Applied = applied
	after.NotFixed = notFixed
	after.applied = true
	if applyErr != nil {
		after.NotFixed = append(after.NotFixed, strings.Split(applyErr.Error(), "\n")...)
	}
	return after, nil
}
