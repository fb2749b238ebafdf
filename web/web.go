// Package web holds the browser UI's static files, embedded into the binary:
// no build step and no CDN, so the UI works on a machine with no internet.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Files is the UI's file tree, served at /ui/.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree always has static/
	}
	return sub
}
