package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// errNeedsRestart marks a setting that a running server cannot take live.
var errNeedsRestart = errors.New("needs a restart")

// applyRedisLive applies changed redis.conf directives to a running data
// node with CONFIG SET (REPLICAOF for replicaof) and persists them with
// CONFIG REWRITE, so the file and the process agree without a restart.
// Keys it cannot apply live are returned.
func (c *Cluster) applyRedisLive(ctx context.Context, n *Node, ch fileChange) (restart []string, err error) {
	cl := c.Data(n)
	defer cl.Close()
	applied := 0
	for _, k := range ch.Keys {
		args, present := configValue(ch.New, k)
		switch {
		case k == "replicaof" && present && len(args) == 3:
			c.P.Printf(n.Spec.Name, "live: REPLICAOF %s %s", args[1], args[2])
			if err := cl.Do(ctx, "REPLICAOF", args[1], args[2]).Err(); err != nil {
				return nil, fmt.Errorf("REPLICAOF: %w", err)
			}
		case k == "replicaof":
			// The node is the live master already (Sentinel promoted it and
			// rewrote its file); redisctl never promotes on its own.
			continue
		case !present:
			restart = append(restart, k)
			continue
		default:
			cmd := []any{"CONFIG", "SET", k, strings.Join(args[1:], " ")}
			if err := cl.Do(ctx, cmd...).Err(); err != nil {
				if strings.Contains(err.Error(), "immutable") || strings.Contains(err.Error(), "Unknown option") || strings.Contains(err.Error(), "unsupported") {
					restart = append(restart, k)
					continue
				}
				return nil, fmt.Errorf("CONFIG SET %s: %w", k, err)
			}
			if isSecretKey(k) {
				c.P.Printf(n.Spec.Name, "live: CONFIG SET %s (value hidden)", k)
			} else {
				c.P.Printf(n.Spec.Name, "live: CONFIG SET %s %s", k, strings.Join(args[1:], " "))
			}
		}
		applied++
	}
	if applied > 0 {
		if err := cl.Do(ctx, "CONFIG", "REWRITE").Err(); err != nil {
			return nil, fmt.Errorf("CONFIG REWRITE: %w", err)
		}
	}
	return restart, nil
}

// applySentinelLive applies changed sentinel settings with SENTINEL SET,
// which Sentinel persists itself, keeping its id, epochs and known peers.
func (c *Cluster) applySentinelLive(ctx context.Context, n *Node, ch fileChange) (restart []string, err error) {
	cl := c.Sentinel(n)
	defer cl.Close()
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
				return nil, fmt.Errorf("sentinel monitors %s but redisctl would monitor %s; refusing to re-point a live sentinel (check `redisctl status`)", strings.Join(old[3:5], ":"), strings.Join(args[3:5], ":"))
			}
			opt, val = "quorum", args[5]
		default:
			restart = append(restart, k)
			continue
		}
		if err := cl.Do(ctx, "SENTINEL", "SET", name, opt, val).Err(); err != nil {
			return nil, fmt.Errorf("SENTINEL SET %s: %w", opt, err)
		}
		if isSecretKey(k) {
			c.P.Printf(n.Spec.Name, "live: SENTINEL SET %s %s (value hidden)", name, opt)
		} else {
			c.P.Printf(n.Spec.Name, "live: SENTINEL SET %s %s %s", name, opt, val)
		}
	}
	return restart, nil
}

func isSecretKey(k string) bool {
	switch k {
	case "requirepass", "masterauth", "sentinel auth-pass", "sentinel sentinel-pass":
		return true
	}
	return false
}
