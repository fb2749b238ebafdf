package web

// Browser tests of the UI's ACLs and login (issue 12, DESIGN §9): the ACL
// panel and its editor, checked through REST rather than through the UI;
// the conflict on a stale aversion; the create dialog's ACL; the login form
// on a server that requires one, with a wrong and a right password; whoami
// in the header; reads the ACL forbids shown as notes, not errors.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/canopy-coord/canopy/api"
)

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// acl reads path's ACL through REST (as hdr's caller).
func (n *node) acl(path string, hdr ...string) api.ACLResult {
	n.t.Helper()
	code, body := n.do("GET", "/v1/acl"+path, "", hdr...)
	if code != 200 {
		n.t.Fatalf("GET /v1/acl%s: %d %s", path, code, body)
	}
	var res api.ACLResult
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		n.t.Fatalf("GET /v1/acl%s: %v in %s", path, err, body)
	}
	return res
}

func aclStrings(acl []api.ACL) []string {
	out := make([]string, len(acl))
	for i, a := range acl {
		out[i] = a.String()
	}
	return out
}

// choose picks a value in a <select> as a person does: the page hears change.
func (tb *tab) choose(sel, value string) {
	tb.t.Helper()
	var ok bool
	tb.js(fmt.Sprintf(`(() => { const s = document.querySelector(%q); if (!s) return false; s.value = %q; s.dispatchEvent(new Event('change', { bubbles: true })); return s.value === %q; })()`, sel, value, value), &ok)
	if !ok {
		tb.t.Fatalf("could not choose %q in %s", value, sel)
	}
}

// checked sets a checkbox by clicking it when it is not as wanted.
func (tb *tab) checked(sel string, want bool) {
	tb.t.Helper()
	var is bool
	tb.js(fmt.Sprintf(`document.querySelector(%q).checked`, sel), &is)
	if is != want {
		tb.click(sel)
	}
}

// forgetLogins drops the browser's cookies now and when the test ends:
// one Chromium serves every test, and a cookie names a host, not a port,
// so a login would otherwise follow the browser to the next test's node.
func (tb *tab) forgetLogins() {
	tb.t.Helper()
	tb.run(network.ClearBrowserCookies())
	tb.t.Cleanup(func() { _ = chromedp.Run(tb.ctx, network.ClearBrowserCookies()) })
}

// noErrorToasts fails when the page shows error alerts.
func (tb *tab) noErrorToasts() {
	tb.t.Helper()
	if s := tb.text("#alerts"); strings.TrimSpace(s) != "" && strings.Contains(tb.html("#alerts"), "alert err") {
		tb.t.Errorf("error alerts shown: %q", s)
	}
}

func (tb *tab) html(sel string) string {
	tb.t.Helper()
	var s string
	tb.js(fmt.Sprintf(`(document.querySelector(%q) || {}).innerHTML || ""`, sel), &s)
	return s
}

const aclRow = `#node .acl .aclgrid tbody tr:nth-child(%d) `

