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
	"os"
	"path"
	"strings"
	"time"

	"github.com/pkg/sftp"

	"github.com/redisctl/redisctl/provision/remote"
)

// putFileStdinMax is the most PutFile sends on a command's stdin; more
// goes through Upload's SFTP staging.
const putFileStdinMax = 1 << 20

// PutFile writes data to path atomically, with Upload's rules, in one
// command: data comes on its stdin (never on a command line), is written
// next to dest and renamed onto it once all of it arrived. A config file
// thus costs one round trip instead of a dozen SFTP requests and one.
func (h *Host) PutFile(ctx context.Context, dest string, data []byte, mode fs.FileMode, owner string) error {
	if len(data) > putFileStdinMax {
		return h.Upload(ctx, dest, bytes.NewReader(data), mode, owner)
	}
	if !path.IsAbs(dest) || path.Clean(dest) == "/" {
		return fmt.Errorf("%s: write %q: need an absolute file path", h.name, dest)
	}
	dest = path.Clean(dest)
	err := h.Run(ctx, stdinInstallScript(dest, len(data), mode, owner), bytes.NewReader(data), nil, nil)
	return h.installError(err, "write", dest)
}

// PutFiles writes the files as PutFile does, in order, in one command
// whose stdin brings each file's bytes in turn (dd reads exactly each
// file's size): one round trip and one sudo for all of a host's configs.
// It stops at the first file that fails, and its error names that file.
// Files that are more than putFileStdinMax in all go one by one.
func (h *Host) PutFiles(ctx context.Context, files []remote.NewFile) error {
	total := 0
	for _, f := range files {
		total += len(f.Data)
	}
	if len(files) < 2 || total > putFileStdinMax {
		for _, f := range files {
			if err := h.PutFile(ctx, f.Path, f.Data, f.Mode, f.Owner); err != nil {
				return err
			}
		}
		return nil
	}
	var script strings.Builder
	var stdin bytes.Buffer
	dests := make([]string, len(files))
	for i, f := range files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) == "/" {
			return fmt.Errorf("%s: write %q: need an absolute file path", h.name, f.Path)
		}
		dests[i] = path.Clean(f.Path)
		// A file that fails stops the rest: its bytes, unread, would be
		// the next file's.
		fmt.Fprintf(&script, "(\n%s\n) || exit $?\necho written\n", stdinInstallScript(dests[i], len(f.Data), f.Mode, f.Owner))
		stdin.Write(f.Data)
	}
	var out bytes.Buffer
	err := h.Run(ctx, script.String(), &stdin, &out, nil)
	if err != nil {
		failed := min(strings.Count(out.String(), "written\n"), len(files)-1)
		return h.installError(err, "write", dests[failed])
	}
	return nil
}

// Upload streams r over SFTP into a private directory of the login user,
// then, as root in one command, copies it next to dest as
// ".<base>.redisctl-tmp", sets owner ("" is root:root) and mode, renames it
// onto dest and removes the private copy. dest's directory must exist.
func (h *Host) Upload(ctx context.Context, dest string, r io.Reader, mode fs.FileMode, owner string) error {
	if !path.IsAbs(dest) || path.Clean(dest) == "/" {
		return fmt.Errorf("%s: upload to %q: need an absolute file path", h.name, dest)
	}
	dest = path.Clean(dest)
	sc, err := h.sftpClient()
	if err != nil {
		return err
	}
	stageDir, staged, err := stage(ctx, sc, r)
	if err != nil {
		return fmt.Errorf("%s: upload %s: %w", h.name, dest, err)
	}
	err = h.Run(ctx, installScript(staged, stageDir, dest, mode, owner), nil, nil, nil)
	if err != nil {
		_ = sc.RemoveAll(stageDir) // the root step removes it, unless it never ran
	}
	return h.installError(err, "upload", dest)
}

