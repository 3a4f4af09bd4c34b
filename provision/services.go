package provision

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redisctl/redisctl/provision/remote"
)

// StartService starts svc on n unless it runs already, and returns its pid.
func (c *Cluster) StartService(ctx context.Context, n *Node, svc, pidFile string) (pid int, started bool, err error) {
	if pid, err := c.LivePid(ctx, n, pidFile); err != nil || pid > 0 {
		return pid, false, err
	}
	c.P.Printf(n.Spec.Name, "starting %s", svc)
	c.forgetClient(n, svc == c.Layout.SentinelService)
	if err := n.Host.Run(ctx, c.serviceCmd(n, svc, "start"), nil, nil, nil); err != nil {
		diag := c.startDiagnosis(ctx, n, svc)
		if !strings.Contains(diag, "Failed to spawn executor") {
			return 0, false, fmt.Errorf("start %s: %w%s", svc, err, diag)
		}
		// systemd could not spawn its executor for the unit, so nothing
		// of the service ran. Seen in the lab's systemd containers when a
		// unit is started right after it stopped on several hosts at once
		// (ENOENT, result 'resources'); a second start succeeds.
		c.P.Printf(n.Spec.Name, "systemd could not spawn %s (Failed to spawn executor); starting it again", svc)
		select {
		case <-ctx.Done():
			return 0, false, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
		again := remote.Cmd("systemctl", "reset-failed", svc) + "; " + c.serviceCmd(n, svc, "start")
		if err := n.Host.Run(ctx, again, nil, nil, nil); err != nil {
			return 0, false, fmt.Errorf("start %s: %w%s", svc, err, c.startDiagnosis(ctx, n, svc))
		}
	}
	pid, err = c.LivePid(ctx, n, pidFile)
	if err == nil && pid == 0 {
		err = fmt.Errorf("start %s: the service script succeeded but no process is running; see %s", svc, c.logFor(svc))
	}
	return pid, true, err
}

// StopService stops svc on n (the service script waits until the process
// is gone) and reports whether it was running.
func (c *Cluster) StopService(ctx context.Context, n *Node, svc, pidFile string) (bool, error) {
	pid, err := c.LivePid(ctx, n, pidFile)
	if err != nil || pid == 0 {
		return false, err
	}
	c.P.Printf(n.Spec.Name, "stopping %s (pid %d)", svc, pid)
	c.forgetClient(n, svc == c.Layout.SentinelService)
	if err := n.Host.Run(ctx, c.serviceCmd(n, svc, "stop"), nil, nil, nil); err != nil {
		return true, fmt.Errorf("stop %s: %w", svc, err)
	}
	return true, nil
}

// startDiagnosis is what the host says of a service that failed to
// start: the last lines of its log and, under systemd, of its journal.
// Redis writes no password to either.
func (c *Cluster) startDiagnosis(ctx context.Context, n *Node, svc string) string {
	script := "tail -n 5 " + remote.Quote(c.logFor(svc)) + " 2>/dev/null"
	if n.Init != nil && n.Init.Notify() {
		script += "; journalctl -u " + remote.Quote(svc) + " -n 8 --no-pager -o cat 2>/dev/null"
	}
	out, err := remote.Output(ctx, n.Host, script+"; true")
	out = strings.TrimSpace(out)
	if err != nil || out == "" {
		return ""
	}
	return "; the host says:\n  " + strings.ReplaceAll(out, "\n", "\n  ")
}

func (c *Cluster) logFor(svc string) string {
	if svc == c.Layout.SentinelService {
		return c.Layout.SentinelLog
	}
	return c.Layout.RedisLog
}

// LivePid returns the pid in pidFile when that process is alive and runs
// the installed redis-server, else 0. The pid file's directory belongs to
// redis, so its content is not trusted: the number must be a live process
// whose executable is ours, as the init script checks before it signals.
func (c *Cluster) LivePid(ctx context.Context, n *Node, pidFile string) (int, error) {
	out, err := remote.Output(ctx, n.Host, livePidScript(pidFile, c.Layout.BinDir+"/redis-server"))
	if err != nil {
		return 0, err
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(out))
	return pid, nil
}

// livePidScript prints the pid in pidFile when it is a number, the process
// is alive, and /proc/PID/exe is exe (or exe deleted, after an upgrade
// replaced the file); a zombie has no exe link, so it is not live.
func livePidScript(pidFile, exe string) string {
	return LivePidFunc + "live_pid " + remote.Quote(pidFile) + " " + remote.Quote(exe) + "\n"
}

// LivePidFunc defines the shell function live_pid PIDFILE EXE behind
// livePidScript, for scripts that check several pid files; it also leaves
// the pid (or nothing) in $_lp_pid. A process still running EXE starts no
// process (test -ef compares /proc/PID/exe with EXE, links followed); one
// whose EXE was replaced while it ran (an upgrade: its exe link reads
// "PATH (deleted)") starts a readlink of /proc/PID/exe, plus one of EXE
// the first time when it is not run in a subshell ($(live_pid ...)
// forgets it).
const LivePidFunc = `live_pid() {
	_lp_pid=
	[ -f "$1" ] && [ ! -L "$1" ] || return 0
	_p=
	read -r _p _rest 2>/dev/null <"$1"
	case $_p in '' | *[!0-9]*) return 0 ;; esac
	kill -0 "$_p" 2>/dev/null || return 0
	if [ "/proc/$_p/exe" -ef "$2" ]; then _lp_pid=$_p; echo "$_p"; return 0; fi
	_e=$(readlink "/proc/$_p/exe" 2>/dev/null) || return 0
	case $_e in *" (deleted)") ;; *) return 0 ;; esac
	if [ "$2" != "${_lp_exe-}" ]; then _lp_exe=$2; _lp_w=$(readlink -f -- "$2" 2>/dev/null) || _lp_w=$2; fi
	case $_e in "$_lp_w (deleted)") _lp_pid=$_p; echo "$_p" ;; esac
}
`

// AnswersPing reports whether n's redis (or sentinel) answers one PING
// within a second.
func (c *Cluster) AnswersPing(ctx context.Context, n *Node, sentinel bool) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	cl := c.Data(n)
	if sentinel {
		cl = c.Sentinel(n)
	}
	return cl.Ping(ctx).Err() == nil
}

// WaitPing waits until the server at addr on n answers PING with the
// cluster password.
func (c *Cluster) WaitPing(ctx context.Context, n *Node, sentinel bool, timeout time.Duration) error {
	what, addr := "redis", c.DataAddr(n)
	if sentinel {
		what, addr = "sentinel", c.SentinelAddr(n)
	}
	return WaitFor(ctx, fmt.Sprintf("%s on %s (%s) to answer PING", what, n.Spec.Name, addr), timeout, 300*time.Millisecond,
		func(ctx context.Context) (bool, string) {
			cl := c.Data(n)
			if sentinel {
				cl = c.Sentinel(n)
			}
			if err := cl.Ping(ctx).Err(); err != nil {
				return false, err.Error()
			}
			return true, ""
		})
}
