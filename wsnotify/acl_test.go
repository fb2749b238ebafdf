package wsnotify

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/consensus"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testkit/raftnode"
	"github.com/canopy-coord/canopy/service"
)

// Access control over the WebSocket (DESIGN §9): the getACL, setACL and
// whoami frames, create's "acl", and the hub's rule that a subscriber gets
// no event about a node it may not READ.

var aclPasswords = map[string]string{"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw", "super": "pw"}

func aclDigest(user string) string { return api.Digest(user, aclPasswords[user]) }

// digestEntry is a digest ACL entry for user as a frame's JSON takes it.
func digestEntry(user, perms string) map[string]any {
	return map[string]any{"scheme": "digest", "id": aclDigest(user), "perms": perms}
}

var worldRead = map[string]any{"scheme": "world", "id": "anyone", "perms": "r"}

// withCaller authenticates a request as httpapi does for Basic
// credentials (service.Authenticate) and puts the caller in its context.
func withCaller(svc *service.Service, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var cred service.Credentials
		if u, p, ok := r.BasicAuth(); ok {
			cred = service.Credentials{User: u, Password: p, HasPassword: true}
		}
		caller, err := svc.Authenticate(r.RemoteAddr, cred)
		if err != nil {
			api.WriteError(w, svc.Applied(), err)
			return
		}
		next(w, r.WithContext(service.WithCaller(r.Context(), caller)))
	}
}

// startSecureNode is startNode with access control in force and the
// watch endpoints behind Basic authentication.
func startSecureNode(t testing.TB, sec service.Security) (*testNode, *service.Service) {
	t.Helper()
	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	hub := NewHub(HubConfig{Metrics: metrics})
	node := raftnode.Open(t, func(c *consensus.Config) { c.Sink, c.Registerer = hub, reg })
	tn := &testNode{t: t, node: node, hub: hub, metrics: metrics, reg: reg}
	svc := service.New(node, service.Limits{}).WithSecurity(sec)
	tn.handler = NewHandler(svc, hub, Config{Metrics: metrics, Logger: zerolog.Nop()})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/watch", tn.track(withCaller(svc, tn.handler.ServeWS)))
	mux.HandleFunc("GET /v1/events", tn.track(withCaller(svc, tn.handler.ServeSSE)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	tn.addr = ln.Addr().String()
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	t.Cleanup(func() {
		hs.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		gone := func() (bool, string) { return tn.inflight.Load() == 0, "" }
		if testkit.Poll(10*time.Second, gone) != nil {
			t.Errorf("%d watch handlers still running 10 s after their clients closed", tn.inflight.Load())
		}
	})
	return tn, svc
}

var aclSecurity = service.Security{SuperDigest: api.Digest("super", "pw")}

// connectAs opens a WebSocket with user's Basic credentials ("" is
// anonymous).
func connectAs(t testing.TB, tn *testNode, user string) *wsClient {
	t.Helper()
	opts := &websocket.DialOptions{}
	if user != "" {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(user, aclPasswords[user])
		opts.HTTPHeader = http.Header{"Authorization": r.Header["Authorization"]}
	}
	return newWSClient(t, dial(t, tn, opts))
}

func TestWSACLWhoAmI(t *testing.T) {
	t.Parallel()
	tn, _ := startSecureNode(t, aclSecurity)
	for _, tc := range []struct {
		user string
		want api.WhoAmI
	}{
		{"alice", api.WhoAmI{Identities: []api.Identity{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: aclDigest("alice")}}, Authenticated: true, User: "alice"}},
		{"", api.WhoAmI{Identities: []api.Identity{{Scheme: "ip", ID: "127.0.0.1"}}}},
		{"super", api.WhoAmI{Identities: []api.Identity{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: aclDigest("super")}, {Scheme: "super", ID: ""}}, Authenticated: true, Super: true, User: "super"}},
	} {
		var got api.WhoAmI
		connectAs(t, tn, tc.user).ok(req{"op": "whoami"}, &got)
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(tc.want)
		if string(g) != string(w) {
			t.Errorf("whoami as %q: %s, want %s", tc.user, g, w)
		}
	}
}

