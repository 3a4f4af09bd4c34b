package sshhost

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"path/filepath"
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
