// Package templates holds the config files and service definitions redisctl
// writes to hosts. They are rendered by provision/render from one typed
// struct each and pinned by golden files under testdata/golden.
package templates

import "embed"

// FS holds every template file of this directory.
//
//go:embed *.tmpl
var FS embed.FS