// TestWSACLFrames: create with "acl", getACL (masked without ADMIN),
// setACL with its aversion, and the NoAuth and InvalidACL answers.
func TestWSACLFrames(t *testing.T) {
	t.Parallel()
	tn, _ := startSecureNode(t, aclSecurity)
	alice, bob, anon := connectAs(t, tn, "alice"), connectAs(t, tn, "bob"), connectAs(t, tn, "")

	alice.ok(req{"op": "create", "path": "/a", "data": "x", "acl": []any{digestEntry("alice", "cdrwa"), worldRead}}, nil)
	var res api.ACLResult
	alice.ok(req{"op": "getACL", "path": "/a"}, &res)
	full := `[{"scheme":"digest","id":"` + aclDigest("alice") + `","perms":"cdrwa"},{"scheme":"world","id":"anyone","perms":"r"}]`
	if got, _ := json.Marshal(res.ACL); string(got) != full || res.Path != "/a" || res.Stat.Aversion != 0 || res.Stat.DataLength != 1 {
		t.Errorf("getACL as alice: %s %+v, want %s", got, res, full)
	}
	bob.ok(req{"op": "getACL", "path": "/a"}, &res)
	if got, _ := json.Marshal(res.ACL); string(got) != `[{"scheme":"digest","id":"alice:x","perms":"cdrwa"},{"scheme":"world","id":"anyone","perms":"r"}]` {
		t.Errorf("getACL as bob (READ, no ADMIN): %s, want alice's digest masked", got)
	}
	bob.ok(req{"op": "getData", "path": "/a"}, nil)
	// bob holds READ only.
	bob.fails(req{"op": "setData", "path": "/a", "data": "y"}, api.CodeNoAuth)
	bob.fails(req{"op": "create", "path": "/a/kid"}, api.CodeNoAuth)
	bob.fails(req{"op": "setACL", "path": "/a", "acl": []any{digestEntry("bob", "cdrwa")}}, api.CodeNoAuth)
	bob.fails(req{"op": "setACL", "path": "/a", "acl": []any{digestEntry("bob", "cdrwa")}, "aversion": 7}, api.CodeNoAuth) // NoAuth before BadVersion
	bob.fails(req{"op": "multi", "ops": []req{{"op": "set", "path": "/a", "data": "y"}}}, api.CodeNoAuth)
	alice.ok(req{"op": "create", "path": "/a/kid"}, nil)
	bob.fails(req{"op": "delete", "path": "/a/kid"}, api.CodeNoAuth)

	// setACL: aversion, then success bumps it.
	alice.fails(req{"op": "setACL", "path": "/a", "acl": []any{digestEntry("alice", "cdrwa")}, "aversion": 3}, api.CodeBadVersion)
	alice.ok(req{"op": "setACL", "path": "/a", "acl": []any{digestEntry("alice", "cdrwa")}, "aversion": 0}, &res)
	if res.Stat.Aversion != 1 || res.Stat.Version != 0 || len(res.ACL) != 1 {
		t.Errorf("setACL: %+v", res)
	}
	alice.fails(req{"op": "setACL", "path": "/a", "acl": []any{digestEntry("alice", "cdrwa")}, "aversion": 0}, api.CodeBadVersion)
	alice.ok(req{"op": "setACL", "path": "/a", "acl": []any{digestEntry("alice", "cdrwa")}}, &res)
	if res.Stat.Aversion != 2 {
		t.Errorf("setACL without aversion: %+v", res)
	}
	// Now bob may not even read it.
	bob.fails(req{"op": "getACL", "path": "/a"}, api.CodeNoAuth)
	bob.fails(req{"op": "getData", "path": "/a"}, api.CodeNoAuth)
	bob.fails(req{"op": "getChildren", "path": "/a"}, api.CodeNoAuth)
	var ex struct {
		Stat *api.Stat `json:"stat"`
	}
	bob.ok(req{"op": "exists", "path": "/a"}, &ex) // exists checks nothing
	if ex.Stat == nil || ex.Stat.Aversion != 2 {
		t.Errorf("exists as bob: %+v", ex.Stat)
	}

	// InvalidACL.
	alice.fails(req{"op": "setACL", "path": "/a"}, api.CodeInvalidACL)
	alice.fails(req{"op": "setACL", "path": "/a", "acl": []any{}}, api.CodeInvalidACL)
	alice.fails(req{"op": "setACL", "path": "/a", "acl": []any{map[string]any{"scheme": "sasl", "id": "x", "perms": "r"}}}, api.CodeInvalidACL)
	alice.fails(req{"op": "create", "path": "/b", "acl": []any{}}, api.CodeInvalidACL)
	alice.fails(req{"op": "create", "path": "/b", "acl": []any{map[string]any{"scheme": "ip", "id": "1.2.3.4/40", "perms": "r"}}}, api.CodeInvalidACL)
	anon.fails(req{"op": "create", "path": "/b", "acl": []any{map[string]any{"scheme": "auth", "id": "", "perms": "cdrwa"}}}, api.CodeInvalidACL)
	alice.fails(req{"op": "setACL", "path": "/none", "acl": []any{map[string]any{"scheme": "sasl", "id": "x", "perms": "r"}}}, api.CodeInvalidACL)
	alice.fails(req{"op": "setACL", "path": "/none", "acl": []any{worldRead}}, api.CodeNoNode)
	alice.fails(req{"op": "getACL", "path": "/none"}, api.CodeNoNode)
	alice.fails(req{"op": "setData", "path": "/a", "acl": []any{worldRead}}, api.CodeBadArguments)
	anon.fails(req{"op": "getData", "path": "/b"}, api.CodeNoNode) // nothing was created

	// auth:: from alice: hers alone.
	alice.ok(req{"op": "create", "path": "/mine", "acl": []any{map[string]any{"scheme": "auth", "id": "", "perms": "cdrwa"}}}, nil)
	alice.ok(req{"op": "getACL", "path": "/mine"}, &res)
	if got, _ := json.Marshal(res.ACL); string(got) != `[{"scheme":"digest","id":"`+aclDigest("alice")+`","perms":"cdrwa"}]` {
		t.Errorf("auth::cdrwa from alice: %s", got)
	}
	anon.fails(req{"op": "getData", "path": "/mine"}, api.CodeNoAuth)
	// The super user passes.
	connectAs(t, tn, "super").ok(req{"op": "getData", "path": "/mine"}, nil)
}

