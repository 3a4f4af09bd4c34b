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
	var b strings.Builder
	b.WriteString("m=$(cat)\n")
	for _, p := range paths {
		fmt.Fprintf(&b, `if [ -L %[1]s ]; then printf 'redisctl: %%s is a symbolic link; refusing to read it as root (check who made it, remove it, and run again)\n' %[1]s >&2; exit 1; fi
`, remote.Quote(p))
	}
	for i, p := range paths {
		fmt.Fprintf(&b, `if [ -e %[1]s ]; then printf '%%s %[2]d\n' "$m"; dd if=%[1]s iflag=nofollow bs=65536 status=none || exit 1; printf '\n%%s end\n' "$m"; else printf '%%s %[2]d missing\n' "$m"; fi
`, remote.Quote(p), i)
	}
	var out bytes.Buffer
	if err := h.Run(ctx, b.String(), strings.NewReader(marker+"\n"), &out, nil); err != nil {
		return nil, err
	}
	files, err := parseFrames(out.Bytes(), marker, paths)
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", h.name, strings.Join(paths, " "), err)
	}
	return files, nil
}

// parseFrames splits ReadFiles' output: for file i, "MARKER i missing\n",
// or "MARKER i\n", the content, "\nMARKER end\n".
func parseFrames(out []byte, marker string, paths []string) (map[string][]byte, error) {
	files := map[string][]byte{}
	end := []byte("\n" + marker + " end\n")
	for i, p := range paths {
		head := fmt.Sprintf("%s %d\n", marker, i)
		if rest, ok := bytes.CutPrefix(out, []byte(fmt.Sprintf("%s %d missing\n", marker, i))); ok {
			out = rest
			continue
		}
		rest, ok := bytes.CutPrefix(out, []byte(head))
		if !ok {
			return nil, fmt.Errorf("unexpected output before %s", p)
		}
		k := bytes.Index(rest, end)
		if k < 0 {
			return nil, fmt.Errorf("output of %s is cut short", p)
		}
		files[p] = append([]byte{}, rest[:k]...)
		out = rest[k+len(end):]
	}
	if len(out) != 0 {
		return nil, fmt.Errorf("unexpected output after the files")
	}
	return files, nil
}
