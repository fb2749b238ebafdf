package securitytest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/canopy-coord/canopy/api"
)

// Attacks through the request itself: paths that try to climb out of
// where the caller may write, bodies too large or too deep to parse.

func TestPathTraversalFormsAre400BadArguments(t *testing.T) {
	t.Parallel()
	attackTurn(t)
	f := setUp(t)
	l := startLegit(t, f.node, "path traversal")
	// Bob may write /open and only read /admin and nothing of /alice:
	// each target tries to reach one of them from /open. They go out on
	// a raw connection, exactly as written.
	for _, a := range []struct{ method, target, body string }{
		{"PUT", "/v1/nodes/open/../admin/config", "pwned"},
		{"PUT", "/v1/nodes/open/%2e%2e/admin/config", "pwned"},
		{"PUT", "/v1/nodes/open/%2E%2E/admin/config", "pwned"},
		{"PUT", "/v1/nodes/open%2F..%2Fadmin%2Fconfig", "pwned"},
		{"PUT", "/v1/nodes/open/%2e%2e%2fadmin%2fconfig", "pwned"},
		{"DELETE", "/v1/nodes/open/../admin/config", ""},
		{"GET", "/v1/nodes/open/../alice", ""},
		{"GET", "/v1/tree/open/../alice", ""},
		{"POST", "/v1/nodes/open/./x", ""},
		{"POST", "/v1/nodes/open/.", ""},
		{"POST", "/v1/nodes//admin/x", ""},
		{"POST", "/v1/nodes/open//x", ""},
		{"POST", "/v1/nodes/open/x/", ""},
		{"POST", "/v1/nodes/open/x%00", ""},
		{"POST", "/v1/nodes/open%00/x", ""},
		{"POST", "/v1/nodes/admin%00", ""},
		{"PUT", "/v1/acl/open/../admin", `{"acl":[{"scheme":"world","id":"anyone","perms":"cdrwa"}]}`},
		{"POST", "/v1/multi", `{"ops":[{"op":"set","path":"/open/../admin/config","data":"pwned"}]}`},
		{"POST", "/v1/multi", `{"ops":[{"op":"create","path":"/open/x\u0000"}]}`},
	} {
		r := f.rawCall(t, bob, a.method, a.target, []byte(a.body))
		refused(t, a.method+" "+a.target, r, http.StatusBadRequest, api.CodeBadArguments)
	}
	// A bad escape is refused by Go's HTTP server itself, in plain text.
	if r := f.rawCall(t, bob, "PUT", "/v1/nodes/open/%zz/admin", nil); r.status != http.StatusBadRequest {
		t.Errorf("PUT /v1/nodes/open/%%zz/admin: got %v, want 400", r)
	}
	l.finish(t, 0)
	f.unchanged(t)
}

