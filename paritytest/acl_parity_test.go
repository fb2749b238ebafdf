package paritytest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/testnode"
	"github.com/canopy-coord/canopy/server"
)

// The ACL part of the parity test: getACL, setACL, create with an ACL, and
// the NoAuth and InvalidACL outcomes, sent as a given user over REST (HTTP
// Basic on the request) and over WebSocket (Basic on the upgrade). The
// transport adapters of harness_test.go send no credentials, so these
// cases have adapters of their own; the harness prepares and reads the
// tree as the super user.

var parityPasswords = map[string]string{"alice": "alice-pw", "bob": "bob-pw", "super": "pw"}

func parityDigest(user string) string { return api.Digest(user, parityPasswords[user]) }

// aclOp is one operation as a user ("" is anonymous).
type aclOp struct {
	As       string
	Op       string // create, getACL, setACL, getData, setData, delete, exists, getChildren, multi, whoami
	Path     string
	Data     string
	ACL      []api.ACL // create's (nil: none), setACL's
	AVersion *int64
	Ops      []map[string]any
}

type aclCase struct {
	name  string
	setup []string            // nodes under /p, created open
	acls  map[string][]string // then their ACLs, zkCli's scheme:id:perms
	op    aclOp
	want  string
}

func dACL(user, perms string) api.ACL {
	p, err := api.ParsePerms(perms)
	if err != nil {
		panic(err)
	}
	return api.ACL{Scheme: "digest", ID: parityDigest(user), Perms: p}
}

func dEntry(user, perms string) string { return "digest:" + parityDigest(user) + ":" + perms }

func aclCases() []aclCase {
	var c []aclCase
	add := func(name, want string, o aclOp, setup []string, acls map[string][]string) {
		c = append(c, aclCase{name: name, setup: setup, acls: acls, op: o, want: want})
	}
	aliceOnly := func(perms string) map[string][]string { return map[string][]string{"/p/a": {dEntry("alice", perms)}} }
	a := []string{"/p/a"}
	ak := []string{"/p/a", "/p/a/k"}
	auth := api.ACL{Scheme: "auth", Perms: api.PermAll}

	// Create with an ACL.
	add("create with a digest ACL", "ok", aclOp{As: "alice", Op: "create", Path: "/p/n", ACL: []api.ACL{dACL("alice", "cdrwa"), {Scheme: "world", ID: "anyone", Perms: api.PermRead}}}, nil, nil)
	add("create with auth", "ok", aclOp{As: "alice", Op: "create", Path: "/p/n", ACL: []api.ACL{auth}}, nil, nil)
	add("create with an ip ACL", "ok", aclOp{As: "bob", Op: "create", Path: "/p/n", ACL: []api.ACL{{Scheme: "ip", ID: "127.0.0.0/8", Perms: api.PermRead}}}, nil, nil)
	add("create with auth anonymously", "InvalidACL", aclOp{Op: "create", Path: "/p/n", ACL: []api.ACL{auth}}, nil, nil)
	add("create with an unknown scheme", "InvalidACL", aclOp{As: "alice", Op: "create", Path: "/p/n", ACL: []api.ACL{{Scheme: "sasl", ID: "alice", Perms: api.PermAll}}}, nil, nil)
	add("create with a digest lacking its hash", "InvalidACL", aclOp{As: "alice", Op: "create", Path: "/p/n", ACL: []api.ACL{{Scheme: "digest", ID: "alice", Perms: api.PermAll}}}, nil, nil)
	add("create without CREATE on the parent", "NoAuth", aclOp{As: "alice", Op: "create", Path: "/p/a/n"}, a, aliceOnly("rwda"))
	add("create with CREATE on the parent", "ok", aclOp{As: "alice", Op: "create", Path: "/p/a/n"}, a, aliceOnly("c"))
	add("create as a stranger", "NoAuth", aclOp{As: "bob", Op: "create", Path: "/p/a/n"}, a, aliceOnly("cdrwa"))
	add("multi create with an ACL", "ok", aclOp{As: "alice", Op: "multi", Ops: []map[string]any{
		{"op": "create", "path": "/p/m", "acl": []api.ACL{auth}}, {"op": "create", "path": "/p/m/k"}}}, nil, nil)
	add("multi create with an empty ACL", "InvalidACL", aclOp{As: "alice", Op: "multi", Ops: []map[string]any{
		{"op": "create", "path": "/p/m"}, {"op": "create", "path": "/p/m2", "acl": []api.ACL{}}}}, nil, nil)
	add("multi set without WRITE", "NoAuth", aclOp{As: "bob", Op: "multi", Ops: []map[string]any{
		{"op": "create", "path": "/p/m"}, {"op": "set", "path": "/p/a", "data": "x"}}}, a, aliceOnly("cdrwa"))

	// getACL.
	add("getACL with READ is masked", "ok", aclOp{As: "alice", Op: "getACL", Path: "/p/a"}, a, aliceOnly("r"))
	add("getACL with ADMIN", "ok", aclOp{As: "alice", Op: "getACL", Path: "/p/a"}, a, aliceOnly("a"))
	add("getACL without READ or ADMIN", "NoAuth", aclOp{As: "alice", Op: "getACL", Path: "/p/a"}, a, aliceOnly("cdw"))
	add("getACL as super", "ok", aclOp{As: "super", Op: "getACL", Path: "/p/a"}, a, aliceOnly("c"))
	add("getACL of an open node anonymously", "ok", aclOp{Op: "getACL", Path: "/p/a"}, a, nil)
	add("getACL missing", "NoNode", aclOp{As: "alice", Op: "getACL", Path: "/p/none"}, nil, nil)

	// setACL.
	add("setACL", "ok", aclOp{As: "alice", Op: "setACL", Path: "/p/a", ACL: []api.ACL{dACL("bob", "r")}, AVersion: ptr(int64(1))}, a, aliceOnly("a")) // the setup set it once
	add("setACL with auth", "ok", aclOp{As: "alice", Op: "setACL", Path: "/p/a", ACL: []api.ACL{auth}}, a, nil)
	add("setACL wrong aversion", "BadVersion", aclOp{As: "alice", Op: "setACL", Path: "/p/a", ACL: []api.ACL{dACL("bob", "r")}, AVersion: ptr(int64(4))}, a, aliceOnly("a"))
	add("setACL without ADMIN", "NoAuth", aclOp{As: "alice", Op: "setACL", Path: "/p/a", ACL: []api.ACL{dACL("alice", "cdrwa")}, AVersion: ptr(int64(4))}, a, aliceOnly("cdrw"))
	add("setACL empty", "InvalidACL", aclOp{As: "alice", Op: "setACL", Path: "/p/a", ACL: []api.ACL{}}, a, nil)
	add("setACL missing", "NoNode", aclOp{As: "alice", Op: "setACL", Path: "/p/none", ACL: []api.ACL{dACL("alice", "r")}}, nil, nil)
	add("setACL invalid on a missing node", "InvalidACL", aclOp{As: "alice", Op: "setACL", Path: "/p/none", ACL: []api.ACL{{Scheme: "ip", ID: "nowhere", Perms: 1}}}, nil, nil)

	// The other operations' NoAuth.
	add("getData without READ", "NoAuth", aclOp{As: "bob", Op: "getData", Path: "/p/a"}, a, aliceOnly("cdrwa"))
	add("getData with READ", "ok", aclOp{As: "alice", Op: "getData", Path: "/p/a"}, a, aliceOnly("r"))
	add("getData as super", "ok", aclOp{As: "super", Op: "getData", Path: "/p/a"}, a, aliceOnly("r"))
	add("setData without WRITE", "NoAuth", aclOp{As: "alice", Op: "setData", Path: "/p/a", Data: "x"}, a, aliceOnly("cdra"))
	add("delete without DELETE on the parent", "NoAuth", aclOp{As: "alice", Op: "delete", Path: "/p/a/k"}, ak, aliceOnly("crwa"))
	add("delete with DELETE on the parent", "ok", aclOp{As: "alice", Op: "delete", Path: "/p/a/k"}, ak, aliceOnly("d"))
	add("getChildren without READ", "NoAuth", aclOp{Op: "getChildren", Path: "/p/a"}, ak, aliceOnly("cdwa"))
	add("exists without any perm", "ok", aclOp{As: "bob", Op: "exists", Path: "/p/a"}, a, aliceOnly("r"))
	add("whoami", "ok", aclOp{As: "alice", Op: "whoami"}, nil, nil)
	add("whoami anonymously", "ok", aclOp{Op: "whoami"}, nil, nil)
	return c
}

