//go:build unix

package tlsca

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCAFileModesIgnoreUmask: the key is 0600 even under umask 0 (it is
// created 0600, never wider), and the certificate is 0644 even under a
// umask that would hide it from the redis user's tools.
func TestCAFileModesIgnoreUmask(t *testing.T) {
	for _, umask := range []int{0, 0o077} {
		old := syscall.Umask(umask)
		dir := filepath.Join(t.TempDir(), "ca")
		_, _, err := LoadOrCreateCA(dir, "prod")
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]os.FileMode{"prod.ca.crt": 0o644, "prod.ca.key": 0o600} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != want {
				t.Errorf("umask %04o: %s has mode %04o, want %04o", umask, name, fi.Mode().Perm(), want)
			}
		}
	}
}

// fileInfo is an fs.FileInfo with a chosen mode and owner, for the owner
// check without root.
type fileInfo struct {
	mode fs.FileMode
	uid  uint32
}

func (f fileInfo) Name() string       { return "prod.ca.key" }
func (f fileInfo) Size() int64        { return 0 }
func (f fileInfo) Mode() fs.FileMode  { return f.mode }
func (f fileInfo) ModTime() time.Time { return time.Time{} }
func (f fileInfo) IsDir() bool        { return f.mode.IsDir() }
func (f fileInfo) Sys() any           { return &syscall.Stat_t{Uid: f.uid} }

func TestCheckKeyFile(t *testing.T) {
	const me = 1000
	tests := []struct {
		name string
		fi   fileInfo
		want string // "" accepts
	}{
		{"mine, 0600", fileInfo{0o600, me}, ""},
		{"mine, 0400", fileInfo{0o400, me}, ""},
		{"another user's", fileInfo{0o600, 1001}, "owned by uid 1001, not by the current user (uid 1000)"},
		{"root's, run by a user", fileInfo{0o600, 0}, "owned by uid 0"},
		{"group readable", fileInfo{0o640, me}, "mode 0640"},
		{"world readable", fileInfo{0o644, me}, "mode 0644"},
		{"world writable", fileInfo{0o602, me}, "mode 0602"},
		{"link", fileInfo{fs.ModeSymlink | 0o777, me}, "symbolic link"},
		{"directory", fileInfo{fs.ModeDir | 0o700, me}, "not a regular file"},
		{"fifo", fileInfo{fs.ModeNamedPipe | 0o600, me}, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkKeyFile("/home/u/.config/redisctl/prod.ca.key", tt.fi, me)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "/home/u/.config/redisctl/prod.ca.key") {
				t.Fatalf("error %v; want one naming the file and saying %q", err, tt.want)
			}
		})
	}
}

// TestLoadOrCreateCARefusesKeyOfAnotherUser chowns a real key file, which
// needs root.
func TestLoadOrCreateCARefusesKeyOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root; TestCheckKeyFile covers the check")
	}
	dir := t.TempDir()
	if _, _, err := LoadOrCreateCA(dir, "prod"); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "prod.ca.key")
	must(t, os.Chown(keyFile, 65534, 65534))
	_, _, err := LoadOrCreateCA(dir, "prod")
	if err == nil || !strings.Contains(err.Error(), keyFile) || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Fatalf("error %v; want a refusal naming %s and its owner", err, keyFile)
	}
}
