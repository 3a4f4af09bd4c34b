package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// HostError is an error that happened on one host during one step. It keeps
// the cause so errors.Is and errors.As see through it.
type HostError struct {
	Host string
	Step string
	Err  error
}

func (e *HostError) Error() string {
	if strings.HasPrefix(e.Err.Error(), e.Host+":") {
		// The transport names the host already.
		if e.Step == "" {
			return e.Err.Error()
		}
		return e.Host + ": " + e.Step + ":" + strings.TrimPrefix(e.Err.Error(), e.Host+":")
	}
	if e.Step == "" {
		return fmt.Sprintf("%s: %v", e.Host, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.Host, e.Step, e.Err)
}

func (e *HostError) Unwrap() error { return e.Err }

// EachHost runs fn for every host at once and keeps every host's error.
func EachHost[T any](ctx context.Context, items []T, name func(T) string, step string, fn func(context.Context, T) error) error {
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx, it); err != nil {
				var he *HostError
				if errors.As(err, &he) && he.Host == name(it) {
					errs[i] = err
				} else {
					errs[i] = &HostError{Host: name(it), Step: step, Err: err}
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
