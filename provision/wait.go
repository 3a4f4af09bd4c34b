package provision

import (
	"context"
	"fmt"
	"time"
)

// WaitError is a bounded wait that ran out: what was expected, what was
// seen last, and for how long redisctl waited.
type WaitError struct {
	Expected string
	Seen     string
	Waited   time.Duration
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("waited %s for %s; last seen: %s", e.Waited.Round(100*time.Millisecond), e.Expected, e.Seen)
}

// WaitFor calls check every interval until it reports done, the timeout
// passes or ctx ends. check returns what it saw, for the error message.
func WaitFor(ctx context.Context, expected string, timeout, interval time.Duration, check func(ctx context.Context) (done bool, seen string)) error {
	start := time.Now()
	deadline := start.Add(timeout)
	seen := "nothing yet"
	for {
		cctx, cancel := context.WithTimeout(ctx, minDur(5*time.Second, time.Until(deadline)+time.Second))
		done, s := check(cctx)
		cancel()
		if s != "" {
			seen = s
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return &WaitError{Expected: expected, Seen: seen, Waited: time.Since(start)}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", expected, ctx.Err())
		case <-time.After(interval):
		}
	}
}

func minDur(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}

// WaitSnapshot observes the cluster every interval until check, given the
// snapshot and its analysis, reports done; as waitFor otherwise.
func (c *Cluster) WaitSnapshot(ctx context.Context, expected string, timeout, interval time.Duration, check func(*Snapshot, Analysis) (done bool, seen string)) error {
	return c.waitObserving(ctx, expected, timeout, interval, observeCallTimeout, nil, check)
}

// waitObserving is waitSnapshot with observe's per-host timeout and the
// data node left out (see observe).
func (c *Cluster) waitObserving(ctx context.Context, expected string, timeout, interval, callTimeout time.Duration, skip *Node, check func(*Snapshot, Analysis) (done bool, seen string)) error {
	e := c.Expectations()
	start, last := time.Now(), ""
	return WaitFor(ctx, expected, timeout, interval, func(ctx context.Context) (bool, string) {
		s := c.observe(ctx, callTimeout, skip)
		done, seen := check(s, Analyze(s, e))
		if seen != last && !done {
			// What the wait is waiting on, each time it changes.
			c.P.Debugf("waiting for %s (%s): %s", expected, time.Since(start).Round(time.Millisecond), seen)
			last = seen
		}
		return done, seen
	})
}
