// Package redisx opens go-redis clients to data nodes and sentinels
// through a host's SSH connection, so no password ever reaches a command
// line, and parses INFO, the one reply go-redis leaves as text.
package redisx

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
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

// Data returns a client for the data node at addr, reached with dial,
// logged in as user ("" for the default user) with password.
func Data(dial Dialer, addr, user, password string) *redis.Client {
	return redis.NewClient(options(addr, user, password, dial))
}

// Sentinel returns a client for the sentinel at addr, reached with dial.
func Sentinel(dial Dialer, addr, password string) *redis.SentinelClient {
	return redis.NewSentinelClient(options(addr, "", password, dial))
}

// TLS wraps dial so that every connection speaks TLS with cfg, verifying
// the server's certificate for the host part of the address dialled (an
// IP address is checked against the certificate's IP SANs). go-redis
// applies its own TLSConfig only with its own dialer, so redisctl's
// connections through SSH do the handshake here. seen, when not nil, is
// told the state of every handshake (status reads the certificate's end
// from it).
func TLS(dial Dialer, cfg *tls.Config, seen func(addr string, st tls.ConnectionState)) Dialer {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		raw, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		conf := cfg.Clone()
		conf.ServerName = host
		c := tls.Client(raw, conf)
		if err := c.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		if seen != nil {
			seen(addr, c.ConnectionState())
		}
		return c, nil
	}
}

// Raw returns a plain client for the sentinel at addr, for what the
// SentinelClient type does not offer: pipelines, INFO.
func Raw(dial Dialer, addr, password string) *redis.Client {
	return redis.NewClient(options(addr, "", password, dial))
}
