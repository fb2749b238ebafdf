package securitytest

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket/wsjson"

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

func TestClusterAdministrationIsTheSuperUsersOnly(t *testing.T) {
	t.Parallel()
	attackTurn(t)
	f := setUp(t)
	l := startLegit(t, f.node, "cluster administration")
	for _, a := range []struct{ what, method, target, body string }{
		// A backup is every node's data, whatever its ACL.
		{"backup", "GET", "/v1/snapshot", ""},
		{"restore", "POST", "/v1/snapshot", "not a backup"},
		{"add a member", "POST", "/v1/cluster/members", `{"id":"evil","raft":"127.0.0.1:1","http":"127.0.0.1:2","voter":true}`},
		{"remove a member", "DELETE", "/v1/cluster/members/n1", ""},
	} {
		refused(t, "bob's "+a.what, f.call(t, bob, a.method, a.target, []byte(a.body)), http.StatusForbidden, api.CodeNoAuth)
	}
	l.finish(t, 0)
	f.unchanged(t)
	var c api.Cluster
	if err := json.Unmarshal(f.must(t, http.StatusOK, root, "GET", "/v1/cluster", nil).body, &c); err != nil || len(c.Members) != 1 {
		t.Errorf("members after the attack: got %+v (%v), want n1 alone", c.Members, err)
	}
}

// A watch tells what changed where: the hub sends no event about a node
// its subscriber may not READ (DESIGN §9, ZooKeeper 3.8).
func TestWatchesSendNoEventOfANodeTheWatcherCannotRead(t *testing.T) {
	t.Parallel()
	attackTurn(t)
	f := setUp(t)
	l := startLegit(t, f.node, "watching unreadable nodes")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.URL+"/v1/events?path=/&recursive", nil)
	req.SetBasicAuth(bob.name, bob.password)
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bob's event stream: %d %s", resp.StatusCode, readAll(resp.Body))
	}
	c, r := f.ws(t, bob)
	if c == nil {
		t.Fatalf("bob's WebSocket: %v", r)
	}
	if w := frame(t, c, map[string]any{"op": "addWatch", "path": "/", "mode": "persistentRecursive"}); w.Error != nil {
		t.Fatalf("bob's addWatch: %+v", w.Error)
	}
	if g := frame(t, c, map[string]any{"op": "exists", "path": "/alice", "watch": true}); g.Error != nil {
		t.Fatalf("bob's exists watch on /alice: %+v", g.Error)
	}
	// alice changes her nodes, then one bob may read: the last event bob
	// gets is /open's, and nothing of hers comes before it.
	f.must(t, http.StatusOK, alice, "PUT", "/v1/nodes/alice", []byte("secret 2"))
	f.must(t, http.StatusCreated, alice, "POST", "/v1/nodes/alice/child", []byte("secret 3"))
	f.must(t, http.StatusOK, alice, "PUT", "/v1/nodes/open", []byte("marker"))

	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if data, ok := strings.CutPrefix(line, "data:"); ok {
			if strings.Contains(data, `"/alice`) || strings.Contains(data, legitPrefix+"/") {
				t.Errorf("bob's event stream sent an event of a node he cannot read: %s", data)
			}
			if strings.Contains(data, `"/open"`) {
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("bob's event stream ended before /open's event: %v", err)
	}
	for {
		var ev struct {
			Event *api.Event `json:"event"`
		}
		if err := wsjson.Read(ctx, c, &ev); err != nil {
			t.Fatalf("bob's WebSocket ended before /open's event: %v", err)
		}
		if ev.Event == nil {
			continue
		}
		if strings.HasPrefix(ev.Event.Path, "/alice") || strings.HasPrefix(ev.Event.Path, legitPrefix+"/") {
			t.Errorf("bob's WebSocket sent an event of a node he cannot read: %+v", *ev.Event)
		}
		if ev.Event.Path == "/open" {
			break
		}
	}
	cancel()
	l.finish(t, 0)
	delete(f.before, "/alice") // alice's own writes, not the attack's
	after := f.tree(t)
	delete(after, "/alice")
	delete(after, "/alice/child")
	delete(f.before, "/open")
	delete(after, "/open")
	compareTrees(t, f.before, after)
}
