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
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/redisctl/redisctl/provision/remote"
)

// ErrSudoPassword is wrapped by the error of a command that could not run
// because the non-root login user may not use sudo without a password.
var ErrSudoPassword = errors.New("sudo needs a password")

// runWrapper runs "$1" with `sh -c` in the background and waits for it, so
// that a HUP, INT or TERM reaching this shell kills the whole process group:
// the command and everything it started. The TERM comes from sshd's
// "signal" request (relayed by sudo, which cannot relay KILL) or, since
// OpenSSH ignores signal requests on root logins, from killScript in a
// second session. stdin is handed on through fd 3 because a background job
// otherwise reads /dev/null.
const runWrapper = `trap 'kill -s KILL 0' HUP INT TERM; exec 3<&0; sh -c "$1" <&3 3<&- & exec 3<&-; wait $!`

// runTag prefixes the wrapper's $0, which makes a running command findable
// in /proc/*/cmdline by the random token that follows.
const runTag = "redisctl-run-"

const (
	// killGrace is how long a cancelled command gets after TERM, and then
	// after KILL, before Run returns anyway.
	killGrace = time.Second
	// maxStderr is how much of a command's stderr ExitError keeps (the end).
	maxStderr = 1 << 20
	// statusMissing is the exit status ReadFile and Upload use for a missing
	// file or directory.
	statusMissing = 66
)

// command is the command line sent to the host for cmd.
func command(cmd string, root bool, token string) string {
	line := remote.Cmd("sh", "-c", runWrapper, runTag+token, cmd)
	if root {
		return line
	}
	return "sudo -n -- " + line
}

// killScript sends TERM to the processes that have the wrapper tag with
// token as one whole argument: the wrapper, and sudo above it (which relays
// TERM). The pattern brackets the token's first digit so that neither this
// script nor grep, whose own command lines hold the pattern, match it.
// Anything but 16 hex digits as token gives a script that does nothing.
func killScript(token string) string {
	if !validToken(token) {
		return "true"
	}
	pattern := runTag + "[" + token[:1] + "]" + token[1:]
	return `for f in $(grep -l -z -x -e ` + remote.Quote(pattern) + ` /proc/[0-9]*/cmdline 2>/dev/null); do ` +
		`d=${f%/cmdline}; kill -s TERM "${d#/proc/}" 2>/dev/null; done; true`
}

func validToken(token string) bool {
	if len(token) != 16 {
		return false
	}
	for _, r := range token {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

func newToken() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// StreamsStdin implements remote.StdinStreamer: Run gives stdin to the
// command as it is read, and returns when the command ends.
func (h *Host) StreamsStdin() bool { return true }

// Run runs cmd as root in a new session: directly for a root login, through
// `sudo -n` otherwise. When ctx ends, the command's process group gets TERM,
// then KILL, and Run returns the context's error. stdin reaches the command
// as it is read, and Run returns when the command ends, whether or not
// stdin did (see StreamsStdin).
func (h *Host) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: command %q: %w", h.name, short(cmd), err)
	}
	select {
	case h.sessions <- struct{}{}:
		defer func() { <-h.sessions }()
	case <-ctx.Done():
		return fmt.Errorf("%s: command %q: %w", h.name, short(cmd), ctx.Err())
	}
	sess, err := h.client.NewSession()
	if err != nil {
		return fmt.Errorf("%s: open SSH session: %w", h.name, err)
	}
	defer sess.Close()
	errBuf := &tailBuffer{max: maxStderr}
	if stdin != nil {
		// Copied here, not by the session: Run returns when the command
		// ends, even while stdin has more to give (StreamsStdin).
		w, err := sess.StdinPipe()
		if err != nil {
			return fmt.Errorf("%s: open SSH session: %w", h.name, err)
		}
		go func() {
			_, _ = io.Copy(w, stdin)
			_ = w.Close()
		}()
	}
	sess.Stdout = stdout
	sess.Stderr = errBuf
	if stderr != nil {
		sess.Stderr = io.MultiWriter(errBuf, stderr)
	}
	token := newToken()
	if err := sess.Start(command(cmd, h.IsRoot(), token)); err != nil {
		return fmt.Errorf("%s: start command %q: %w", h.name, short(cmd), err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		h.stop(sess, done, token)
		return fmt.Errorf("%s: command %q: %w", h.name, short(cmd), ctx.Err())
	}
	return h.exitError(cmd, err, errBuf.String())
}

// stop ends a running session: TERM to it and, from a second session, to
// its wrapper (the wrapper then kills the process group); then KILL and
// close if that did not end it.
func (h *Host) stop(sess *ssh.Session, done <-chan error, token string) {
	_ = sess.Signal(ssh.SIGTERM)
	go h.kill(token)
	select {
	case <-done:
		return
	case <-time.After(killGrace):
	}
	_ = sess.Signal(ssh.SIGKILL)
	sess.Close()
	select {
	case <-done:
	case <-time.After(killGrace):
	}
}

// kill runs killScript for token, giving up after killGrace.
func (h *Host) kill(token string) {
	sess, err := h.client.NewSession()
	if err != nil {
		return
	}
	defer sess.Close()
	done := make(chan error, 1)
	go func() { done <- sess.Run(command(killScript(token), h.IsRoot(), newToken())) }()
	select {
	case <-done:
	case <-time.After(killGrace):
	}
}

func (h *Host) exitError(cmd string, err error, stderr string) error {
	if err == nil {
		return nil
	}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		x := &remote.ExitError{Host: h.name, Cmd: cmd, Status: ee.ExitStatus(), Signal: ee.Signal(), Stderr: stderr}
		if x.Signal != "" {
			x.Status = -1
		}
		if !h.IsRoot() {
			if err := sudoError(h.ep.user, x); err != nil {
				return fmt.Errorf("%s: %w", h.name, err)
			}
		}
		return x
	}
	var missing *ssh.ExitMissingError
	if errors.As(err, &missing) {
		return fmt.Errorf("%s: command %q ended without an exit status (connection lost?): %w", h.name, short(cmd), err)
	}
	return fmt.Errorf("%s: command %q: %w", h.name, short(cmd), err)
}

