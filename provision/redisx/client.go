// Package redisx opens go-redis clients to data nodes and sentinels
// through a host's SSH connection, so no password ever reaches a command
// line, and parses INFO, the one reply go-redis leaves as text.
package redisx

import (
	"context"
	"net"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisctl/redisctl/provision/remote"
)

// Dialer opens a TCP connection to addr; remote.Host.Dial is one.
type Dialer func(ctx context.Context, network, addr string) (net.Conn, error)

// Options common to every client redisctl opens: small pools, short
// timeouts and no silent retries, because a check that hides a failure is
// worse than one that reports it. A client serves a whole run, so a
// connection idle for a while is dialled again rather than trusted: the
// server may have closed it meanwhile (a restart, Sentinel's CLIENT KILL
// when it turns a master into a replica), and without retries a dead
// pooled connection would be reported as the server's failure.
func options(addr, user, password string, dial Dialer) *redis.Options {
	return &redis.Options{
		Addr:        addr,
		Username:    user,
		Password:    password,
		Dialer:      dial,
		DialTimeout: 5 * time.Second,
		// One dial per attempt: go-redis otherwise dials 5 times, 100 ms
		// apart, before it reports a refused connection, and up asks
		// every server that is not running yet (0.8 s of a fresh up, in
		// each of two steps).
		DialerRetries:   1,
		ReadTimeout:     5 * time.Second,
		WriteTimeout:    5 * time.Second,
		MaxRetries:      -1,
		PoolSize:        2,
		ConnMaxIdleTime: 2 * time.Second,
		DisableIdentity: true,
		Protocol:        2,
	}
}

// Data returns a client for the data node at addr, reached from host h,
// logged in as user ("" for the default user) with password.
func Data(h remote.Host, addr, user, password string) *redis.Client {
	return redis.NewClient(options(addr, user, password, h.Dial))
}

// Sentinel returns a client for the sentinel at addr, reached from host h.
func Sentinel(h remote.Host, addr, password string) *redis.SentinelClient {
	return redis.NewSentinelClient(options(addr, "", password, h.Dial))
}

// Raw returns a plain client for the sentinel at addr, for what the
// SentinelClient type does not offer: pipelines, INFO.
func Raw(dial Dialer, addr, password string) *redis.Client {
	return redis.NewClient(options(addr, "", password, dial))
}