// TestWSACLSetACLFiresNoWatch: a data watch stays silent through setACL
// and fires on the next data change.
func TestWSACLSetACLFiresNoWatch(t *testing.T) {
	t.Parallel()
	tn, _ := startSecureNode(t, aclSecurity)
	alice, carol := connectAs(t, tn, "alice"), connectAs(t, tn, "carol")
	alice.ok(req{"op": "create", "path": "/w", "acl": []any{digestEntry("alice", "cdrwa"), digestEntry("carol", "r")}}, nil)
	carol.ok(req{"op": "getData", "path": "/w", "watch": true}, nil)
	carol.ok(req{"op": "exists", "path": "/w", "watch": true}, nil)
	carol.addWatch("/w", "persistent")
	alice.ok(req{"op": "setACL", "path": "/w", "acl": []any{digestEntry("alice", "cdrwa"), digestEntry("carol", "r"), worldRead}}, nil)
	carol.noEvent()
	alice.setData("/w", "v")
	carol.event(changed, "/w")
}

// TestWSACLExistsWatchWithoutReadNeverFires: exists checks no ACL, so a
// caller without READ may set a watch with it, but (as in ZooKeeper 3.8)
// the watch never delivers an event about the node; a caller with READ
// gets them.
func TestWSACLExistsWatchWithoutReadNeverFires(t *testing.T) {
	t.Parallel()
	tn, _ := startSecureNode(t, aclSecurity)
	alice, bob, carol, anon := connectAs(t, tn, "alice"), connectAs(t, tn, "bob"), connectAs(t, tn, "carol"), connectAs(t, tn, "")
	private := []any{digestEntry("alice", "cdrwa"), digestEntry("carol", "r")}

	// A watch on a node that does not exist yet, created private.
	for _, c := range []*wsClient{bob, carol, anon} {
		c.ok(req{"op": "exists", "path": "/p", "watch": true}, nil)
	}
	alice.ok(req{"op": "create", "path": "/p", "data": "secret", "acl": private}, nil)
	carol.event(created, "/p")
	bob.noEvent()
	anon.noEvent()

	// A watch on the existing node: data change, then delete.
	for _, c := range []*wsClient{bob, carol, anon} {
		var ex struct {
			Stat *api.Stat `json:"stat"`
		}
		c.ok(req{"op": "exists", "path": "/p", "watch": true}, &ex)
		if ex.Stat == nil {
			t.Fatalf("exists /p: no stat")
		}
	}
	bob.fails(req{"op": "getData", "path": "/p", "watch": true}, api.CodeNoAuth)
	bob.fails(req{"op": "getChildren", "path": "/p", "watch": true}, api.CodeNoAuth)
	alice.setData("/p", "changed")
	carol.event(changed, "/p")
	bob.noEvent()
	anon.noEvent()
	for _, c := range []*wsClient{bob, carol, anon} {
		c.ok(req{"op": "exists", "path": "/p", "watch": true}, nil)
	}
	alice.delete("/p")
	carol.event(deleted, "/p")
	bob.noEvent()
	anon.noEvent()

	// The same watches on an open node fire for everyone.
	for _, c := range []*wsClient{bob, carol, anon} {
		c.ok(req{"op": "exists", "path": "/o", "watch": true}, nil)
	}
	alice.create("/o", "")
	for _, c := range []*wsClient{bob, carol, anon} {
		c.event(created, "/o")
	}
}

