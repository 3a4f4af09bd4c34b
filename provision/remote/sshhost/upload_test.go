package sshhost

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

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
	if err := h.PutFile(context.Background(), dest, []byte("port 7000\n"), 0o640, owner); err != nil {
		t.Fatal(err)
	}
	assertOnly(t, srv.Dir, ".not-redisctl", ".redisctl-upload-00000000000000bb", ".redisctl-upload-00000000000000cc")
	assertOnly(t, dir, "redis_7000.conf")
}