func TestOversizedBodiesAre413AndDeepJSONIs400(t *testing.T) {
	t.Parallel()
	attackTurn(t)
	f := setUp(t)
	l := startLegit(t, f.node, "oversized and deep bodies")
	// 3 MiB, over the 2 MiB body limit; JSON bodies valid as far as they
	// go, so that only their size can refuse them.
	huge := func(prefix, item string) []byte {
		return []byte(prefix + strings.Repeat(item, (3<<20)/len(item)))
	}
	for _, a := range []struct {
		what, method, target string
		body                 []byte
	}{
		{"create", "POST", "/v1/nodes/open/big", huge("", "x")},
		{"set", "PUT", "/v1/nodes/open", huge("", "x")},
		{"multi", "POST", "/v1/multi", huge(`{"ops":[`, `{"op":"check","path":"/open"},`)},
		{"setACL", "PUT", "/v1/acl/open", huge(`{"acl":[`, `{"scheme":"world","id":"anyone","perms":"r"},`)},
		{"session", "POST", "/v1/sessions", huge(`{"timeout_ms":1`, "0")},
	} {
		refused(t, "3 MiB "+a.what, f.call(t, bob, a.method, a.target, a.body), http.StatusRequestEntityTooLarge, api.CodeTooLarge)
		// The same without Content-Length: the limit must hold while reading.
		refused(t, "3 MiB chunked "+a.what, f.chunked(t, bob, a.method, a.target, a.body), http.StatusRequestEntityTooLarge, api.CodeTooLarge)
	}
	// Under the body limit, over the data limit (1 MiB).
	data := strings.Repeat("y", 1<<20+1)
	refused(t, "1 MiB + 1 of data", f.call(t, bob, "PUT", "/v1/nodes/open", []byte(data)), http.StatusRequestEntityTooLarge, api.CodeTooLarge)
	refused(t, "1 MiB + 1 of data in a multi", f.call(t, bob, "POST", "/v1/multi",
		[]byte(`{"ops":[{"op":"set","path":"/open","data":"`+data+`"}]}`)), http.StatusRequestEntityTooLarge, api.CodeTooLarge)

	const depth = 100_000 // under the body limit, far past any sane nesting
	deep := func(prefix, open, close, suffix string) []byte {
		return []byte(prefix + strings.Repeat(open, depth) + strings.Repeat(close, depth) + suffix)
	}
	for _, a := range []struct {
		what, method, target string
		body                 []byte
	}{
		{"multi of nested arrays", "POST", "/v1/multi", deep(`{"ops":`, "[", "]", `}`)},
		{"multi op of nested objects", "POST", "/v1/multi", deep(`{"ops":[{"op":"create","path":"/open/d","data":`, `{"a":`, "}", `}]}`)},
		{"setACL of nested arrays", "PUT", "/v1/acl/open", deep(`{"acl":`, "[", "]", `}`)},
		{"session of nested objects", "POST", "/v1/sessions", deep(`{"timeout_ms":`, `{"a":`, "}", `}`)},
	} {
		refused(t, "deep JSON: "+a.what, f.call(t, bob, a.method, a.target, a.body), http.StatusBadRequest, api.CodeBadArguments)
	}
	c, r := f.ws(t, bob)
	if c == nil {
		t.Fatalf("bob's WebSocket: %v", r)
	}
	frameRefused(t, "deep JSON frame", rawFrame(t, c, deep(`{"id":2,"op":"multi","ops":`, "[", "]", `}`), "2", "null"), api.CodeBadArguments)
	frameRefused(t, "a frame after the deep one", frame(t, c, map[string]any{"op": "setData", "path": "/admin/config", "data": "pwned"}), api.CodeNoAuth)
	l.finish(t, 0)
	f.unchanged(t)
}

// chunked sends body with no Content-Length (chunked encoding).
func (n *node) chunked(t testing.TB, as user, method, target string, body []byte) reply {
	t.Helper()
	req, err := http.NewRequest(method, n.URL+target, io.MultiReader(bytes.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(as.name, as.password)
	resp, err := n.client.Do(req)
	if err != nil {
		t.Fatalf("chunked %s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	return reply{status: resp.StatusCode, header: resp.Header, body: readAll(resp.Body)}
}

func TestWebSocketFromAForeignOriginIs403(t *testing.T) {
	t.Parallel()
	attackTurn(t)
	f := setUp(t)
	l := startLegit(t, f.node, "foreign origin")
	for _, origin := range []string{
		"http://evil.example",
		"null",
		"http://127.0.0.1.evil.example:" + f.addr[strings.LastIndexByte(f.addr, ':')+1:],
		"http://evil.example:" + f.addr[strings.LastIndexByte(f.addr, ':')+1:],
	} {
		c, r := f.ws(t, alice, "Origin: "+origin)
		if c != nil {
			c.CloseNow()
			t.Errorf("WebSocket from Origin %s with alice's credentials: upgraded, want 403", origin)
			continue
		}
		refused(t, "WebSocket from Origin "+origin, r, http.StatusForbidden, api.CodeNoAuth)
	}
	// Same origin without credentials: 401, as REST.
	if c, r := f.ws(t, anonymous, "Origin: http://"+f.addr); c != nil {
		c.CloseNow()
		t.Errorf("anonymous WebSocket: upgraded, want 401")
	} else {
		refused(t, "anonymous WebSocket", r, http.StatusUnauthorized, api.CodeAuthFailed)
	}
	// And alice from the same origin is let in.
	if c, r := f.ws(t, alice, "Origin: http://"+f.addr); c == nil {
		t.Errorf("alice's same-origin WebSocket: got %v, want an upgrade", r)
	}
	l.finish(t, 0)
	f.unchanged(t)
}
