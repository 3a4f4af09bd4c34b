//go:build unix

package tlsca

import (
	"io/fs"
	"os"
	"syscall"
)

// fileOwner returns the uid owning fi; ok is false where the platform does
// not say.
func fileOwner(fi fs.FileInfo) (uid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// openNoFollow opens name for reading and fails on a link, so the file
// checked after opening is the one read.
func openNoFollow(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}
