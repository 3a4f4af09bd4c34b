// Package fakehost is an in-memory remote.Host for unit tests: commands are
// answered by handlers matched on the command line, files live in a map, and
// every call is recorded. An unexpected command fails loudly, so a test
// cannot pass by accident.
package fakehost

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"regexp"
	"strings"
	"sync"

	"github.com/redisctl/redisctl/provision/remote"
)

// File is a file stored on the fake host.
type File struct {
	Data  []byte
	Mode  fs.FileMode
	Owner string
}

// Result is what a handler answers: output and exit status.
type Result struct {
	Stdout, Stderr string
	Status         int
}

// Handler answers the commands whose line matches Pattern.
type Handler struct {
	Pattern *regexp.Regexp
	Reply   func(cmd string, stdin []byte) Result
}

// Host is a fake remote.Host. The zero value is not usable; call New.
type Host struct {
	name string

	mu       sync.Mutex
	files    map[string]File
	handlers []Handler
	calls    []string

	// DialFunc answers Dial; nil refuses every connection.
	DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)
}

// New returns a fake host with no files and no handlers.
func New(name string) *Host {
	return &Host{name: name, files: map[string]File{}}
}

// On registers a handler for commands matching the regular expression.
// Later registrations win, so a test can override a default answer.
func (h *Host) On(pattern string, reply func(cmd string, stdin []byte) Result) *Host {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.handlers = append([]Handler{{regexp.MustCompile(pattern), reply}}, h.handlers...)
	return h
}

// Answer registers a fixed answer for commands matching pattern.
func (h *Host) Answer(pattern string, r Result) *Host {
	return h.On(pattern, func(string, []byte) Result { return r })
}

// Reply answers cmd as Run would, without recording it as a call: for a
// handler that answers a script embedded in another one.
func (h *Host) Reply(cmd string) (Result, bool) {
	h.mu.Lock()
	reply := h.handler(cmd)
	h.mu.Unlock()
	if reply == nil {
		return Result{}, false
	}
	return reply(cmd, nil), true
}

// handler is the newest handler whose pattern matches cmd; h.mu is held.
func (h *Host) handler(cmd string) func(string, []byte) Result {
	for _, hd := range h.handlers {
		if hd.Pattern.MatchString(cmd) {
			return hd.Reply
		}
	}
	return nil
}

// Calls returns every command run so far, in order.
func (h *Host) Calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.calls...)
}

// File returns a stored file.
func (h *Host) File(path string) (File, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, ok := h.files[path]
	return f, ok
}

// SetFile stores a file as if it existed on the host.
func (h *Host) SetFile(path string, data []byte, mode fs.FileMode, owner string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.files[path] = File{Data: data, Mode: mode, Owner: owner}
}

// Name implements remote.Host.
func (h *Host) Name() string { return h.name }

// Run implements remote.Host.
func (h *Host) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var in []byte
	if stdin != nil {
		in, _ = io.ReadAll(stdin)
	}
	h.mu.Lock()
	h.calls = append(h.calls, cmd)
	reply := h.handler(cmd)
	h.mu.Unlock()
	if reply == nil {
		return fmt.Errorf("fakehost %s: unexpected command %q", h.name, cmd)
	}
	r := reply(cmd, in)
	if stdout != nil {
		io.WriteString(stdout, r.Stdout)
	}
	if stderr != nil {
		io.WriteString(stderr, r.Stderr)
	}
	if r.Status != 0 {
		return &remote.ExitError{Host: h.name, Cmd: cmd, Status: r.Status, Stderr: r.Stderr}
	}
	return nil
}

// PutFiles implements remote.Host: PutFile for each, in order.
func (h *Host) PutFiles(ctx context.Context, files []remote.NewFile) error {
	for _, f := range files {
		if err := h.PutFile(ctx, f.Path, f.Data, f.Mode, f.Owner); err != nil {
			return err
		}
	}
	return nil
}

// PutFile implements remote.Host.
func (h *Host) PutFile(ctx context.Context, path string, data []byte, mode fs.FileMode, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, "put "+path)
	h.files[path] = File{Data: append([]byte(nil), data...), Mode: mode, Owner: owner}
	return nil
}

// Upload implements remote.Host.
func (h *Host) Upload(ctx context.Context, path string, r io.Reader, mode fs.FileMode, owner string) error {
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r); err != nil {
		return err
	}
	return h.PutFile(ctx, path, buf.Bytes(), mode, owner)
}

// ReadFile implements remote.Host.
func (h *Host) ReadFile(ctx context.Context, path string) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, ok := h.files[path]
	if !ok {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fs.ErrNotExist}
	}
	return append([]byte(nil), f.Data...), nil
}

// ReadFiles implements remote.Host. It counts as one command in Calls,
// "read-files" and the paths, as it is one round trip on a real host.
func (h *Host) ReadFiles(ctx context.Context, paths []string) (map[string][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, "read-files "+strings.Join(paths, " "))
	out := map[string][]byte{}
	for _, p := range paths {
		if f, ok := h.files[p]; ok {
			out[p] = append([]byte(nil), f.Data...)
		}
	}
	return out, nil
}

// ReadFileTo implements remote.Host.
func (h *Host) ReadFileTo(ctx context.Context, path string, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	h.mu.Lock()
	f, ok := h.files[path]
	h.mu.Unlock()
	if !ok {
		return 0, &fs.PathError{Op: "read", Path: path, Err: fs.ErrNotExist}
	}
	n, err := w.Write(f.Data)
	return int64(n), err
}

// Dial implements remote.Host.
func (h *Host) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if h.DialFunc == nil {
		return nil, fmt.Errorf("fakehost %s: dial %s: connection refused", h.name, addr)
	}
	return h.DialFunc(ctx, network, addr)
}

// Close implements remote.Host.
func (h *Host) Close() error { return nil }

var _ remote.Host = (*Host)(nil)
