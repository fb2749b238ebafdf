package securitytest

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// Attacks on who the caller is: no credentials, bad ones, a wrong
// password, a forged login cookie.

func TestRequestsWithoutCredentialsAre401AuthFailed(t *testing.T) {
	t.Parallel()
	attackTurn(t)
	f := setUp(t)
	l := startLegit(t, f.node, "no credentials")
	attempts := []struct{ method, target, body string }{
		{"GET", "/v1/nodes/alice", ""},
		{"GET", "/v1/nodes/open", ""},
		{"PUT", "/v1/nodes/open", "anon"},
		{"POST", "/v1/nodes/open/anon", ""},
		{"DELETE", "/v1/nodes/open", ""},
		{"DELETE", "/v1/nodes/alice?recursive", ""},
		{"GET", "/v1/stat/alice", ""},
		{"GET", "/v1/children/", ""},
		{"GET", "/v1/tree/", ""},
		{"POST", "/v1/multi", `{"ops":[{"op":"delete","path":"/open"}]}`},
		{"GET", "/v1/acl/open", ""},
		{"PUT", "/v1/acl/open", `{"acl":[{"scheme":"world","id":"anyone","perms":"cdrwa"}]}`},
		{"POST", "/v1/sessions", `{"timeout_ms":10000}`},
		{"GET", "/v1/sessions", ""},
		{"POST", "/v1/sessions/" + f.session + "/keepalive", ""},
		{"DELETE", "/v1/sessions/" + f.session, ""},
		{"GET", "/v1/whoami", ""},
		{"GET", "/v1/snapshot", ""},
		{"POST", "/v1/snapshot", "not a backup"},
		{"POST", "/v1/cluster/members", `{"id":"evil","raft":"127.0.0.1:1","http":"127.0.0.1:2","voter":true}`},
		{"DELETE", "/v1/cluster/members/n1", ""},
		{"GET", "/v1/events?path=/", ""},
	}
	for _, a := range attempts {
		r := f.call(t, anonymous, a.method, a.target, []byte(a.body))
		refused(t, "anonymous "+a.method+" "+a.target, r, http.StatusUnauthorized, api.CodeAuthFailed)
		challenged(t, "anonymous "+a.method+" "+a.target, r)
	}
	// The endpoints a load balancer and a browser need stay open.
	for _, target := range []string{"/healthz", "/readyz", "/openapi.yaml"} {
		if r := f.call(t, anonymous, "GET", target, nil); r.status != http.StatusOK {
			t.Errorf("anonymous GET %s: got %v, want 200 (exempt from --auth-required)", target, r)
		}
	}
	l.finish(t, 0)
	f.unchanged(t)
	f.sessionAlive(t)
	if lines := f.audited(t); !auditHas(lines, map[string]string{"operation": "auth", "result": "AuthFailed", "client": "127.0.0.1"}) {
		t.Errorf("audit log: no refused authentication from 127.0.0.1 among %d lines", len(lines))
	}
}

func TestMalformedCredentialsAre401AuthFailed(t *testing.T) {
	t.Parallel()
	attackTurn(t)
	f := setUp(t)
	l := startLegit(t, f.node, "malformed credentials")
	b64 := base64.StdEncoding.EncodeToString
	for _, h := range []string{
		"Basic",
		"Basic !!!not-base64!!!",
		"Basic " + b64([]byte("no-colon")),
		// (":password", an empty user name, is a user, as in ZooKeeper.)
		"Bearer eyJhbGciOiJub25lIn0.e30.",
		"Digest username=\"alice\"",
	} {
		r := f.call(t, anonymous, "PUT", "/v1/nodes/open", []byte("x"), "Authorization: "+h)
		refused(t, "Authorization: "+short(h), r, http.StatusUnauthorized, api.CodeAuthFailed)
		challenged(t, "Authorization: "+short(h), r)
	}
	l.finish(t, 0)
	f.unchanged(t)
}

func TestWrongPasswordIs403NoAuthOnACreatorAllNode(t *testing.T) {
	t.Parallel()
	attackTurn(t)
	f := setUp(t)
	l := startLegit(t, f.node, "wrong password")
	// No user store: alice with a wrong password is just another identity.
	mallory := user{"alice", wrongPassword}
	for _, a := range []struct{ method, target, body string }{
		{"GET", "/v1/nodes/alice", ""},
		{"PUT", "/v1/nodes/alice", "owned"},
		{"DELETE", "/v1/nodes/alice/eph", ""},
		{"POST", "/v1/nodes/alice/child", ""},
		{"GET", "/v1/children/alice", ""},
		{"PUT", "/v1/acl/alice", `{"acl":[{"scheme":"world","id":"anyone","perms":"cdrwa"}]}`},
		{"POST", "/v1/multi", `{"ops":[{"op":"set","path":"/alice","data":"owned"}]}`},
	} {
		r := f.call(t, mallory, a.method, a.target, []byte(a.body))
		refused(t, "wrong password: "+a.method+" "+a.target, r, http.StatusForbidden, api.CodeNoAuth)
	}
	l.finish(t, 0)
	f.unchanged(t)
	f.sessionAlive(t)
	// Each refused write is audited under the identity the wrong password
	// made, never with the password.
	lines := f.audited(t)
	for _, path := range []string{"/alice", "/alice/eph", "/alice/child"} {
		if !auditHas(lines, map[string]string{"path": path, "result": "NoAuth", "identity": "digest:" + mallory.digest()}) {
			t.Errorf("audit log: no NoAuth write of %s by %s among %d lines", path, mallory.digest(), len(lines))
		}
	}
}

