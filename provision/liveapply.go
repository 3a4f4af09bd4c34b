package provision

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// liveOp is one change applied to a running server: what it does, for the
// plan and the progress output, and how.
type liveOp struct {
	desc string
	do   func(ctx context.Context, cl *redis.Client) error
}

func command(args ...any) func(context.Context, *redis.Client) error {
	return func(ctx context.Context, cl *redis.Client) error {
		if err := cl.Do(ctx, args...).Err(); err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
		return nil
	}
}

// immutableRedis are redis.conf directives a running server cannot change.
var immutableRedis = map[string]bool{
	"daemonize": true, "supervised": true, "pidfile": true, "logfile": true,
	"databases": true, "io-threads": true, "unixsocket": true, "unixsocketperm": true,
	"always-show-logo": true, "syslog-enabled": true, "syslog-ident": true,
	"syslog-facility": true,
}

// redisLiveOps turns changed redis.conf directives into commands for a
// running data node: CONFIG SET (REPLICAOF for replicaof), then CONFIG
// REWRITE, so the file and the process agree without a restart. Directives
// a running server cannot take are returned in restart.
func (c *Cluster) redisLiveOps(ch fileChange) (ops []liveOp, restart []string) {
	for _, k := range ch.Keys {
		args, present := configValue(ch.New, k)
		switch {
		case k == "replicaof" && present && len(args) == 3:
			ops = append(ops, liveOp{"REPLICAOF " + args[1] + " " + args[2], command("REPLICAOF", args[1], args[2])})
		case k == "replicaof":
			// The node is the live master already (Sentinel promoted it and
			// rewrote its file); redisctl never promotes on its own.
		case !present || immutableRedis[k] || k == "port":
			restart = append(restart, k)
		default:
			val := strings.Join(args[1:], " ")
			desc := "CONFIG SET " + k + " " + val
			if isSecretKey(k) {
				desc = "CONFIG SET " + k + " (value hidden)"
			}
			ops = append(ops, liveOp{desc, command("CONFIG", "SET", k, val)})
		}
	}
	if len(ops) > 0 {
		ops = append(ops, liveOp{"CONFIG REWRITE", command("CONFIG", "REWRITE")})
	}
	return ops, restart
}

// sentinelLiveOps turns changed sentinel settings into SENTINEL SET
// commands, which Sentinel persists itself, keeping its id, epochs and
// known peers. Settings SENTINEL SET cannot change are returned in restart.
func (c *Cluster) sentinelLiveOps(ch fileChange) (ops []liveOp, restart []string, err error) {
	name := c.Inv.Name
	for _, k := range ch.Keys {
		args, present := configValue(ch.New, k)
		var opt, val string
		switch k {
		case "sentinel down-after-milliseconds", "sentinel parallel-syncs", "sentinel failover-timeout", "sentinel auth-pass":
			if !present || len(args) != 4 {
				restart = append(restart, k)
				continue
			}
			opt, val = strings.TrimPrefix(k, "sentinel "), args[3]
		case "sentinel monitor":
			old, _ := configValue(ch.Old, k)
			if !present || len(args) != 6 || len(old) != 6 || old[3] != args[3] || old[4] != args[4] {
				return nil, nil, fmt.Errorf("the sentinel monitors %s but redisctl would monitor %s; refusing to re-point a live sentinel (check `redisctl status`)", strings.Join(old[min(3, len(old)):min(5, len(old))], ":"), strings.Join(args[min(3, len(args)):min(5, len(args))], ":"))
			}
			opt, val = "quorum", args[5]
		default:
			restart = append(restart, k)
			continue
		}
		desc := fmt.Sprintf("SENTINEL SET %s %s %s", name, opt, val)
		if isSecretKey(k) {
			desc = fmt.Sprintf("SENTINEL SET %s %s (value hidden)", name, opt)
		}
		ops = append(ops, liveOp{desc, command("SENTINEL", "SET", name, opt, val)})
	}
	return ops, restart, nil
}

func isSecretKey(k string) bool {
	switch k {
	case "requirepass", "masterauth", "sentinel auth-pass", "sentinel sentinel-pass":
		return true
	}
	return false
}

// maskSecrets hides the values of password directives in a config file,
// for diffs that a person reads.
func maskSecrets(data []byte) string {
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		k := strings.ToLower(f[0])
		if k == "sentinel" && len(f) > 1 {
			k += " " + strings.ToLower(f[1])
		}
		switch k {
		case "requirepass", "masterauth", "sentinel sentinel-pass":
			lines[i] = f[0] + " <hidden>"
		case "sentinel auth-pass":
			if len(f) > 2 {
				lines[i] = f[0] + " " + f[1] + " " + f[2] + " <hidden>"
			}
		case "user":
			lines[i] = f[0] + " <hidden>"
		}
	}
	return strings.Join(lines, "\n")
}
