package securitytest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/canopy-coord/canopy/api"
)

// fixture is the tree every attack starts from:
//
//	/alice         alice's, creator-all (the default with --auth-required)
//	/alice/eph     alice's ephemeral, in her session
//	/admin         digest:alice:cdrwa, world:anyone:r  (others may only read)
//	/admin/config  the same
//	/open          world:anyone:cdrwa
//	/legit         alice's, where the legitimate client works (left out
//	               of the before-and-after comparison)
type fixture struct {
	*node
	session string // alice's
	before  map[string]api.Stat
}

// aliceAdmin is /admin's ACL, in ?acl= form.
func aliceAdmin() string {
	return "acl=" + url.QueryEscape("digest:"+alice.digest()+":cdrwa") + "&acl=" + url.QueryEscape("world:anyone:r")
}

func setUp(t *testing.T) *fixture {
	t.Helper()
	n := startSecure(t)
	f := &fixture{node: n, session: n.session(t, alice)}
	n.must(t, http.StatusCreated, alice, "POST", "/v1/nodes/alice", []byte("alice's"))
	n.must(t, http.StatusCreated, alice, "POST", "/v1/nodes/alice/eph?ephemeral", []byte("lock"), "Canopy-Session: "+f.session)
	n.must(t, http.StatusCreated, alice, "POST", "/v1/nodes/admin?"+aliceAdmin(), []byte("admin"))
	n.must(t, http.StatusCreated, alice, "POST", "/v1/nodes/admin/config?"+aliceAdmin(), []byte("config"))
	n.must(t, http.StatusCreated, alice, "POST", "/v1/nodes/open?acl=world:anyone:cdrwa", nil)
	n.must(t, http.StatusCreated, alice, "POST", "/v1/nodes"+legitPrefix, nil)
	f.before = n.tree(t)
	return f
}

// unchanged checks the attack left the tree as setUp made it.
func (f *fixture) unchanged(t *testing.T) {
	t.Helper()
	compareTrees(t, f.before, f.tree(t))
}

// sessionAlive checks alice's session survived, her ephemeral with it.
func (f *fixture) sessionAlive(t *testing.T) {
	t.Helper()
	r := f.must(t, http.StatusOK, alice, "GET", "/v1/sessions/"+f.session, nil)
	var s api.Session
	if err := json.Unmarshal(r.body, &s); err != nil || len(s.Ephemerals) != 1 || s.Ephemerals[0] != "/alice/eph" {
		t.Errorf("alice's session: got %s, want it alive holding /alice/eph", r.body)
	}
	f.must(t, http.StatusOK, alice, "POST", "/v1/sessions/"+f.session+"/keepalive", nil)
}

// ws opens /v1/watch as u with extra header lines; the answer to a
// refused upgrade is returned as the reply.
func (n *node) ws(t *testing.T, as user, hdr ...string) (*websocket.Conn, reply) {
	t.Helper()
	h := http.Header{}
	if as != anonymous {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(as.name, as.password)
		h.Set("Authorization", req.Header.Get("Authorization"))
	}
	for _, line := range hdr {
		k, v, _ := strings.Cut(line, ":")
		h.Set(k, strings.TrimSpace(v))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws://"+n.addr+"/v1/watch", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if resp == nil {
			t.Fatalf("websocket dial as %q: %v", as.name, err)
		}
		var body []byte
		if resp.Body != nil {
			body = readAll(resp.Body)
		}
		return nil, reply{status: resp.StatusCode, header: resp.Header, body: body}
	}
	t.Cleanup(func() { c.CloseNow() })
	return c, reply{status: resp.StatusCode, header: resp.Header}
}

// frame sends one request frame and reads until its answer (events in
// between are skipped).
func frame(t *testing.T, c *websocket.Conn, req map[string]any) api.Response {
	t.Helper()
	req["id"] = 1
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return rawFrame(t, c, b, "1")
}

// rawFrame sends b as a text frame and reads until the answer whose id is
// one of ids ("null" for an answer to a frame whose id could not be read).
func rawFrame(t *testing.T, c *websocket.Conn, b []byte, ids ...string) api.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatalf("write frame %s: %v", short(string(b)), err)
	}
	for {
		var resp api.Response
		if err := wsjson.Read(ctx, c, &resp); err != nil {
			t.Fatalf("read the answer to %s: %v", short(string(b)), err)
		}
		id := string(resp.ID)
		if id == "" {
			id = "null"
		}
		if slices.Contains(ids, id) {
			return resp
		}
	}
}

// frameRefused checks a frame's answer carries the error code want.
func frameRefused(t *testing.T, what string, resp api.Response, want api.Code) {
	t.Helper()
	if resp.Error == nil || resp.Error.Code != want {
		got, _ := json.Marshal(resp)
		t.Errorf("%s: got %s, want error %s", what, got, want)
	}
}

// treeOverWebSocket is tree read with getChildren frames, for when REST
// refuses this address (the NoAuth limit is by address, and every client
// of a test shares 127.0.0.1).
func (n *node) treeOverWebSocket(t *testing.T) map[string]api.Stat {
	t.Helper()
	c, r := n.ws(t, root)
	if c == nil {
		t.Fatalf("root's WebSocket: %v", r)
	}
	defer c.CloseNow()
	out := map[string]api.Stat{}
	var walk func(path string)
	walk = func(path string) {
		if path == legitPrefix {
			return
		}
		resp := frame(t, c, map[string]any{"op": "getChildren", "path": path})
		if resp.Error != nil {
			t.Fatalf("getChildren %s as root: %s %s", path, resp.Error.Code, resp.Error.Message)
		}
		var res api.ChildrenResult
		b, _ := json.Marshal(resp.Result)
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatalf("getChildren %s: %v in %s", path, err, b)
		}
		out[path] = res.Stat
		for _, name := range res.Children {
			walk(strings.TrimSuffix(path, "/") + "/" + name)
		}
	}
	walk("/")
	return out
}
