// Package console holds the admin console's files: public/ (the page, its
// style sheet and, once `make console` has compiled src/, its JavaScript in
// public/js). The crier binary embeds them and internal/console serves them
// at /admin, so the console needs no CDN, no other server and no network.
package console

import (
	"embed"
	"io/fs"
)

//go:embed all:public
var files embed.FS

// Files is the console's public folder: index.html at its root.
func Files() fs.FS {
	sub, err := fs.Sub(files, "public")
	if err != nil {
		panic(err) // public is embedded above; fs.Sub fails only on a bad name
	}
	return sub
}

// Built reports whether the JavaScript was compiled before the binary was
// built: without it the console can only say how to build it.
func Built() bool {
	_, err := fs.Stat(files, "public/js/main.js")
	return err == nil
}