func TestUIACLViewAndEditWithTheGrid(t *testing.T) {
	n := shared(t)
	n.must(201, "POST", "/v1/nodes/uiacl1", "guarded")
	tb := openTab(t, n, "#/uiacl1")

	// The default ACL of a server without --auth-required, with its aversion.
	tb.waitJS(`document.querySelector('#node .acl').dataset.state === 'ok' && !!document.querySelector('#node .acl tr[data-acl-entry="world:anyone:cdrwa"]')`, "the ACL world:anyone:cdrwa")
	if got := tb.text(`#node .acl [data-acl=aversion]`); got != "aversion 0" {
		t.Errorf("aversion shown %q, want aversion 0", got)
	}

	// Edit: take w from world:anyone, add digest:alice:<hash> with all perms.
	alice := api.Digest("alice", "secret")
	tb.click(`#node [data-act=acl-edit]`)
	tb.waitJS(`document.querySelectorAll('#node .acl .aclgrid tbody tr').length === 1`, "the ACL editor")
	tb.checked(fmt.Sprintf(aclRow, 1)+`input[data-perm=w]`, false)
	tb.click(`#node .acl [data-act=acl-add]`)
	tb.waitJS(`document.querySelectorAll('#node .acl .aclgrid tbody tr').length === 2`, "a second row")
	tb.choose(fmt.Sprintf(aclRow, 2)+`select`, "digest")
	// Typed as user:password, then hashed in the page, as zkCli's users
	// would otherwise have to with `canopy digest`.
	tb.run(chromedp.SendKeys(fmt.Sprintf(aclRow, 2)+`input[data-field=id]`, "alice:secret", chromedp.ByQuery))
	tb.click(fmt.Sprintf(aclRow, 2) + `[data-act=acl-hash]`)
	tb.waitJS(fmt.Sprintf(`document.querySelector(%q).value === %q`, fmt.Sprintf(aclRow, 2)+`input[data-field=id]`, alice), "the digest id computed from alice:secret")
	for _, p := range "cdrwa" {
		tb.checked(fmt.Sprintf(aclRow, 2)+fmt.Sprintf(`input[data-perm=%c]`, p), true)
	}
	if bad := tb.unnamed(); len(bad) > 0 {
		t.Errorf("controls of the ACL editor without an accessible name: %v", bad)
	}
	tb.shot("acl-edit")
	tb.click(`#node [data-act=acl-save]`)
	tb.waitJS(`document.querySelector('#node .acl').dataset.state === 'ok' && document.querySelectorAll('#node .acl .acltable tbody tr').length === 2`, "the saved ACL shown")

	// REST, not the UI, says what the node's ACL is now.
	res := n.acl("/uiacl1")
	if got, want := aclStrings(res.ACL), []string{"world:anyone:cdra", "digest:" + alice + ":cdrwa"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ACL after saving in the UI %v, want %v", got, want)
	}
	if res.Stat.Aversion != 1 {
		t.Errorf("aversion %d after one change, want 1", res.Stat.Aversion)
	}
	if got := tb.text(`#node .acl [data-acl=aversion]`); got != "aversion 1" {
		t.Errorf("aversion shown %q after saving, want aversion 1", got)
	}
	tb.waitJS(`[...document.querySelectorAll('table.stat tr')].some(r => r.textContent.startsWith('aversion1'))`, "the Stat's aversion to follow")
	// The data is untouched.
	if code, data := n.data("/uiacl1"); code != 200 || data != "guarded" {
		t.Errorf("data after the ACL change: %d %q", code, data)
	}
	tb.noErrorToasts()
}

func TestUIACLConflictOnStaleAversion(t *testing.T) {
	n := shared(t)
	n.must(201, "POST", "/v1/nodes/uiacl2", "")
	tb := openTab(t, n, "#/uiacl2")
	tb.waitJS(`!!document.querySelector('#node .acl tr[data-acl-entry="world:anyone:cdrwa"]')`, "the ACL of /uiacl2")
	tb.click(`#node [data-act=acl-edit]`)
	tb.waitJS(`document.querySelectorAll('#node .acl .aclgrid tbody tr').length === 1`, "the ACL editor")

	// Behind the UI's back.
	n.must(200, "PUT", "/v1/acl/uiacl2?aversion=0", `{"acl":[{"scheme":"world","id":"anyone","perms":"cdrwa"},{"scheme":"ip","id":"127.0.0.1","perms":"r"}]}`)

	tb.checked(fmt.Sprintf(aclRow, 1)+`input[data-perm=d]`, false)
	tb.click(`#node [data-act=acl-save]`)
	tb.waitJS(`document.querySelector('#node .acl').dataset.state === 'conflict'`, "the conflict")
	msg := tb.text(`#node .acl .aclmsg`)
	for _, want := range []string{"Changed elsewhere", "aversion 0", "now 1", "ip:127.0.0.1:r"} {
		if !strings.Contains(msg, want) {
			t.Errorf("conflict message %q lacks %q", msg, want)
		}
	}
	tb.shot("acl-conflict")
	// Nothing was overwritten.
	if got := aclStrings(n.acl("/uiacl2").ACL); !reflect.DeepEqual(got, []string{"world:anyone:cdrwa", "ip:127.0.0.1:r"}) {
		t.Errorf("ACL after the refused save %v", got)
	}
	// Reload shows theirs.
	tb.click(`#node [data-act=acl-reload]`)
	tb.waitJS(`document.querySelector('#node .acl').dataset.state === 'ok' && !!document.querySelector('#node .acl tr[data-acl-entry="ip:127.0.0.1:r"]')`, "their ACL after reloading")
	if got := tb.text(`#node .acl [data-acl=aversion]`); got != "aversion 1" {
		t.Errorf("aversion shown %q after reloading, want aversion 1", got)
	}

	// An invalid ACL is refused with the server's reason, in the panel.
	tb.click(`#node [data-act=acl-edit]`)
	tb.choose(fmt.Sprintf(aclRow, 2)+`select`, "ip")
	tb.run(chromedp.SetValue(fmt.Sprintf(aclRow, 2)+`input[data-field=id]`, "not-an-address", chromedp.ByQuery))
	tb.click(`#node [data-act=acl-save]`)
	tb.waitJS(`document.querySelector('#node .acl').dataset.error === 'InvalidACL' && document.querySelector('#node .acl .aclmsg').textContent.includes('invalid')`, "the InvalidACL message")
	if res := n.acl("/uiacl2"); res.Stat.Aversion != 1 {
		t.Errorf("aversion %d after an invalid ACL, want 1", res.Stat.Aversion)
	}
	tb.noErrorToasts()
}

