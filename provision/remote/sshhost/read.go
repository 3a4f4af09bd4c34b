package sshhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"

	"github.com/redisctl/redisctl/provision/remote"
)

// ReadFileTo streams the content of path, read as root with cat, to w. A
// failing w ends the remote cat at once (else it would wait on a full SSH
// window for ever), and nothing is written to w after ReadFileTo returns.
func (h *Host) ReadFileTo(ctx context.Context, path string, w io.Writer) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cw := &guardedWriter{w: w, fail: cancel}
	cmd := fmt.Sprintf("[ -e %[1]s ] || exit %[2]d; exec cat -- %[1]s", remote.Quote(path), statusMissing)
	err := h.Run(ctx, cmd, nil, cw, nil)
	n, werr := cw.close()
	switch {
	case werr != nil:
		return n, fmt.Errorf("%s: read %s: %w", h.name, path, werr)
	case remote.IsExit(err, statusMissing):
		return n, fmt.Errorf("%s: %w", h.name, &fs.PathError{Op: "read", Path: path, Err: fs.ErrNotExist})
	}
	return n, err
}

var errReadDone = errors.New("read finished")

// guardedWriter counts what it passes on to w; at w's first error it calls
// fail, and after that or close it refuses every write (a cancelled SSH
// session may still deliver data after Run returned).
type guardedWriter struct {
	mu   sync.Mutex
	w    io.Writer
	n    int64
	err  error // w's error
	done bool
	fail func(error)
}

func (g *guardedWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return 0, g.err
	}
	if g.done {
		return 0, errReadDone
	}
	n, err := g.w.Write(p)
	g.n += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		g.err = err
		g.fail(err)
	}
	return n, err
}

func (g *guardedWriter) close() (int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.done = true
	return g.n, g.err
}