// TestTransportsAgreeOnACLs sends every ACL case over REST and WebSocket,
// each time on the same starting tree, and compares the outcome and the
// tree afterwards, ACLs included.
func TestTransportsAgreeOnACLs(t *testing.T) {
	nd := testnode.Start(t, func(m *server.Main) { m.SuperDigest = parityDigest("super") })
	h := newHarness(t, nd.URL)
	h.client = &http.Client{Timeout: 30 * time.Second, Transport: basicRT{user: "super", next: http.DefaultTransport}}
	noAuths := 0
	for _, c := range aclCases() {
		if c.want == "NoAuth" {
			noAuths++
		}
	}
	// REST answers a client 429 after 20 NoAuth in a minute (one per case
	// here, all from 127.0.0.1).
	if noAuths >= 20 {
		t.Fatalf("%d NoAuth cases: the REST runs would be throttled", noAuths)
	}
	runners := []struct {
		name string
		run  func(*testing.T, *harness, aclOp) outcome
	}{{"REST", restACL}, {"WebSocket", wsACL}}
	for _, c := range aclCases() {
		t.Run(c.name, func(t *testing.T) {
			var first outcome
			var firstTree string
			for i, tr := range runners {
				h.reset(t, c.setup)
				for p, entries := range c.acls {
					list := make([]api.ACL, len(entries))
					for j, e := range entries {
						a, err := api.ParseACL(e)
						if err != nil {
							t.Fatal(err)
						}
						list[j] = a
					}
					body, _ := json.Marshal(api.SetACLRequest{ACL: list})
					h.must(t, http.StatusOK, "PUT", "/v1/acl"+escape(p), body, nil)
				}
				got := tr.run(t, h, c.op)
				tree := aclTree(t, h)
				if got.Code != c.want {
					t.Errorf("%s: got %s, want %s", tr.name, got, c.want)
				}
				if i == 0 {
					first, firstTree = got, tree
					continue
				}
				if got.String() != first.String() {
					t.Errorf("outcomes differ:\n  %s: %s\n  %s: %s", runners[0].name, first, tr.name, got)
				}
				if tree != firstTree {
					t.Errorf("trees differ afterwards:\n  %s: %s\n  %s: %s", runners[0].name, firstTree, tr.name, tree)
				}
			}
		})
	}
}