func TestUIACLCreateDialogSendsTheACL(t *testing.T) {
	n := shared(t)
	n.must(201, "POST", "/v1/nodes/uiacl3", "")
	tb := openTab(t, n, "#/uiacl3")
	tb.waitJS(`document.querySelector('#node-title').textContent === '/uiacl3' && !document.querySelector('[data-act=create]').disabled`, "/uiacl3 opened")

	// The server's default.
	tb.click(`[data-act=create]`)
	tb.run(chromedp.SendKeys(`dialog input[name=name]`, "plain", chromedp.ByQuery))
	tb.click(`dialog button[type=submit]`)
	tb.waitJS(`location.hash === '#/uiacl3/plain'`, "the plain node to open")
	if got := aclStrings(n.acl("/uiacl3/plain").ACL); !reflect.DeepEqual(got, []string{"world:anyone:cdrwa"}) {
		t.Errorf("default ACL %v", got)
	}

	// An ACL of its own: world may read, 127.0.0.1 may do anything.
	tb.load("#/uiacl3")
	tb.waitJS(`document.querySelector('#node-title').textContent === '/uiacl3' && !document.querySelector('[data-act=create]').disabled`, "/uiacl3 again")
	tb.click(`[data-act=create]`)
	tb.run(chromedp.SendKeys(`dialog input[name=name]`, "guarded", chromedp.ByQuery))
	tb.click(`dialog input[name=aclmode][value=custom]`)
	row := `dialog .aclgrid tbody tr:nth-child(%d) `
	for _, p := range "cdwa" {
		tb.checked(fmt.Sprintf(row, 1)+fmt.Sprintf(`input[data-perm=%c]`, p), false)
	}
	tb.click(`dialog [data-act=acl-add]`)
	tb.choose(fmt.Sprintf(row, 2)+`select`, "ip")
	tb.run(chromedp.SetValue(fmt.Sprintf(row, 2)+`input[data-field=id]`, "127.0.0.1", chromedp.ByQuery))
	for _, p := range "cdrwa" {
		tb.checked(fmt.Sprintf(row, 2)+fmt.Sprintf(`input[data-perm=%c]`, p), true)
	}
	if bad := tb.unnamed(); len(bad) > 0 {
		t.Errorf("controls of the create dialog without an accessible name: %v", bad)
	}
	tb.shot("create-with-acl")
	tb.click(`dialog button[type=submit]`)
	tb.waitJS(`location.hash === '#/uiacl3/guarded'`, "the guarded node to open")
	if got := aclStrings(n.acl("/uiacl3/guarded").ACL); !reflect.DeepEqual(got, []string{"world:anyone:r", "ip:127.0.0.1:cdrwa"}) {
		t.Errorf("ACL of the node created with one %v", got)
	}
	tb.waitJS(`!!document.querySelector('#node .acl tr[data-acl-entry="ip:127.0.0.1:cdrwa"]')`, "its ACL in the panel")
}

