package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/service"
)

// FuzzMultiBody posts arbitrary bytes to /v1/multi on a real node (one per
// fuzz process), with or without a session. Whatever the body: no panic, no
// 5xx, an answer that openapi.yaml describes, and a refused multi leaves the
// tree as it was.
func FuzzMultiBody(f *testing.F) {
	for _, body := range []string{
		``,
		`{`,
		`{"ops":[]}`,
		`{"ops":null}`,
		`{"ops":[{"op":"create","path":"/a","data":"x"},{"op":"check","path":"/a","version":0}]}`,
		`{"ops":[{"op":"create","path":"/q","container":true},{"op":"create","path":"/q/","sequential":true}]}`,
		`{"ops":[{"op":"set","path":"/","data":"aGk=","encoding":"base64","version":-1}]}`,
		`{"ops":[{"op":"create","path":"/a"},{"op":"delete","path":"/a"},{"op":"create","path":"/a/b"}]}`,
		`{"ops":[{"op":"delete","path":"/zookeeper/quota"}]}`,
		`{"ops":[{"op":"create","path":"/t","ttl_ms":5,"sequential":true}]}`,
		`{"ops":[{"op":"check","path":"rel"},{"op":"check","path":"/a/"}]}`,
		`{"ops":[{"op":"create","path":"/e","ephemeral":true},{"op":"create","path":"/e/x"}]}`,
		`{"ops":[{"op":"create","path":"/x","version":2147483648}]}`,
		`{"ops":[{"op":"get","path":"/"}],"x":1}`,
	} {
		f.Add([]byte(body), false)
		f.Add([]byte(body), true)
	}
	node, srv := newServer(f, time.Hour) // no reaping: the tree changes only by the inputs
	sess, _, err := node.CreateSession(context.Background(), 60000, nil)
	if err != nil {
		f.Fatalf("create session: %v", err)
	}

	f.Fuzz(func(t *testing.T, body []byte, withSession bool) {
		if _, err := node.KeepAlive(context.Background(), sess.ID); err != nil {
			t.Fatalf("keepalive: %v", err)
		}
		before := node.Tree().Counts()
		req := httptest.NewRequest(http.MethodPost, "/v1/multi", bytes.NewReader(body))
		if withSession {
			req.Header.Set("Canopy-Session", sess.ID.String())
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		r := &reply{method: "POST", path: "/v1/multi", status: rec.Code, header: rec.Result().Header, body: rec.Body.Bytes()}
		if r.status >= 500 {
			t.Fatalf("POST /v1/multi %q → %d %s", body, r.status, truncate(r.body))
		}
		if err := checkReply(req, r); err != nil {
			t.Fatalf("POST /v1/multi %q → %d %s\n%v", body, r.status, truncate(r.body), err)
		}
		if r.status != http.StatusOK {
			after := node.Tree().Counts()
			after.Applied = before.Applied
			if after != before {
				t.Fatalf("POST /v1/multi %q → %d, but the tree changed: %+v → %+v", body, r.status, before, after)
			}
		}
	})
}

// FuzzNodePath feeds arbitrary escaped paths through the server's path
// parsing and ZooKeeper's path rule. Nothing panics, refusals are
// BadArguments, and every accepted path survives escapePath and back.
func FuzzNodePath(f *testing.F) {
	for _, s := range []string{
		"", "a", "a/b", "a%2Fb", "a%2fb", "a%20b", "a b", "%C3%BC", "..", "%2E%2E", "a//b", "a/", "/a", "%zz", "a%",
		"a?b", "a#b", "a;b", "a+b", "%00", "%7F", "%EF%BF%BF", "%F0%9F%98%80", "%FF", "a%252F", "~!$&'()*,:=@",
		strings.Repeat("p", 4096), strings.Repeat("p/", 2048),
	} {
		f.Add(s)
	}
	s := &Server{svc: service.New(nil, service.Limits{})} // the limits alone: nodePath reads no node
	f.Fuzz(func(t *testing.T, escaped string) {
		u, err := url.ParseRequestURI(nodesPrefix + "/" + escaped)
		if err != nil {
			return // Go's HTTP server answers such a request line itself
		}
		p, err := s.nodePath(&http.Request{Method: http.MethodGet, URL: u}, nodesPrefix)
		if err != nil {
			if api.CodeOf(err) != api.CodeBadArguments {
				t.Fatalf("nodePath(%q) = %v, want BadArguments", escaped, err)
			}
			return
		}
		if err := s.svc.CheckPath(p); err != nil {
			if api.CodeOf(err) != api.CodeBadArguments {
				t.Fatalf("CheckPath(%q) = %v, want BadArguments", p, err)
			}
			return
		}
		if len(p) > s.svc.Limits().MaxPathBytes {
			t.Fatalf("CheckPath(%q) accepted %d bytes", escaped, len(p))
		}
		esc := escapePath(p)
		u2, err := url.ParseRequestURI(nodesPrefix + esc)
		if err != nil {
			t.Fatalf("escapePath(%q) = %q, which is not a request URI: %v", p, esc, err)
		}
		if u2.RawQuery != "" || u2.Fragment != "" {
			t.Fatalf("escapePath(%q) = %q leaks into the query or fragment", p, esc)
		}
		back, err := s.nodePath(&http.Request{Method: http.MethodGet, URL: u2}, nodesPrefix)
		if err != nil || back != p {
			t.Fatalf("escapePath(%q) = %q reads back as %q, %v", p, esc, back, err)
		}
		if again := escapePath(back); again != esc {
			t.Fatalf("escapePath is not stable: %q then %q", esc, again)
		}
	})
}