// TestWSACLRecursiveWatchSkipsUnreadableNodes: bob's persistent recursive
// watch on / reports the open nodes' events and none of alice's private
// node's; alice's own watch reports both.
func TestWSACLRecursiveWatchSkipsUnreadableNodes(t *testing.T) {
	t.Parallel()
	tn, _ := startSecureNode(t, aclSecurity)
	alice, bob, writer := connectAs(t, tn, "alice"), connectAs(t, tn, "bob"), connectAs(t, tn, "alice")
	bob.addWatch("/", "persistentRecursive")
	alice.addWatch("/", "persistentRecursive")
	writer.ok(req{"op": "create", "path": "/priv", "data": "s", "acl": []any{map[string]any{"scheme": "auth", "id": "", "perms": "cdrwa"}}}, nil)
	writer.create("/open", "o")
	writer.setData("/priv", "t")
	writer.setData("/open", "p")
	writer.delete("/priv")
	writer.delete("/open")

	type seen struct {
		typ  api.EventType
		path string
	}
	list := func(evs []api.Event) []seen {
		var out []seen
		for _, e := range evs {
			out = append(out, seen{e.Type, e.Path})
		}
		return out
	}
	wantBob := []seen{{created, "/open"}, {changed, "/open"}, {deleted, "/open"}}
	wantAlice := []seen{{created, "/priv"}, {created, "/open"}, {changed, "/priv"}, {changed, "/open"}, {deleted, "/priv"}, {deleted, "/open"}}
	testkit.WaitExplained(t, 10*time.Second, "alice's six events", func() (bool, string) {
		n := 0
		for _, f := range alice.frames() {
			if f.isEvent() {
				n++
			}
		}
		return n >= len(wantAlice), alice.dump()
	})
	if got := list(alice.settle()); !equalSeen(got, wantAlice) {
		t.Errorf("alice's recursive watch: %v, want %v", got, wantAlice)
	}
	if got := list(bob.settle()); !equalSeen(got, wantBob) {
		t.Errorf("bob's recursive watch: %v, want %v (nothing about /priv)", got, wantBob)
	}
}

