package provision

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisctl/redisctl/provision/remote"
)

// Progress prints what redisctl does, per host and step, and keeps a debug
// log with every remote command and its whole output. Secrets are hidden on
// the way out of both (MaskText): the values of requirepass, masterauth,
// auth-pass and the like, wherever they appear in a line. It is safe for use
// from several goroutines.
type Progress struct {
	mu      sync.Mutex
	out     io.Writer // progress lines for a person
	debug   io.Writer // everything; nil when no debug log
	path    string    // debug log path, for failure messages
	verbose bool      // stream remote output to out as well
	quiet   bool      // progress lines go to the debug log only
	start   time.Time
	closer  io.Closer
}

// NewProgress writes progress lines to out and everything to a debug log
// under dir (created when missing). verbose streams remote output to out.
func NewProgress(out io.Writer, dir, verb string, verbose bool) *Progress {
	p := &Progress{out: out, verbose: verbose, start: time.Now()}
	if out == nil {
		p.out = io.Discard
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err == nil {
			name := fmt.Sprintf("%s-%s.log", verb, time.Now().Format("20060102-150405.000"))
			f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err == nil {
				p.debug, p.path, p.closer = f, f.Name(), f
			}
		}
	}
	return p
}

// LogPath is the debug log's path ("" when there is none).
func (p *Progress) LogPath() string {
	if p == nil {
		return ""
	}
	return p.path
}

// Close closes the debug log.
func (p *Progress) Close() error {
	if p == nil || p.closer == nil {
		return nil
	}
	return p.closer.Close()
}

// Printf prints one progress line, prefixed with the host when host != "".
func (p *Progress) Printf(host, format string, args ...any) {
	if p == nil {
		return
	}
	msg := MaskText(fmt.Sprintf(format, args...))
	line := msg
	if host != "" {
		line = fmt.Sprintf("%-8s %s", host, msg)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.quiet {
		fmt.Fprintln(p.out, line)
	}
	p.debugf("%s", line)
}

// SetQuiet sends progress lines to the debug log only (for commands whose
// output is a report, such as status).
func (p *Progress) SetQuiet(q bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.quiet = q
}

// Debugf writes to the debug log only.
func (p *Progress) Debugf(format string, args ...any) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.debugf(format, args...)
}

func (p *Progress) debugf(format string, args ...any) {
	if p.debug != nil {
		fmt.Fprintf(p.debug, "%s %s\n", time.Now().Format("15:04:05.000"), MaskText(fmt.Sprintf(format, args...)))
	}
}

// Since is the time since the progress started, rounded for display.
func (p *Progress) Since() time.Duration { return time.Since(p.start).Round(100 * time.Millisecond) }

// Logged wraps a host so every command, its output and exit status go to
// the debug log (and, when verbose, to the progress output). File contents
// are never logged: they may hold secrets.
func (p *Progress) Logged(h remote.Host) remote.Host {
	if p == nil {
		return h
	}
	return &loggedHost{Host: h, p: p}
}

type loggedHost struct {
	remote.Host
	p *Progress
}

// StreamsStdin is the wrapped host's (remote.StdinStreamer).
func (l *loggedHost) StreamsStdin() bool { return remote.StreamsStdin(l.Host) }

type lineWriter struct {
	p      *loggedHost
	stream string
	buf    bytes.Buffer
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line)
			break
		}
		w.emit(strings.TrimRight(line, "\n"))
	}
	return len(b), nil
}

func (w *lineWriter) flush() {
	if w.buf.Len() > 0 {
		w.emit(w.buf.String())
		w.buf.Reset()
	}
}

func (w *lineWriter) emit(line string) {
	line = maskLine(line)
	w.p.p.mu.Lock()
	defer w.p.p.mu.Unlock()
	w.p.p.debugf("[%s] %s: %s", w.p.Name(), w.stream, line)
	if w.p.p.verbose {
		fmt.Fprintf(w.p.p.out, "%-8s   | %s\n", w.p.Name(), line)
	}
}

// unloggedOutput marks a command whose standard output holds file
// contents (withUnloggedOutput).
type unloggedOutput struct{}

// withUnloggedOutput makes the debug log keep a command and its exit but
// not its standard output: for a command that prints files, which may
// hold secrets (a TLS key, a config with a password).
func withUnloggedOutput(ctx context.Context) context.Context {
	return context.WithValue(ctx, unloggedOutput{}, true)
}

