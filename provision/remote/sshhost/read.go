package sshhost

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"

	"github.com/redisctl/redisctl/provision/remote"
)

// ReadFileTo streams the content of path, read as root as ReadFile does
// (never through a link), to w. A
// failing w ends the remote cat at once (else it would wait on a full SSH
// window for ever), and nothing is written to w after ReadFileTo returns.
func (h *Host) ReadFileTo(ctx context.Context, path string, w io.Writer) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cw := &guardedWriter{w: w, fail: cancel}
	err := h.Run(ctx, readCommand(path), nil, cw, nil)
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

// ReadFiles reads every path in one command, each as ReadFile reads it
// (a link refused, dd opening with O_NOFOLLOW). The files are framed by a
// random marker that arrives on stdin, so no one on the host can see it
// in ps and write it into a file to forge a frame.
func (h *Host) ReadFiles(ctx context.Context, paths []string) (map[string][]byte, error) {
	if len(paths) == 0 {
		return map[string][]byte{}, nil
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	marker := hex.EncodeToString(nonce)
	script := "m=$(cat)\n" + remote.ReadFilesScript(paths, "m",
		`printf 'redisctl: %%s is a symbolic link; refusing to read it as root (check who made it, remove it, and run again)\n' %[1]s >&2; exit 1`)
	var out bytes.Buffer
	if err := h.Run(ctx, script, strings.NewReader(marker+"\n"), &out, nil); err != nil {
		return nil, err
	}
	files, err := remote.ParseFrames(out.Bytes(), marker, paths)
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", h.name, strings.Join(paths, " "), err)
	}
	return files, nil
}