// installError is the error of an install script's run for dest.
func (h *Host) installError(err error, verb, dest string) error {
	if remote.IsExit(err, statusMissing) {
		return fmt.Errorf("%s: %s %s: directory %s: %w", h.name, verb, dest, path.Dir(dest), fs.ErrNotExist)
	}
	var x *remote.ExitError
	if errors.As(err, &x) && !errors.Is(err, ErrSudoPassword) {
		// The install script is no use in a message; what it printed is.
		said := strings.ReplaceAll(remote.Tail(x.Stderr, 3), "\n", " | ")
		if said == "" {
			said = fmt.Sprintf("install step failed with exit status %d", x.Status)
		}
		return &wrapped{err: err, msg: fmt.Sprintf("%s: %s %s: %s", h.name, verb, dest, said)}
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", verb, dest, err)
	}
	return nil
}

// wrapped is an error with its own message around err.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// stage copies r into a new 0700 directory in the login user's home (or
// /tmp) and returns the directory and the file. The directory is made
// private before the file exists, so no one else can ever open the file.
// Stale staging directories of earlier runs, left when a connection dropped
// mid-upload, go on the way (removeStale).
func stage(ctx context.Context, sc *sftp.Client, r io.Reader) (dir, file string, err error) {
	random := make([]byte, 8)
	if _, err := rand.Read(random); err != nil {
		return "", "", err
	}
	name := stagePrefix + hex.EncodeToString(random)
	bases := []string{"/tmp"}
	if home, err := sc.Getwd(); err == nil && home != "" && home != "/tmp" {
		bases = []string{home, "/tmp"}
	}
	for _, base := range bases {
		dir = path.Join(base, name)
		if err = sc.Mkdir(dir); err == nil {
			break
		}
	}
	if err != nil {
		return "", "", fmt.Errorf("create a private directory over SFTP: %w", err)
	}
	defer func() {
		if err != nil {
			_ = sc.RemoveAll(dir)
		}
	}()
	if err := sc.Chmod(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("chmod %s: %w", dir, err)
	}
	if st, err := sc.Lstat(dir); err == nil {
		for _, base := range bases {
			removeStale(sc, base, st, name)
		}
	}
	file = path.Join(dir, "data")
	f, err := sc.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return "", "", fmt.Errorf("create %s: %w", file, err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return "", "", fmt.Errorf("chmod %s: %w", file, err)
	}
	if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
		f.Close()
		return "", "", fmt.Errorf("write %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return "", "", fmt.Errorf("write %s: %w", file, err)
	}
	return dir, file, nil
}

// stagePrefix starts the name of every staging directory.
const stagePrefix = ".redisctl-upload-"

// staleAfter is how long a staging directory and its file must have been
// left alone before an upload removes it: an upload still running writes
// its file all along, and the root step that follows takes seconds.
const staleAfter = 30 * time.Minute

// removeStale removes, as well as it can, the staging directories in base
// that a dropped connection left behind: named like ours, owned by the
// login user (as ours, fresh is), and unchanged for staleAfter by the
// host's clock (fresh's time), so skew with this machine does not matter.
func removeStale(sc *sftp.Client, base string, fresh fs.FileInfo, keep string) {
	me, ok := fresh.Sys().(*sftp.FileStat)
	if !ok {
		return
	}
	entries, err := sc.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		st, ok := e.Sys().(*sftp.FileStat)
		if !e.IsDir() || !strings.HasPrefix(e.Name(), stagePrefix) || e.Name() == keep || !ok || st.UID != me.UID {
			continue
		}
		dir := path.Join(base, e.Name())
		last := e.ModTime()
		if f, err := sc.Lstat(path.Join(dir, "data")); err == nil && f.ModTime().After(last) {
			last = f.ModTime()
		}
		if fresh.ModTime().Sub(last) > staleAfter {
			_ = sc.RemoveAll(dir)
		}
	}
}

// installScript moves the staged file onto dest as root: copy next to dest,
// chown, chmod, rename, and remove the staging directory whatever happens.
// The copy is made in dest's directory so the final rename is atomic.
//
// Root never follows a link there: dest's directory may belong to redis
// (Redis rewrites its config through a temporary file next to it), so a
// link planted at dest or at the temporary name must not make root write,
// chown or chmod another file. A link at dest is refused by name; the
// temporary file is created with O_EXCL (set -C), so a link planted there
// fails the write; chown -h changes a link, never its target; and in a
// directory that another user can write, the mode comes from the umask at
// creation, never from a chmod that a swapped-in link would redirect.
func installScript(staged, stageDir, dest string, mode fs.FileMode, owner string) string {
	return installScriptFrom(`cat -- `+remote.Quote(staged)+` > "$t"`, "rm -rf -- "+remote.Quote(stageDir), dest, mode, owner)
}