// basicRT sends user's Basic credentials ("" sends none).
type basicRT struct {
	user string
	next http.RoundTripper
}

func (b basicRT) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.user == "" {
		return b.next.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, parityPasswords[b.user])
	return b.next.RoundTrip(r)
}

// aclTree is the harness's tree with each node's ACL (as the super user
// reads it).
func aclTree(t *testing.T, h *harness) string {
	t.Helper()
	var root api.TreeNode
	if err := json.Unmarshal(h.must(t, http.StatusOK, "GET", "/v1/tree/p?depth=20", nil, nil), &root); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(h.tree(t))
	var walk func(n *api.TreeNode)
	walk = func(n *api.TreeNode) {
		var res api.ACLResult
		if err := json.Unmarshal(h.must(t, http.StatusOK, "GET", "/v1/acl"+escape(n.Path), nil, nil), &res); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "; %s acl=%v av=%d", n.Path, res.ACL, res.Stat.Aversion)
		for _, k := range n.Children {
			walk(k)
		}
	}
	walk(&root)
	return b.String()
}

func restACL(t *testing.T, h *harness, o aclOp) outcome {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second, Transport: basicRT{user: o.As, next: http.DefaultTransport}}
	var method, target string
	var body []byte
	q := url.Values{}
	switch o.Op {
	case "create":
		method, target, body = "POST", "/v1/nodes"+escape(o.Path), []byte(o.Data)
		for _, a := range o.ACL {
			q.Add("acl", a.String())
		}
	case "getACL":
		method, target = "GET", "/v1/acl"+escape(o.Path)
	case "setACL":
		method, target = "PUT", "/v1/acl"+escape(o.Path)
		body, _ = json.Marshal(api.SetACLRequest{ACL: o.ACL})
		if o.AVersion != nil {
			q.Set("aversion", fmt.Sprint(*o.AVersion))
		}
	case "getData":
		method, target = "GET", "/v1/nodes"+escape(o.Path)
	case "setData":
		method, target, body = "PUT", "/v1/nodes"+escape(o.Path), []byte(o.Data)
	case "delete":
		method, target = "DELETE", "/v1/nodes"+escape(o.Path)
	case "exists":
		method, target = "GET", "/v1/stat"+escape(o.Path)
	case "getChildren":
		method, target = "GET", "/v1/children"+escape(o.Path)
	case "multi":
		method, target = "POST", "/v1/multi"
		body, _ = json.Marshal(map[string]any{"ops": o.Ops})
	case "whoami":
		method, target = "GET", "/v1/whoami"
	default:
		t.Fatalf("REST: no route for %s", o.Op)
	}
	if enc := q.Encode(); enc != "" {
		target += "?" + enc
	}
	req, err := http.NewRequest(method, h.base+target, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	var failed struct {
		Error   *api.Error        `json:"error"`
		Results []json.RawMessage `json:"results"`
	}
	_ = json.Unmarshal(raw, &failed)
	var out outcome
	switch {
	case resp.StatusCode >= 300:
		if failed.Error == nil {
			t.Fatalf("REST %s %s: %d without the error body: %s", method, target, resp.StatusCode, raw)
		}
		out.Code, out.Index = string(failed.Error.Code), failed.Error.Index
	default:
		out.Code = "ok"
		if o.Op != "multi" && o.Op != "delete" {
			out.Result = normalizeResult(raw)
		}
	}
	for _, r := range failed.Results {
		out.Results = append(out.Results, normalizeResult(r))
	}
	return out
}

func wsACL(t *testing.T, h *harness, o aclOp) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := &websocket.DialOptions{}
	if o.As != "" {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(o.As, parityPasswords[o.As])
		opts.HTTPHeader = http.Header{"Authorization": r.Header["Authorization"]}
	}
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.base, "http")+"/v1/watch", opts)
	if err != nil {
		t.Fatalf("WebSocket dial as %q: %v", o.As, err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(-1)
	m := map[string]any{"id": 2, "op": o.Op}
	if o.Path != "" {
		m["path"] = o.Path
	}
	if o.Data != "" {
		m["data"] = o.Data
	}
	if o.ACL != nil {
		m["acl"] = o.ACL
	}
	if o.AVersion != nil {
		m["aversion"] = *o.AVersion
	}
	if o.Op == "multi" {
		m["ops"] = o.Ops
	}
	return frameOutcome(t, o.Op, ws{h: h}.call(ctx, t, conn, m))
}
