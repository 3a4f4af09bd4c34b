package sshhost

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redisctl/redisctl/provision/remote"
	"github.com/redisctl/redisctl/provision/remote/sshhost/sshtest"
)

// A connection dropped mid-upload leaves a staging directory in the login
// user's home, or a ".<name>.redisctl-tmp" copy next to the destination;
// the next upload removes them, but not an upload that is still running.
func TestUploadRemovesWhatADroppedConnectionLeft(t *testing.T) {
	srv, c := setup(t, sshtest.Options{})
	h := dial(t, c)
	old := time.Now().Add(-2 * time.Hour)
	stage := func(name string, dirTime, dataTime time.Time) {
		dir := filepath.Join(srv.Dir, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "data"), "half a tarball")
		if err := os.Chtimes(filepath.Join(dir, "data"), dataTime, dataTime); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(dir, dirTime, dirTime); err != nil {
			t.Fatal(err)
		}
	}
	stage(".redisctl-upload-00000000000000aa", old, old)               // dropped long ago
	stage(".redisctl-upload-00000000000000bb", time.Now(), time.Now()) // another upload, just started
	stage(".redisctl-upload-00000000000000cc", old, time.Now())        // a long upload, still writing
	stage(".not-redisctl", old, old)                                   // not ours

	dir := t.TempDir()
	dest := filepath.Join(dir, "redis_7000.conf")
	writeFile(t, filepath.Join(dir, ".redis_7000.conf.redisctl-tmp"), "a half-copied config")
	if err := os.Chmod(filepath.Join(dir, ".redis_7000.conf.redisctl-tmp"), 0o400); err != nil {
		t.Fatal(err)
	}
	owner := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	if err := h.Upload(context.Background(), dest, strings.NewReader("port 7000\n"), 0o640, owner); err != nil {
		t.Fatal(err)
	}
	assertOnly(t, srv.Dir, ".not-redisctl", ".redisctl-upload-00000000000000bb", ".redisctl-upload-00000000000000cc")
	assertOnly(t, dir, "redis_7000.conf")

	// PutFile, which stages nothing, removes a half-copied file too.
	writeFile(t, filepath.Join(dir, ".redis_7000.conf.redisctl-tmp"), "a half-copied config")
	if err := h.PutFile(context.Background(), dest, []byte("port 7001\n"), 0o640, owner); err != nil {
		t.Fatal(err)
	}
	assertOnly(t, dir, "redis_7000.conf")
	if b, err := os.ReadFile(dest); err != nil || string(b) != "port 7001\n" {
		t.Errorf("%s: %q, %v", dest, b, err)
	}
}

// A copy cut short (fewer bytes than PutFile sent) is never renamed onto
// the destination: the old file stays.
func TestPutFileCopyCutShortKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "redis_7000.conf")
	writeFile(t, dest, "old")
	script := stdinInstallScript(dest, 100, 0o640, fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()))
	c := exec.Command("sh", "-c", script)
	c.Stdin = strings.NewReader("only part of it")
	if out, err := c.CombinedOutput(); err == nil {
		t.Fatalf("a short copy succeeded: %s", out)
	}
	if b, _ := os.ReadFile(dest); string(b) != "old" {
		t.Errorf("destination is now %q", b)
	}
	assertOnly(t, dir, "redis_7000.conf")
}

// PutFiles writes every file, in one command, each with its own content,
// mode and owner, an empty file and binary bytes included; a file that
// fails stops the rest and is named, and those before it are written.
func TestPutFiles(t *testing.T) {
	srv, c := setup(t, sshtest.Options{})
	h := dial(t, c)
	dir := t.TempDir()
	owner := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	binary := []byte{0, 1, 2, 0xff, '\n', 0, 'x'}
	files := []remote.NewFile{
		{Path: filepath.Join(dir, "a.conf"), Data: []byte("port 7000\nrequirepass hunter2\n"), Mode: 0o640, Owner: owner},
		{Path: filepath.Join(dir, "empty"), Data: nil, Mode: 0o600, Owner: owner},
		{Path: filepath.Join(dir, "bin"), Data: binary, Mode: 0o755, Owner: owner},
	}
	before := len(srv.Execs())
	if err := h.PutFiles(context.Background(), files); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Execs()) - before; n != 1 {
		t.Errorf("%d commands for 3 files, want 1", n)
	}
	for _, f := range files {
		b, err := os.ReadFile(f.Path)
		if err != nil || !bytes.Equal(b, f.Data) {
			t.Errorf("%s: %q, %v; want %q", f.Path, b, err, f.Data)
		}
		if st, _ := os.Stat(f.Path); st.Mode().Perm() != f.Mode {
			t.Errorf("%s: mode %v, want %v", f.Path, st.Mode().Perm(), f.Mode)
		}
	}
	for _, e := range srv.Execs() {
		if strings.Contains(e.Command, "hunter2") {
			t.Errorf("content on a command line: %q", e.Command)
		}
	}
	assertOnly(t, dir, "a.conf", "bin", "empty")

	// The second is a directory: the first is written, the third not.
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	files = []remote.NewFile{
		{Path: filepath.Join(dir, "a.conf"), Data: []byte("port 7001\n"), Mode: 0o640, Owner: owner},
		{Path: filepath.Join(dir, "d"), Data: []byte("x"), Mode: 0o640, Owner: owner},
		{Path: filepath.Join(dir, "c"), Data: []byte("y"), Mode: 0o640, Owner: owner},
	}
	err := h.PutFiles(context.Background(), files)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "d")+": ") || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("want an error naming %s, got %v", filepath.Join(dir, "d"), err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.conf")); string(b) != "port 7001\n" {
		t.Errorf("the file before the failure: %q", b)
	}
	assertOnly(t, dir, "a.conf", "bin", "d", "empty")
}