// stdinInstallScript is installScript for the size bytes that come next on
// stdin: dd reads exactly those (more may follow, for the next file of
// PutFiles), and a copy cut short (the connection lost) is never renamed
// onto dest. dd's own count of full blocks says so, not a read of "$t"
// by its path, which in a directory redis may write could be a link by
// then.
func stdinInstallScript(dest string, size int, mode fs.FileMode, owner string) string {
	copy := `: > "$t"`
	if size > 0 {
		copy = fmt.Sprintf(`r=$(LC_ALL=C dd iflag=fullblock bs=%d count=1 status=noxfer 2>&1 > "$t") && case $r in *"1+0 records out"*) ;; *) false ;; esac`, size)
	}
	return installScriptFrom(copy, ":", dest, mode, owner)
}

// installScriptFrom is the install script whose copy, run in a subshell
// under the umask and noclobber, writes "$t"; cleanup runs last whatever
// happened.
func installScriptFrom(copy, cleanup, dest string, mode fs.FileMode, owner string) string {
	if owner == "" {
		owner = "root:root"
	}
	q := remote.Quote
	dir := path.Dir(dest)
	tmp := path.Join(dir, "."+path.Base(dest)+".redisctl-tmp")
	// chmod is safe only where no one but root can replace the file; there
	// the umask can set the mode alone when it needs no x or special bits.
	umask := fmt.Sprintf("%04o", 0o777&^uint32(mode.Perm()))
	byUmask := mode.Perm()&0o111 == 0 && mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) == 0
	return fmt.Sprintf(`umask 077
d=%[1]s t=%[2]s dest=%[6]s
shared=no
if [ -d "$d" ]; then
	set -- $(stat -L -c '%%u %%a' -- "$d")
	if [ "$1" != 0 ] || [ $(( 0$2 & 022 )) != 0 ]; then shared=yes; fi
fi
if [ ! -d "$d" ]; then echo "redisctl: no directory $d" >&2; rc=%[8]d
elif [ -L "$dest" ]; then echo "redisctl: $dest is a symbolic link; refusing to replace it as root (check who made it, remove it, and run again)" >&2; rc=1
elif [ -d "$dest" ]; then echo "redisctl: $dest is a directory" >&2; rc=1
elif [ $shared = yes ] && [ %[10]s != yes ]; then echo "redisctl: $d is writable by a user other than root; refusing to install $dest with mode %[5]s there" >&2; rc=1
elif rm -f -- "$t" && (umask %[9]s; set -C; %[3]s) && chown -h -- %[4]s "$t" && { [ $shared = yes ] || chmod -- %[5]s "$t"; } && mv -f -T -- "$t" "$dest"; then rc=0
else rc=$?; [ -L "$t" ] || rm -f -- "$t"; fi
%[7]s
exit $rc`, q(dir), q(tmp), copy, q(owner), octal(mode), q(dest), cleanup, statusMissing, umask, yesNo(byUmask))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// octal is mode in chmod's notation, with setuid, setgid and sticky bits.
func octal(mode fs.FileMode) string {
	m := uint32(mode.Perm())
	if mode&fs.ModeSetuid != 0 {
		m |= 0o4000
	}
	if mode&fs.ModeSetgid != 0 {
		m |= 0o2000
	}
	if mode&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	return fmt.Sprintf("%04o", m)
}

func (h *Host) sftpClient() (*sftp.Client, error) {
	h.sftpMu.Lock()
	defer h.sftpMu.Unlock()
	if h.sftp != nil {
		return h.sftp, nil
	}
	c, err := sftp.NewClient(h.client)
	if err != nil {
		return nil, fmt.Errorf("%s: start SFTP (is the sftp subsystem enabled in sshd_config?): %w", h.name, err)
	}
	h.sftp = c
	return c, nil
}

// ctxReader stops a copy once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
