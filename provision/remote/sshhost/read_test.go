package sshhost

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redisctl/redisctl/provision/remote/sshhost/sshtest"
)

func TestReadFileTo(t *testing.T) {
	_, c := setup(t, sshtest.Options{})
	h := dial(t, c)
	ctx := context.Background()
	dir := t.TempDir()
	big := make([]byte, 5<<20+3)
	_, _ = rand.Read(big)
	path := filepath.Join(dir, "dump.rdb")
	writeFile(t, path, string(big))

	var got bytes.Buffer
	n, err := h.ReadFileTo(ctx, path, &got)
	if err != nil || n != int64(len(big)) || !bytes.Equal(got.Bytes(), big) {
		t.Fatalf("ReadFileTo = %d, %v; got %d bytes, equal %v", n, err, got.Len(), bytes.Equal(got.Bytes(), big))
	}

	_, err = h.ReadFileTo(ctx, filepath.Join(dir, "missing"), &got)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: want fs.ErrNotExist, got %v", err)
	}

	// The data directory belongs to redis: a dump.rdb it replaced with a
	// link to a file only root may read is refused, not copied off.
	secret := filepath.Join(t.TempDir(), "shadow")
	writeFile(t, secret, "root:secret-hash\n")
	link := filepath.Join(dir, "linked.rdb")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	var leaked bytes.Buffer
	if _, err := h.ReadFileTo(ctx, link, &leaked); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("a link was read through: %v", err)
	}
	if strings.Contains(leaked.String(), "secret-hash") {
		t.Errorf("the link's target was copied: %q", leaked.String())
	}

	// A writer that fails (a full disk) ends the read at once, instead of
	// leaving cat blocked on the SSH window.
	full := errors.New("no space left on device")
	start := time.Now()
	_, err = h.ReadFileTo(ctx, path, failingWriter{full})
	if !errors.Is(err, full) {
		t.Errorf("failing writer: want its error, got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a failing writer took %s to end the read", d)
	}
}

// failingWriter fails every write with its error.
type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

// ReadFiles reads several files in one command, exactly (no trailing
// newline added, binary content, an empty file, content that looks like a
// frame), leaves missing ones out and refuses a link as ReadFile does.
func TestReadFiles(t *testing.T) {
	_, c := setup(t, sshtest.Options{})
	h := dial(t, c)
	ctx := context.Background()
	dir := t.TempDir()
	bin := make([]byte, 70000)
	_, _ = rand.Read(bin)
	want := map[string][]byte{
		filepath.Join(dir, "a.conf"): []byte("port 7000\n"),
		filepath.Join(dir, "b.conf"): []byte("no newline at the end"),
		filepath.Join(dir, "empty"):  {},
		filepath.Join(dir, "bin"):    bin,
		filepath.Join(dir, "framed"): []byte("\n0123 end\nx 1\n"),
	}
	paths := []string{filepath.Join(dir, "missing")}
	for p, data := range want {
		writeFile(t, p, string(data))
		paths = append(paths, p)
	}
	got, err := h.ReadFiles(ctx, paths)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("got %d files, want %d", len(got), len(want))
	}
	for p, data := range want {
		if !bytes.Equal(got[p], data) {
			t.Errorf("%s: got %q, want %q", p, got[p], data)
		}
	}

	link := filepath.Join(dir, "link")
	if err := os.Symlink(filepath.Join(dir, "a.conf"), link); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ReadFiles(ctx, []string{filepath.Join(dir, "a.conf"), link}); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("a link: want a refusal, got %v", err)
	}
}
