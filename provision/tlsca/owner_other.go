//go:build !unix

package tlsca

import (
	"io/fs"
	"os"
)

// fileOwner cannot tell a file's owner here; the mode and link checks still
// apply.
func fileOwner(fs.FileInfo) (uid int, ok bool) { return 0, false }

// openNoFollow opens name for reading; the Lstat before it refuses links.
func openNoFollow(name string) (*os.File, error) { return os.Open(name) }
