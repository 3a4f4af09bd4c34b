// Package remote defines how redisctl talks to one machine: the small Host
// interface every step is written against, the error a failed remote command
// returns, and the one shell-quoting helper every command line goes through.
//
// Implementations: provision/remote/sshhost (SSH + SFTP) and
// provision/remote/fakehost (in-memory, for unit tests).
package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
)

// Host is one machine redisctl manages. Every method runs with root rights on
// the host: an implementation for a non-root login elevates with `sudo -n`.
type Host interface {
	// Name is the inventory name of the host, used to prefix messages.
	Name() string

	// Run runs cmd with `sh -c` as root. stdin, stdout and stderr may be nil.
	// A non-zero exit returns an *ExitError. cmd must never contain a secret:
	// command lines are visible in ps on the host; pass secrets on stdin.
	Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) error

	// PutFile writes data to path atomically (a temporary file in the same
	// directory, then rename) with the given mode and owner ("user:group",
	// empty for root:root). The content never appears on a command line.
	PutFile(ctx context.Context, path string, data []byte, mode fs.FileMode, owner string) error

	// PutFiles writes each file as PutFile does, in order, stopping at the
	// first that fails (its error names it); in one round trip where the
	// host can.
	PutFiles(ctx context.Context, files []NewFile) error

	// Upload streams r to path (large files such as a source tarball), with
	// the same atomicity, mode and owner rules as PutFile.
	Upload(ctx context.Context, path string, r io.Reader, mode fs.FileMode, owner string) error

	// ReadFile returns the content of path read as root. A missing file
	// returns an error for which errors.Is(err, fs.ErrNotExist) is true.
	ReadFile(ctx context.Context, path string) ([]byte, error)

	// ReadFiles reads several small files, as ReadFile does each one, in
	// one round trip: the map holds the content of every path that exists;
	// a missing path is left out. A symbolic link is refused, as ReadFile
	// refuses it.
	ReadFiles(ctx context.Context, paths []string) (map[string][]byte, error)

	// ReadFileTo streams the content of path, read as root, to w and returns
	// how many bytes it wrote: for files too big to hold in memory, such as
	// an RDB. A missing file gives an error for which errors.Is(err,
	// fs.ErrNotExist) is true. An error of w ends the read and is returned,
	// wrapped.
	ReadFileTo(ctx context.Context, path string, w io.Writer) (int64, error)

	// Dial opens a TCP connection from the host itself to addr (for example
	// "127.0.0.1:7000"), so the Redis protocol travels inside the SSH
	// connection and nothing secret reaches a command line.
	Dial(ctx context.Context, network, addr string) (net.Conn, error)

	// Close releases the connection.
	Close() error
}

// NewFile is one file for PutFiles: its content, mode and owner
// ("user:group", empty for root:root).
type NewFile struct {
	Path  string
	Data  []byte
	Mode  fs.FileMode
	Owner string
}

// StdinStreamer is a Host whose Run gives stdin to the command as it is
// read, not all at once, and returns when the command ends, whether or not
// stdin did: a command can wait on stdin for a word from the caller (the
// lock's session waits for its release). fakehost's Run reads all of stdin
// first, so it is not one.
type StdinStreamer interface {
	StreamsStdin() bool
}

// StreamsStdin reports whether h is a StdinStreamer that streams.
func StreamsStdin(h Host) bool {
	s, ok := h.(StdinStreamer)
	return ok && s.StreamsStdin()
}

// ExitError is a remote command that ran and exited non-zero (or was killed
// by a signal). Error() is one line; Stderr holds the whole error output.
type ExitError struct {
	Host   string
	Cmd    string
	Status int // -1 when killed by a signal or the status is unknown
	Signal string
	Stderr string
}

func (e *ExitError) Error() string {
	how := fmt.Sprintf("exit status %d", e.Status)
	if e.Signal != "" {
		how = "killed by signal " + e.Signal
	}
	msg := fmt.Sprintf("%s: command %q: %s", e.Host, shorten(e.Cmd, 120), how)
	if tail := Tail(e.Stderr, 3); tail != "" {
		msg += ": " + strings.ReplaceAll(tail, "\n", " | ")
	}
	return msg
}

// IsExit reports whether err is a remote command that exited with status code.
func IsExit(err error, code int) bool {
	var ee *ExitError
	return errors.As(err, &ee) && ee.Status == code
}

// Tail returns the last n non-empty lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	var keep []string
	for i := len(lines) - 1; i >= 0 && len(keep) < n; i-- {
		if strings.TrimSpace(lines[i]) != "" {
			keep = append([]string{lines[i]}, keep...)
		}
	}
	return strings.Join(keep, "\n")
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// Quote quotes one word for a POSIX shell. Every variable part of a remote
// command line goes through it. It is never used for secrets: they do not go
// on command lines at all.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,+%^", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Cmd joins words into a command line, quoting each one.
func Cmd(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}

// Output runs cmd and returns its standard output.
func Output(ctx context.Context, h Host, cmd string) (string, error) {
	var out strings.Builder
	err := h.Run(ctx, cmd, nil, &out, nil)
	return out.String(), err
}