func (l *loggedHost) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) error {
	l.p.Debugf("[%s] $ %s", l.Name(), cmd)
	ow, ew := &lineWriter{p: l, stream: "out"}, &lineWriter{p: l, stream: "err"}
	var o, e io.Writer = ow, ew
	if stdout != nil && ctx.Value(unloggedOutput{}) != nil {
		o = stdout
		l.p.Debugf("[%s] (its output holds file contents: not logged)", l.Name())
	} else if stdout != nil {
		o = io.MultiWriter(stdout, ow)
	}
	if stderr != nil {
		e = io.MultiWriter(stderr, ew)
	}
	start := time.Now()
	err := l.Host.Run(ctx, cmd, stdin, o, e)
	ow.flush()
	ew.flush()
	l.p.Debugf("[%s] exit after %s: %v", l.Name(), time.Since(start).Round(time.Millisecond), errOrOK(err))
	return err
}

func (l *loggedHost) PutFile(ctx context.Context, path string, data []byte, mode fs.FileMode, owner string) error {
	err := l.Host.PutFile(ctx, path, data, mode, owner)
	l.p.Debugf("[%s] put %s (%d bytes, %v, %q): %v", l.Name(), path, len(data), mode, owner, errOrOK(err))
	return err
}

func (l *loggedHost) PutFiles(ctx context.Context, files []remote.NewFile) error {
	start := time.Now()
	err := l.Host.PutFiles(ctx, files)
	for _, f := range files {
		l.p.Debugf("[%s] put %s (%d bytes, %v, %q)", l.Name(), f.Path, len(f.Data), f.Mode, f.Owner)
	}
	l.p.Debugf("[%s] put %d files in %s: %v", l.Name(), len(files), time.Since(start).Round(time.Millisecond), errOrOK(err))
	return err
}

func (l *loggedHost) Upload(ctx context.Context, path string, r io.Reader, mode fs.FileMode, owner string) error {
	err := l.Host.Upload(ctx, path, r, mode, owner)
	l.p.Debugf("[%s] upload %s (%v, %q): %v", l.Name(), path, mode, owner, errOrOK(err))
	return err
}

func (l *loggedHost) ReadFileTo(ctx context.Context, path string, w io.Writer) (int64, error) {
	start := time.Now()
	n, err := l.Host.ReadFileTo(ctx, path, w)
	l.p.Debugf("[%s] read %s (%d bytes in %s): %v", l.Name(), path, n, time.Since(start).Round(time.Millisecond), errOrOK(err))
	return n, err
}

func (l *loggedHost) ReadFiles(ctx context.Context, paths []string) (map[string][]byte, error) {
	start := time.Now()
	files, err := l.Host.ReadFiles(ctx, paths)
	l.p.Debugf("[%s] read %s (%d found in %s): %v", l.Name(), strings.Join(paths, " "), len(files), time.Since(start).Round(time.Millisecond), errOrOK(err))
	return files, err
}

func errOrOK(err error) any {
	if err == nil {
		return "ok"
	}
	return err
}

// RedisLogger returns a logger for go-redis messages that sends them to
// the debug log instead of the terminal; the hooks on redisctl's clients
// (redisHook) write through it.
func (p *Progress) RedisLogger() interface {
	Printf(ctx context.Context, format string, v ...any)
} {
	return redisLogger{p}
}

type redisLogger struct{ p *Progress }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.p.Debugf("go-redis: "+format, v...)
}

// redisHook records in the debug log the dials and commands of one
// server's client that fail. go-redis's own logger is process-wide, so
// main silences it and each client reports here instead. Arguments are
// never logged: AUTH and CONFIG SET carry secrets.
func (p *Progress) redisHook(server string) redis.Hook {
	return redisHook{log: p.RedisLogger(), server: server}
}

type redisHook struct {
	log interface {
		Printf(ctx context.Context, format string, v ...any)
	}
	server string
}

func (h redisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			h.log.Printf(ctx, "%s: dial %s: %v", h.server, addr, err)
		}
		return conn, err
	}
}

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.failed(ctx, cmd)
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			h.failed(ctx, cmd)
		}
		return err
	}
}

func (h redisHook) failed(ctx context.Context, cmd redis.Cmder) {
	if err := cmd.Err(); err != nil && err != redis.Nil {
		h.log.Printf(ctx, "%s: %s: %v", h.server, cmdName(cmd), err)
	}
}

// cmdName is a command's name with its subcommand ("sentinel master",
// "config set"), never a value.
func cmdName(cmd redis.Cmder) string {
	name := cmd.Name()
	switch args := cmd.Args(); name {
	case "sentinel", "config", "client":
		if len(args) > 1 {
			if sub, ok := args[1].(string); ok {
				return name + " " + strings.ToLower(sub)
			}
		}
	}
	return name
}

// QuietProgress sends a nested run's progress lines to the debug log only.
func QuietProgress(p *Progress) *Progress {
	if p == nil {
		return nil
	}
	return &Progress{out: io.Discard, debug: p.debug, path: p.path, verbose: false, start: p.start}
}
