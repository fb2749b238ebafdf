// Package web holds the browser UI's static files, embedded into the binary:
// no build step and no CDN, so the UI works on a machine with no internet.
//
// The UI is plain HTML, CSS and JavaScript modules in static/, and talks
// only to the public API: REST under /v1 and one WebSocket to /v1/watch.
// A login is the server's HttpOnly cookie (POST /v1/login): the page never
// holds a password or a token.
//
//	index.html, style.css  the page; light and dark by prefers-color-scheme
//	app.js                 wiring, the URL hash (#/path), alerts, the tab's session, who you are and login
//	live.js                the WebSocket: persistent watches, resume with since_zxid
//	tree.js                the lazy tree: pages of 250 children, prefix filter, keyboard
//	node.js                data views, version-checked editing and conflicts, Stat; a note where READ is denied
//	acl.js                 the node's ACL panel, saved by aversion; the ACL row editor the create dialog shares
//	dialogs.js             create (with an ACL), recursive delete, import (via /v1/multi), export, login
//	panels.js              event log of the selected subtree, sessions, cluster
//	api.js, util.js        REST calls with errors in words, formatting helpers
//
// ui_test.go drives it in Chromium against real nodes.
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