func TestForgedLoginCookieIsRefused(t *testing.T) {
	t.Parallel()
	attackTurn(t)
	f := setUp(t)
	l := startLegit(t, f.node, "forged cookie")
	login := f.must(t, http.StatusOK, alice, "POST", "/v1/login", nil)
	var token, name string
	for _, c := range (&http.Response{Header: login.header}).Cookies() {
		if strings.HasPrefix(c.Name, "canopy_auth") { // named per host:port
			token, name = c.Value, c.Name
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
				t.Errorf("login cookie %v: want HttpOnly and SameSite=Strict", c)
			}
		}
	}
	if token == "" {
		t.Fatalf("POST /v1/login: no canopy_auth cookie in %v", login.header)
	}
	// The cookie works as alice; changed in any way it must not.
	f.must(t, http.StatusOK, anonymous, "GET", "/v1/nodes/alice", nil, "Cookie: "+name+"="+token)
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for _, forged := range []string{
		"",
		"alice",
		flip(token, 0),
		flip(token, len(token)/2),
		flip(token, len(token)-1),
		token[:len(token)-1],
		token + "A",
		base64.RawURLEncoding.EncodeToString([]byte(`{"user":"alice","digest":"` + alice.digest() + `"}`)),
	} {
		r := f.call(t, anonymous, "PUT", "/v1/nodes/alice", []byte("forged"), "Cookie: "+name+"="+forged)
		refused(t, "forged cookie "+short(forged), r, http.StatusUnauthorized, api.CodeAuthFailed)
	}
	l.finish(t, 0)
	f.unchanged(t)
}

// The node-to-node calls carry commands whose identities the calling node
// stamped: whoever may make them may be anyone. The contract exempts
// only /healthz, /readyz, /ui/*, /openapi.yaml and / (and /metrics) from
// --auth-required; these calls come from this test's address, which is
// also the node's own.
func TestInternalCallsWithoutCredentialsAre401AndForgeNothing(t *testing.T) {
	t.Parallel()
	attackTurn(t)
	f := setUp(t)
	l := startLegit(t, f.node, "internal calls")
	forged := fsm.Command{Op: fsm.OpSetData, Path: "/admin/config", Data: []byte("pwned"), Version: -1,
		Identity: []string{"ip:127.0.0.1", "digest:" + alice.digest()}}
	forgedAt := "" // the zxid of the forged write, if it went through
	for _, a := range []struct {
		what, method, target string
		body                 []byte
	}{
		{"a setData stamped as alice", "POST", "/v1/internal/propose", forged.Encode(nil)},
		{"a keep-alive of alice's session", "POST", "/v1/internal/keepalive", []byte(`{"ids":["` + f.session + `"]}`)},
		{"a read index", "POST", "/v1/internal/readindex", nil},
		{"the forwarding stream", "GET", "/v1/internal/stream", nil},
	} {
		r := f.call(t, anonymous, a.method, a.target, a.body)
		refused(t, "anonymous "+a.what, r, http.StatusUnauthorized, api.CodeAuthFailed)
		if zxid := r.header.Get(api.HeaderZxid); r.status == http.StatusOK && a.target == "/v1/internal/propose" {
			forgedAt = zxid
		}
	}
	l.finish(t, 0)
	f.unchanged(t)
	// A write that went through must at least be on the record.
	if lines := f.audited(t); forgedAt != "" && !auditHas(lines, map[string]string{"zxid": forgedAt, "path": "/admin/config"}) {
		t.Errorf("audit log: the forged setData of /admin/config (zxid %s) is not among its %d lines", forgedAt, len(lines))
	}
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// challenged checks a 401 asks for Basic credentials in realm "canopy"
// (RFC 7617 allows a charset parameter after it).
func challenged(t *testing.T, what string, r reply) {
	t.Helper()
	if got := r.header.Get("WWW-Authenticate"); r.status == http.StatusUnauthorized && !strings.HasPrefix(got, `Basic realm="canopy"`) {
		t.Errorf("%s: WWW-Authenticate %q, want Basic realm=\"canopy\"", what, got)
	}
}