// TestUIACLNoPermissionIsANoteNotAnError: a node only alice may use, seen
// by an anonymous page: its data, children and ACL say there is no
// permission, and no error alert shows.
func TestUIACLNoPermissionIsANoteNotAnError(t *testing.T) {
	n := startNode(t)
	alice := api.Digest("alice", "secret")
	n.must(201, "POST", "/v1/nodes/closed", "")
	for _, c := range []string{"a", "b"} {
		n.must(201, "POST", "/v1/nodes/closed/"+c, "")
	}
	n.must(200, "PUT", "/v1/acl/closed?aversion=0", fmt.Sprintf(`{"acl":[{"scheme":"digest","id":%q,"perms":"cdrwa"}]}`, alice))
	if code, _ := n.do("GET", "/v1/nodes/closed", ""); code != 403 {
		t.Fatalf("anonymous GET /v1/nodes/closed: %d, want 403", code)
	}

	tb := openTab(t, n, "#/closed")
	tb.waitJS(`!document.querySelector('#node p.denied').hidden`, "the no-permission note in place of the data")
	if got := tb.text(`#node p.denied`); !strings.Contains(got, "No permission to read the data of /closed") {
		t.Errorf("data note %q", got)
	}
	tb.waitJS(`document.querySelector('#node .acl').dataset.state === 'NoAuth'`, "the ACL panel's no-permission note")
	if got := tb.text(`#node .acl .aclmsg`); !strings.Contains(strings.ToLower(got), "no permission to read this acl") {
		t.Errorf("ACL note %q", got)
	}
	// The tree does not list what the node view knows it may not read (each
	// refusal counts toward the server's limit of NoAuth answers to a
	// client); expanded by hand, it says why it shows no children.
	var expanded string
	tb.js(`document.querySelector('li[data-path="/closed"]').getAttribute('aria-expanded')`, &expanded)
	if expanded != "false" {
		t.Errorf("/closed expanded by itself (aria-expanded %q)", expanded)
	}
	tb.click(row("/closed") + " > .row .tw")
	tb.waitJS(`!!document.querySelector('li[data-path="/closed"] .note.denied')`, "the tree's no-permission note for the children")
	// The Stat needs no permission, as in ZooKeeper.
	if st := tb.text("table.stat"); !strings.Contains(st, "numChildren2") {
		t.Errorf("stat of /closed: %q", st)
	}
	tb.shot("no-permission")
	tb.noErrorToasts()
}

