package up

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redisctl/redisctl/provision"
	"github.com/redisctl/redisctl/provision/remote"
)

// The start steps of up: the master (or the live master found running),
// here, then the replicas (startreplicas.go), then the sentinels
// (startsentinels.go), each checked before it is started so that a
// running server is left alone.

// server is one node's Redis or sentinel.
type server struct {
	n        *provision.Node
	sentinel bool
}

// runningServer is a server findRunning found running: its pid, and
// whether it answered PING (pingErr nil) within start's wait.
type runningServer struct {
	pid     int
	pingErr error
}

// startMasterStep is up's step "start the master".
type startMasterStep struct{ *upRun }

func (startMasterStep) Title() string { return "start the master" }

func (r startMasterStep) Run(ctx context.Context) error {
	if err := r.findRunning(ctx); err != nil {
		return err
	}
	return r.start(ctx, r.master, false)
}

// findRunning checks, for every server at once, what start checks for
// each one: a live pid of the installed redis-server in its pid file, then
// that it answers PING. On a run with nothing to start that is one round
// trip per host and the PINGs in parallel, not every server in turn; only
// the servers that need starting are then started in order (start).
func (r *upRun) findRunning(ctx context.Context) error {
	c := r.c
	exe := remote.Quote(c.Layout.BinDir + "/redis-server")
	found := map[server]runningServer{}
	var mu sync.Mutex
	// Nothing changed yet in this run (a no-change up): the pids the facts
	// read under this run's lock are still the servers', unless one has
	// died since, which a PING that fails tells; then the host is asked
	// again, as in any other run.
	unchanged := len(r.sum.Changes) == 0 && !r.opts.DryRun
	err := provision.EachHost(ctx, c.Nodes, provision.NodeName, "find running servers", func(ctx context.Context, n *provision.Node) error {
		if unchanged && n.Facts != nil {
			fromFacts := map[server]runningServer{{n, false}: {pid: n.Facts.RedisPid}}
			if n.Spec.Sentinel {
				fromFacts[server{n, true}] = runningServer{pid: n.Facts.SentinelPid}
			}
			ok := true
			for sv, rs := range fromFacts {
				if rs.pid == 0 || !c.AnswersPing(ctx, sv.n, sv.sentinel) {
					ok = false
				}
			}
			if ok {
				mu.Lock()
				maps.Copy(found, fromFacts)
				mu.Unlock()
				return nil
			}
		}
		script := provision.LivePidFunc + "echo \"redis=$(live_pid " + remote.Quote(c.Layout.RedisPid) + " " + exe + ")\"\n"
		if n.Spec.Sentinel {
			script += "echo \"sentinel=$(live_pid " + remote.Quote(c.Layout.SentinelPid) + " " + exe + ")\"\n"
		}
		out, err := remote.Output(ctx, n.Host, script)
		if err != nil {
			return err
		}
		var live []server
		pids := map[server]int{}
		for _, line := range strings.Split(out, "\n") {
			k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
			pid, _ := strconv.Atoi(v)
			if (k == "redis" || k == "sentinel") && pid > 0 {
				sv := server{n, k == "sentinel"}
				live = append(live, sv)
				pids[sv] = pid
			}
		}
		var wg sync.WaitGroup
		for _, sv := range live {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rs := runningServer{pid: pids[sv]}
				if !r.opts.DryRun {
					rs.pingErr = c.WaitPing(ctx, sv.n, sv.sentinel, 20*time.Second)
				}
				mu.Lock()
				found[sv] = rs
				mu.Unlock()
			}()
		}
		wg.Wait()
		return nil
	})
	r.running = found
	return err
}

func (r *upRun) start(ctx context.Context, n *provision.Node, sentinel bool) error {
	c := r.c
	svc, pidFile := c.Layout.RedisService, c.Layout.RedisPid
	if sentinel {
		svc, pidFile = c.Layout.SentinelService, c.Layout.SentinelPid
	}
	if rs, ok := r.running[server{n, sentinel}]; ok {
		// Found running by findRunning, which checked what follows.
		if r.opts.DryRun {
			return nil
		}
		if rs.pingErr != nil {
			return &provision.HostError{Host: n.Spec.Name, Step: "start " + svc, Err: rs.pingErr}
		}
		c.P.Printf(n.Spec.Name, "%s already running (pid %d)", svc, rs.pid)
		return nil
	}
	pid, err := c.LivePid(ctx, n, pidFile)
	if err != nil {
		return err
	}
	started := pid == 0
	if started {
		err = r.change(n, "", func() (err error) {
			pid, _, err = c.StartService(ctx, n, svc, pidFile)
			return err
		}, "start %s", svc)
		if err != nil {
			return &provision.HostError{Host: n.Spec.Name, Step: "start " + svc, Err: err}
		}
	}
	if r.opts.DryRun {
		return nil
	}
	if err := c.WaitPing(ctx, n, sentinel, 20*time.Second); err != nil {
		return &provision.HostError{Host: n.Spec.Name, Step: "start " + svc, Err: err}
	}
	if started {
		c.P.Printf(n.Spec.Name, "%s running (pid %d)", svc, pid)
	} else {
		c.P.Printf(n.Spec.Name, "%s already running (pid %d)", svc, pid)
	}
	return nil
}

func (r *upRun) replicas() []*provision.Node {
	var out []*provision.Node
	for _, n := range r.c.Nodes {
		if n != r.master {
			out = append(out, n)
		}
	}
	return out
}
