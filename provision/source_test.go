package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fetchWithin runs fetchSource and fails the test when it has not
// returned after limit: a download with no timeouts would hang forever.
func fetchWithin(t *testing.T, limit time.Duration, url, want string, to downloadTimeouts) (*Source, error) {
	t.Helper()
	type result struct {
		s   *Source
		err error
	}
	done := make(chan result, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		s, err := fetchSource(ctx, url, want, t.TempDir(), testProgress(t), to)
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		return r.s, r.err
	case <-time.After(limit):
		cancel()
		<-done
		t.Fatalf("the download of %s still runs after %s", url, limit)
		return nil, nil
	}
}

// hang blocks a handler until the client goes away.
func hang(r *http.Request) { <-r.Context().Done() }

func TestFetchSourceStalled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		w.Write(make([]byte, 1000))
		w.(http.Flusher).Flush()
		hang(r)
	}))
	defer srv.Close()
	start := time.Now()
	_, err := fetchWithin(t, 5*time.Second, srv.URL+"/redis.tar.gz", strings.Repeat("0", 64),
		downloadTimeouts{Connect: time.Second, Headers: time.Second, Stall: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "no data for 300ms after 1000 bytes") {
		t.Fatalf("err = %v, want a stall after 1000 bytes", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("gave up after %s, want about 300ms", d)
	}
}

func TestFetchSourceNoHeaders(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hang(r) }))
	defer srv.Close()
	_, err := fetchWithin(t, 5*time.Second, srv.URL+"/redis.tar.gz", strings.Repeat("0", 64),
		downloadTimeouts{Connect: time.Second, Headers: 300 * time.Millisecond, Stall: time.Second})
	if err == nil || !strings.Contains(err.Error(), "did not answer in time") {
		t.Fatalf("err = %v, want a timeout waiting for the headers", err)
	}
}

// A slow download that keeps sending takes as long as it takes: many
// times the stall timeout in all.
func TestFetchSourceSlowButSteady(t *testing.T) {
	const chunks, chunk = 12, 1000
	body := make([]byte, chunks*chunk)
	for i := range body {
		body[i] = byte(i)
	}
	sum := sha256.Sum256(body)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		for i := 0; i < chunks; i++ {
			w.Write(body[i*chunk : (i+1)*chunk])
			w.(http.Flusher).Flush()
			time.Sleep(100 * time.Millisecond)
		}
	}))
	defer srv.Close()
	start := time.Now()
	src, err := fetchWithin(t, 10*time.Second, srv.URL+"/redis.tar.gz", hex.EncodeToString(sum[:]),
		downloadTimeouts{Connect: time.Second, Headers: 300 * time.Millisecond, Stall: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("took %s; the test meant to be slower than the stall timeout several times over", d)
	}
	got, err := os.ReadFile(src.Path)
	if err != nil || len(got) != len(body) {
		t.Fatalf("downloaded %d bytes (%v), want %d", len(got), err, len(body))
	}
}