// TestUIACLLoginRequired: on a server started with --auth-required the
// page asks for a login first. A wrong password is not refused (it is
// another identity), and alice's creator-all node is then closed to the
// page; logging out and in with the right one opens it, and the live
// socket is authenticated by the same cookie.
func TestUIACLLoginRequired(t *testing.T) {
	n := startNode(t, "--auth-required")
	if code, body := n.do("GET", "/v1/nodes/", ""); code != 401 {
		t.Fatalf("anonymous GET on an --auth-required server: %d %s, want 401", code, body)
	}
	alice := basic("alice", "secret")
	if code, body := n.do("POST", "/v1/nodes/private", "alice's", "Authorization", alice); code != 201 {
		t.Fatalf("alice creates /private: %d %s", code, body)
	}
	if got := aclStrings(n.acl("/private", "Authorization", alice).ACL); !reflect.DeepEqual(got, []string{"digest:" + api.Digest("alice", "secret") + ":cdrwa"}) {
		t.Fatalf("creator-all ACL of /private: %v", got)
	}

	tb := openTabLoading(t, n, "#/private")
	tb.forgetLogins()
	tb.waitJS(`!!document.querySelector('dialog.logindlg[open]')`, "the login form")
	if got := tb.text("#who-name"); got != "not logged in" {
		t.Errorf("header before the login: %q", got)
	}
	tb.shot("login")
	if bad := tb.unnamed(); len(bad) > 0 {
		t.Errorf("controls of the login form without an accessible name: %v", bad)
	}

	// A wrong password: logged in, as an identity /private does not name.
	login := func(user, password string) {
		t.Helper()
		tb.run(chromedp.SendKeys(`dialog.logindlg input[name=user]`, user, chromedp.ByQuery),
			chromedp.SendKeys(`dialog.logindlg input[name=password]`, password, chromedp.ByQuery))
		tb.click(`dialog.logindlg [data-act=login]`)
		tb.waitJS(`!document.querySelector('dialog.logindlg') && document.querySelector('#conn').dataset.state === 'online'`, "the page to be live after the login")
	}
	login("alice", "wrong")
	if got := tb.text("#who-name"); got != "alice" {
		t.Errorf("header after logging in: %q", got)
	}
	tb.waitJS(`!document.querySelector('#node p.denied').hidden`, "/private to be closed to alice with a wrong password")
	tb.waitJS(`document.querySelector('#node .acl').dataset.state === 'NoAuth'`, "its ACL to be closed too")
	tb.noErrorToasts()

	// Log out: anonymous again, so the server asks for a login.
	tb.click("#logout")
	tb.waitJS(`!!document.querySelector('dialog.logindlg[open]') && document.querySelector('#who-name').textContent === 'not logged in'`, "the login form after logging out")
	login("alice", "secret")
	tb.waitJS(`document.querySelector('#editor').value === "alice's"`, "alice's data")
	tb.waitJS(`!!document.querySelector('#node .acl tr[data-acl-entry^="digest:alice:"]')`, "the ACL of /private, digest unmasked")
	if got := tb.text("#who-name"); got != "alice" {
		t.Errorf("header: %q", got)
	}
	// The socket is alice's too: her change arrives live.
	if code, body := n.do("PUT", "/v1/nodes/private", "changed", "Authorization", alice); code != 200 {
		t.Fatalf("alice sets /private: %d %s", code, body)
	}
	tb.waitJS(`document.querySelector('#editor').value === 'changed'`, "the live change")

	// The cookie is HttpOnly, and the password is kept nowhere in the page.
	var leak string
	tb.js(`document.cookie + JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.body.innerHTML`, &leak)
	if strings.Contains(leak, "secret") || strings.Contains(leak, "canopy_auth") {
		t.Errorf("the page holds the password or the cookie: %s", leak)
	}
	tb.noErrorToasts()

	// A restarted node signs cookies with a new key: the page asks again
	// (its form, not the browser's prompt), and then works as before.
	n.stop()
	n.start()
	tb.waitJS(`!!document.querySelector('dialog.logindlg[open]')`, "the login form after the node restarted")
	login("alice", "secret")
	tb.waitJS(`document.querySelector('#editor').value === 'changed'`, "alice's data after logging in again")
}

// TestUIACLWhoAmIAndOptionalLogin: without --auth-required the page works
// anonymously and says so; "Log in" switches to a user, super is marked,
// and "Log out" returns to anonymous.
func TestUIACLWhoAmIAndOptionalLogin(t *testing.T) {
	n := startNode(t, "--super-digest", api.Digest("super", "sup3r"))
	tb := openTab(t, n, "")
	tb.forgetLogins()
	tb.load("")
	tb.waitJS(`document.querySelector('#who-name').textContent === 'anonymous (127.0.0.1)'`, "anonymous (127.0.0.1) in the header")
	var hidden bool
	tb.js(`document.querySelector('#logout').hidden`, &hidden)
	if !hidden {
		t.Error("a Log out button for an anonymous page")
	}

	for _, u := range []struct {
		user, password string
		super          bool
	}{{"bob", "pw", false}, {"super", "sup3r", true}} {
		tb.click("#login")
		tb.waitJS(`!!document.querySelector('dialog.logindlg[open]')`, "the login form")
		tb.run(chromedp.SendKeys(`dialog.logindlg input[name=user]`, u.user, chromedp.ByQuery),
			chromedp.SendKeys(`dialog.logindlg input[name=password]`, u.password, chromedp.ByQuery))
		tb.click(`dialog.logindlg [data-act=login]`)
		tb.waitJS(fmt.Sprintf(`document.querySelector('#who-name').textContent === %q && document.querySelector('#conn').dataset.state === 'online'`, u.user), u.user+" in the header")
		var super bool
		tb.js(`!document.querySelector('#who-super').hidden`, &super)
		if super != u.super {
			t.Errorf("%s: super marked %v, want %v", u.user, super, u.super)
		}
		if u.super {
			tb.shot("whoami-super")
		}
	}
	tb.click("#logout")
	tb.waitJS(`document.querySelector('#who-name').textContent === 'anonymous (127.0.0.1)' && document.querySelector('#logout').hidden`, "anonymous again after logging out")
	tb.noErrorToasts()
}