// sudoError explains a command that sudo refused to start, or returns nil.
func sudoError(user string, x *remote.ExitError) error {
	var sudoLines []string
	for _, l := range strings.Split(x.Stderr, "\n") {
		if strings.HasPrefix(l, "sudo: ") {
			sudoLines = append(sudoLines, l)
		}
	}
	said := strings.Join(sudoLines, "\n")
	switch {
	case x.Status == 1 && containsAny(said, "a password is required", "a terminal is required",
		"you must have a tty", "is not in the sudoers file", "may not run sudo"):
		return fmt.Errorf("%w: login user %s needs passwordless sudo for redisctl (a sudoers line like %q): %w",
			ErrSudoPassword, user, user+" ALL=(ALL) NOPASSWD: ALL", x)
	case x.Status == 127 && containsAny(x.Stderr, "sudo: not found", "sudo: command not found"):
		return fmt.Errorf("sudo is not installed and login user %s is not root: install sudo or log in as root: %w", user, x)
	}
	return nil
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// ReadFile returns the content of path, read as root with cat.
func (h *Host) ReadFile(ctx context.Context, path string) ([]byte, error) {
	var out bytes.Buffer
	err := h.Run(ctx, readCommand(path), nil, &out, nil)
	if remote.IsExit(err, statusMissing) {
		return nil, fmt.Errorf("%s: %w", h.name, &fs.PathError{Op: "read", Path: path, Err: fs.ErrNotExist})
	}
	if err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// tailBuffer keeps the last max bytes written to it (roughly: it trims in
// chunks) and notes when it dropped some.
type tailBuffer struct {
	max     int
	buf     []byte
	dropped bool
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if len(b.buf) > 2*b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
		b.dropped = true
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	if b.dropped {
		return "[earlier output dropped]\n" + string(b.buf)
	}
	return string(b.buf)
}

func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}

// readCommand prints path as root without following a link: a link is
// refused by name, and dd opens with O_NOFOLLOW so one swapped in after the
// test is refused too. Files redisctl reads may sit in a directory redis
// can write, and root must not read another file through them (its content
// would go into a diff, a backup, or back into a redis-readable config).
func readCommand(path string) string {
	return fmt.Sprintf(`if [ -L %[1]s ]; then printf 'redisctl: %%s is a symbolic link; refusing to read it as root (check who made it, remove it, and run again)\n' %[1]s >&2; exit 1; fi
[ -e %[1]s ] || exit %[2]d; exec dd if=%[1]s iflag=nofollow bs=65536 status=none`, remote.Quote(path), statusMissing)
}