func equalSeen[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestWSAuthSessionOwnership: attaching to another identity's session is
// NoAuth and leaves it alone; its owner attaches.
func TestWSAuthSessionOwnership(t *testing.T) {
	t.Parallel()
	tn, svc := startSecureNode(t, aclSecurity)
	aliceCaller, err := svc.Authenticate("127.0.0.1:1", service.Credentials{User: "alice", Password: aclPasswords["alice"], HasPassword: true})
	if err != nil {
		t.Fatal(err)
	}
	sess, _, err := svc.OpenSession(service.WithCaller(context.Background(), aliceCaller), 30000)
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"bob", ""} {
		c := connectAs(t, tn, who)
		c.fails(req{"op": "attach", "session": sess.ID.String()}, api.CodeNoAuth)
		c.fails(req{"op": "create", "path": "/e", "ephemeral": true}, api.CodeBadArguments) // not attached
	}
	alice := connectAs(t, tn, "alice")
	alice.ok(req{"op": "attach", "session": sess.ID.String()}, nil)
	var ps api.PathStat
	alice.ok(req{"op": "create", "path": "/e", "ephemeral": true}, &ps)
	if ps.Stat.EphemeralOwner != sess.ID {
		t.Errorf("ephemeral owner %s, want %s", ps.Stat.EphemeralOwner, sess.ID)
	}
}

// TestWSAuthRequiredRefusesAnonymousUpgrade: with --auth-required the
// upgrade itself is 401 without credentials.
func TestWSAuthRequiredRefusesAnonymousUpgrade(t *testing.T) {
	t.Parallel()
	tn, _ := startSecureNode(t, service.Security{AuthRequired: true, SuperDigest: api.Digest("super", "pw")})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, tn.wsURL(), nil)
	if err == nil {
		ws.CloseNow()
		t.Fatal("an anonymous upgrade succeeded under --auth-required")
	}
	if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous upgrade: %v (%+v), want 401", err, resp)
	}
	alice := connectAs(t, tn, "alice")
	alice.create("/c", "")
	var res api.ACLResult
	alice.ok(req{"op": "getACL", "path": "/c"}, &res)
	if got, _ := json.Marshal(res.ACL); string(got) != `[{"scheme":"digest","id":"`+aclDigest("alice")+`","perms":"cdrwa"}]` {
		t.Errorf("creator-all over the WebSocket: %s", got)
	}
}

// TestWSACLReplaySkipsUnreadableNodes: a watch that replays history
// (since_zxid) replays no event about a node its caller may not READ.
func TestWSACLReplaySkipsUnreadableNodes(t *testing.T) {
	t.Parallel()
	tn, _ := startSecureNode(t, aclSecurity)
	writer := connectAs(t, tn, "alice")
	mark := writer.create("/mark", "").Czxid
	writer.ok(req{"op": "create", "path": "/priv", "acl": []any{map[string]any{"scheme": "auth", "id": "", "perms": "cdrwa"}}}, nil)
	writer.create("/open", "")
	writer.setData("/priv", "x")
	writer.setData("/open", "y")

	bob, alice := connectAs(t, tn, "bob"), connectAs(t, tn, "alice")
	bob.ok(req{"op": "addWatch", "path": "/", "mode": "persistentRecursive", "since_zxid": mark}, nil)
	alice.ok(req{"op": "addWatch", "path": "/", "mode": "persistentRecursive", "since_zxid": mark}, nil)
	testkit.WaitExplained(t, 10*time.Second, "alice's replay", func() (bool, string) {
		n := 0
		for _, f := range alice.frames() {
			if f.isEvent() {
				n++
			}
		}
		return n >= 4, alice.dump()
	})
	paths := func(evs []api.Event) string {
		var s []string
		for _, e := range evs {
			s = append(s, string(e.Type)+" "+e.Path)
		}
		b, _ := json.Marshal(s)
		return string(b)
	}
	if got, want := paths(alice.settle()), `["NodeCreated /priv","NodeCreated /open","NodeDataChanged /priv","NodeDataChanged /open"]`; got != want {
		t.Errorf("alice's replay: %s, want %s", got, want)
	}
	if got, want := paths(bob.settle()), `["NodeCreated /open","NodeDataChanged /open"]`; got != want {
		t.Errorf("bob's replay: %s, want %s", got, want)
	}
}

