package securitytest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/canopy-coord/canopy/api"
)

// Attacks on what belongs to someone else: another user's session, her
// ephemeral node, a subtree only she may write.

func TestAnotherUsersSessionIs403NoAuthAndStaysAlive(t *testing.T) {
	t.Parallel()
	attackTurn(t)
	f := setUp(t)
	l := startLegit(t, f.node, "foreign session")
	hdr := "Canopy-Session: " + f.session
	for _, a := range []struct {
		what, method, target string
		hdr                  []string
	}{
		{"keep-alive", "POST", "/v1/sessions/" + f.session + "/keepalive", nil},
		{"close", "DELETE", "/v1/sessions/" + f.session, nil},
		// /open lets anyone create: only the session's owner decides.
		{"ephemeral create", "POST", "/v1/nodes/open/bob-eph?ephemeral", []string{hdr}},
		// Any request that names a session keeps it alive (DESIGN §4).
		{"request within it", "GET", "/v1/nodes/open", []string{hdr}},
	} {
		r := f.call(t, bob, a.method, a.target, nil, a.hdr...)
		refused(t, "bob's "+a.what+" of alice's session", r, http.StatusForbidden, api.CodeNoAuth)
	}
	c, r := f.ws(t, bob)
	if c == nil {
		t.Fatalf("bob's WebSocket: %v", r)
	}
	frameRefused(t, "bob attaching alice's session", frame(t, c, map[string]any{"op": "attach", "session": f.session}), api.CodeNoAuth)
	frameRefused(t, "bob creating an ephemeral on the refused socket", frame(t, c, map[string]any{"op": "create", "path": "/open/bob-ws-eph", "ephemeral": true}), api.CodeBadArguments)
	l.finish(t, 0)
	f.unchanged(t)
	f.sessionAlive(t)
}

func TestAnotherUsersEphemeralCannotBeDeleted(t *testing.T) {
	t.Parallel()
	attackTurn(t)
	f := setUp(t)
	l := startLegit(t, f.node, "delete foreign ephemeral")
	bobSession := f.node.session(t, bob)
	for _, a := range []struct{ what, method, target, body string }{
		{"delete", "DELETE", "/v1/nodes/alice/eph", ""},
		{"delete at its version", "DELETE", "/v1/nodes/alice/eph?version=0", ""},
		{"recursive delete of the parent", "DELETE", "/v1/nodes/alice?recursive", ""},
		{"multi delete", "POST", "/v1/multi", `{"ops":[{"op":"delete","path":"/alice/eph"}]}`},
		{"multi check then delete", "POST", "/v1/multi", `{"ops":[{"op":"check","path":"/alice/eph","version":0},{"op":"delete","path":"/alice/eph"}]}`},
	} {
		r := f.call(t, bob, a.method, a.target, []byte(a.body), "Canopy-Session: "+bobSession)
		refused(t, "bob's "+a.what+" of alice's ephemeral", r, http.StatusForbidden, api.CodeNoAuth)
	}
	c, r := f.ws(t, bob)
	if c == nil {
		t.Fatalf("bob's WebSocket: %v", r)
	}
	frameRefused(t, "bob's delete frame", frame(t, c, map[string]any{"op": "delete", "path": "/alice/eph"}), api.CodeNoAuth)
	l.finish(t, 0)
	f.unchanged(t)
	f.sessionAlive(t)
}

func TestWriteIntoAnAdminOnlySubtreeIs403NoAuth(t *testing.T) {
	t.Parallel()
	attackTurn(t)
	f := setUp(t)
	l := startLegit(t, f.node, "admin-only subtree")
	acl := func(s string) string {
		return `{"acl":[{"scheme":"digest","id":"` + s + `","perms":"cdrwa"}]}`
	}
	for _, a := range []struct{ what, method, target, body string }{
		{"create", "POST", "/v1/nodes/admin/x", ""},
		{"create with parents", "POST", "/v1/nodes/admin/x/y?parents", ""},
		{"sequential create", "POST", "/v1/nodes/admin/x-?sequential", ""},
		{"set", "PUT", "/v1/nodes/admin/config", "pwned"},
		{"set any version", "PUT", "/v1/nodes/admin/config?version=-1", "pwned"},
		{"delete", "DELETE", "/v1/nodes/admin/config", ""},
		{"recursive delete", "DELETE", "/v1/nodes/admin?recursive", ""},
		{"take the ACL", "PUT", "/v1/acl/admin", acl(bob.digest())},
		{"take the child's ACL", "PUT", "/v1/acl/admin/config?aversion=0", acl(bob.digest())},
		{"multi behind an allowed op", "POST", "/v1/multi", `{"ops":[{"op":"create","path":"/open/ok"},{"op":"set","path":"/admin/config","data":"pwned"}]}`},
		{"multi create with an open ACL", "POST", "/v1/multi", `{"ops":[{"op":"create","path":"/admin/x","acl":[{"scheme":"world","id":"anyone","perms":"cdrwa"}]}]}`},
	} {
		r := f.call(t, bob, a.method, a.target, []byte(a.body))
		refused(t, "bob's "+a.what, r, http.StatusForbidden, api.CodeNoAuth)
	}
	c, r := f.ws(t, bob)
	if c == nil {
		t.Fatalf("bob's WebSocket: %v", r)
	}
	frameRefused(t, "bob's setData frame", frame(t, c, map[string]any{"op": "setData", "path": "/admin/config", "data": "pwned"}), api.CodeNoAuth)
	frameRefused(t, "bob's setACL frame", frame(t, c, map[string]any{"op": "setACL", "path": "/admin", "acl": []api.ACL{{Scheme: "world", ID: "anyone", Perms: api.PermAll}}, "aversion": 0}), api.CodeNoAuth)
	// Bob may read (world:anyone:r), but the ACL he reads hides alice's
	// digest: he has no ADMIN.
	got := f.must(t, http.StatusOK, bob, "GET", "/v1/acl/admin", nil)
	if _, hash, _ := strings.Cut(alice.digest(), ":"); strings.Contains(string(got.body), hash) {
		t.Errorf("GET /v1/acl/admin as bob shows alice's digest: %s", got.body)
	}
	l.finish(t, 0)
	f.unchanged(t)
}
