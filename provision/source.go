package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Source is a verified Redis source tarball on the control machine.
type Source struct {
	Path   string // local file
	SHA256 string
	Size   int64
}

func isURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https")
}

// FetchSource returns the verified tarball for src: a local path is hashed
// (and checked when want is given); a URL is downloaded once into cacheDir,
// named by its checksum, and checked before it is used. Nothing touches a
// host before this succeeds.
//
// A download has no overall time limit, since a big tarball on a slow link
// may take long, but it gives up when connecting, or waiting for the
// response headers, takes more than 30 s, or when no byte arrives for 60 s.
func FetchSource(ctx context.Context, src, want, cacheDir string, p *Progress) (*Source, error) {
	return fetchSource(ctx, src, want, cacheDir, p, defaultDownloadTimeouts)
}

// downloadTimeouts bound each wait of a download, never its whole length.
type downloadTimeouts struct {
	Connect time.Duration // TCP connect, and the TLS handshake
	Headers time.Duration // request sent to response headers received
	Stall   time.Duration // no byte of the body for this long aborts
}

var defaultDownloadTimeouts = downloadTimeouts{Connect: 30 * time.Second, Headers: 30 * time.Second, Stall: 60 * time.Second}

// errStalled ends a download whose server stopped sending.
var errStalled = errors.New("stalled")

func fetchSource(ctx context.Context, src, want, cacheDir string, p *Progress, t downloadTimeouts) (*Source, error) {
	want = strings.ToLower(want)
	if !isURL(src) {
		sum, size, err := hashFile(src)
		if err != nil {
			return nil, fmt.Errorf("redis source %s: %w", src, err)
		}
		if want != "" && sum != want {
			return nil, &ChecksumError{Source: src, Want: want, Got: sum}
		}
		return &Source{Path: src, SHA256: sum, Size: size}, nil
	}
	if want == "" {
		return nil, fmt.Errorf("redis source %s: a URL source needs redis.sha256 in the inventory", src)
	}
	cached := filepath.Join(cacheDir, "sources", want+".tar.gz")
	if sum, size, err := hashFile(cached); err == nil && sum == want {
		return &Source{Path: cached, SHA256: sum, Size: size}, nil
	}
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(cached), ".download-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	// The stall watchdog cancels the request; its cause tells that apart
	// from the caller's own cancellation.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: t.Connect, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = t.Connect
	tr.ResponseHeaderTimeout = t.Headers
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
			return nil, fmt.Errorf("download %s: the server did not answer in time (%s to connect, %s for the headers): %w", src, t.Connect, t.Headers, err)
		}
		return nil, fmt.Errorf("download %s: %w", src, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download %s: %s", src, resp.Status)
	}
	h := sha256.New()
	watchdog := time.AfterFunc(t.Stall, func() { cancel(errStalled) })
	defer watchdog.Stop()
	pr := &progressReader{r: resp.Body, total: resp.ContentLength, p: p, name: src, last: time.Now(),
		got: func() { watchdog.Reset(t.Stall) }}
	size, err := io.Copy(io.MultiWriter(tmp, h), pr)
	if err != nil {
		if errors.Is(context.Cause(ctx), errStalled) {
			return nil, fmt.Errorf("download %s: no data for %s after %d bytes; the server stalled, try again", src, t.Stall, size)
		}
		return nil, fmt.Errorf("download %s: %w", src, err)
	}
	watchdog.Stop()
	sum := hex.EncodeToString(h.Sum(nil))
	if sum != want {
		return nil, &ChecksumError{Source: src, Want: want, Got: sum}
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), cached); err != nil {
		return nil, err
	}
	p.Printf("", "downloaded %s (%d bytes), sha256 verified", src, size)
	return &Source{Path: cached, SHA256: sum, Size: size}, nil
}

// ChecksumError is a source whose sha256 is not the inventory's.
type ChecksumError struct{ Source, Want, Got string }

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("redis source %s: sha256 is %s but the inventory expects %s; refusing to use it (no host was changed)", e.Source, e.Got, e.Want)
}

func hashFile(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

type progressReader struct {
	r     io.Reader
	total int64
	done  int64
	p     *Progress
	name  string
	last  time.Time
	got   func() // called when bytes arrived
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.done += int64(n)
	if n > 0 && pr.got != nil {
		pr.got()
	}
	if time.Since(pr.last) > 2*time.Second {
		pr.last = time.Now()
		if pr.total > 0 {
			pr.p.Printf("", "downloading %s: %d%%", pr.name, pr.done*100/pr.total)
		} else {
			pr.p.Printf("", "downloading %s: %d bytes", pr.name, pr.done)
		}
	}
	return n, err
}