// TestSSEACLSkipsUnreadableNodes: the event stream authenticates like
// the WebSocket and sends no event about a node its caller may not READ.
func TestSSEACLSkipsUnreadableNodes(t *testing.T) {
	t.Parallel()
	tn, _ := startSecureNode(t, aclSecurity)
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth("bob", aclPasswords["bob"])
	bob := openSSE(t, tn, "recursive=true", http.Header{"Authorization": r.Header["Authorization"]})
	bob.next(true) // the "watching" comment: the stream has started
	alice := connectAs(t, tn, "alice")
	alice.ok(req{"op": "create", "path": "/priv", "acl": []any{map[string]any{"scheme": "auth", "id": "", "perms": "cdrwa"}}}, nil)
	alice.setData("/priv", "x")
	alice.create("/open", "")
	if _, e := bob.event(); e.Type != created || e.Path != "/open" {
		t.Fatalf("bob's first event: %s %s, want NodeCreated /open (nothing about /priv)", e.Type, e.Path)
	}
}

// TestWSACLChildWatchFollowsTheParentsACL: a child watch is about its
// parent: it fires for a child the caller may not read, when it may read
// the parent; it cannot be set on a parent the caller may not read.
func TestWSACLChildWatchFollowsTheParentsACL(t *testing.T) {
	t.Parallel()
	tn, _ := startSecureNode(t, aclSecurity)
	alice, bob := connectAs(t, tn, "alice"), connectAs(t, tn, "bob")
	alice.create("/dir", "")
	bob.ok(req{"op": "getChildren", "path": "/dir", "watch": true}, nil)
	alice.ok(req{"op": "create", "path": "/dir/priv", "acl": []any{digestEntry("alice", "cdrwa")}}, nil)
	bob.event(children, "/dir")
	alice.ok(req{"op": "create", "path": "/pdir", "acl": []any{digestEntry("alice", "cdrwa")}}, nil)
	bob.fails(req{"op": "getChildren", "path": "/pdir", "watch": true}, api.CodeNoAuth)
	alice.create("/pdir/open", "")
	bob.noEvent()
}

// TestWSACLBadPermsAreInvalidACL: perms that are not letters of cdrwa
// (or a number from 0 to 31) make a malformed ACL: InvalidACL, as
// api.Perms reports it, not a malformed frame.
func TestWSACLBadPermsAreInvalidACL(t *testing.T) {
	t.Parallel()
	tn, _ := startSecureNode(t, aclSecurity)
	alice := connectAs(t, tn, "alice")
	alice.create("/a", "")
	for _, perms := range []any{"rx", 32, "rr"} {
		bad := []any{map[string]any{"scheme": "world", "id": "anyone", "perms": perms}}
		for _, r := range []req{
			{"op": "setACL", "path": "/a", "acl": bad},
			{"op": "create", "path": "/b", "acl": bad},
		} {
			if f := alice.call(r); f.Error == nil || f.Error.Code != api.CodeInvalidACL {
				t.Errorf("%v: answered %s, want InvalidACL", r, f.raw)
			}
		}
	}
}
