package wsnotify

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/service"
)

// The socket itself: bad input, limits, origins, sessions.

func TestWSBadFramesAnswerAnErrorAndKeepTheSocket(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	c := connect(t, tn)
	tests := []struct {
		name   string
		typ    websocket.MessageType
		frame  string
		wantID string // the id the error frame carries
		code   api.Code
	}{
		{"malformed JSON", websocket.MessageText, `{"id":1,"op":`, "null", api.CodeBadArguments},
		{"not an object", websocket.MessageText, `[1,2]`, "null", api.CodeBadArguments},
		{"JSON null", websocket.MessageText, `null`, "null", api.CodeBadArguments},
		{"empty frame", websocket.MessageText, ``, "null", api.CodeBadArguments},
		{"trailing data", websocket.MessageText, `{"id":2,"op":"ping"} {}`, "null", api.CodeBadArguments},
		{"binary frame", websocket.MessageBinary, `{"id":3,"op":"ping"}`, "null", api.CodeBadArguments},
		{"unknown op", websocket.MessageText, `{"id":4,"op":"frobnicate","path":"/"}`, "4", api.CodeBadArguments},
		{"no op", websocket.MessageText, `{"id":5}`, "5", api.CodeBadArguments},
		{"path of the wrong type", websocket.MessageText, `{"id":6,"op":"getData","path":5}`, "6", api.CodeBadArguments},
		{"watch of the wrong type", websocket.MessageText, `{"id":7,"op":"getData","path":"/","watch":"yes"}`, "7", api.CodeBadArguments},
		{"since_zxid of the wrong type", websocket.MessageText, `{"id":8,"op":"addWatch","path":"/","mode":"persistent","since_zxid":"3"}`, "8", api.CodeBadArguments},
		{"unknown field", websocket.MessageText, `{"id":9,"op":"ping","bogus":true}`, "9", api.CodeBadArguments},
		{"field in the wrong case", websocket.MessageText, `{"id":10,"op":"getData","Path":"/"}`, "10", api.CodeBadArguments},
		{"unknown field in a multi op", websocket.MessageText, `{"id":11,"op":"multi","ops":[{"op":"check","path":"/","bogus":1}]}`, "11", api.CodeBadArguments},
		{"string id", websocket.MessageText, `{"id":"req-12","op":"nope"}`, `"req-12"`, api.CodeBadArguments},
		{"relative path", websocket.MessageText, `{"id":13,"op":"getData","path":"a"}`, "13", api.CodeBadArguments},
		{"trailing slash", websocket.MessageText, `{"id":14,"op":"exists","path":"/a/"}`, "14", api.CodeBadArguments},
		{"unknown watch mode", websocket.MessageText, `{"id":15,"op":"addWatch","path":"/","mode":"forever"}`, "15", api.CodeBadArguments},
		{"negative since_zxid", websocket.MessageText, `{"id":16,"op":"addWatch","path":"/","mode":"persistent","since_zxid":-1}`, "16", api.CodeBadArguments},
		{"unknown consistency", websocket.MessageText, `{"id":17,"op":"getData","path":"/","consistency":"eventual"}`, "17", api.CodeBadArguments},
		{"unknown encoding", websocket.MessageText, `{"id":18,"op":"getData","path":"/","encoding":"hex"}`, "18", api.CodeBadArguments},
		{"malformed session", websocket.MessageText, `{"id":19,"op":"attach","session":"xyz"}`, "19", api.CodeBadArguments},
		{"session zero", websocket.MessageText, `{"id":20,"op":"attach","session":"0x0"}`, "20", api.CodeBadArguments},
		{"parents on setData", websocket.MessageText, `{"id":21,"op":"setData","path":"/","parents":true}`, "21", api.CodeBadArguments},
		{"ephemeral without a session", websocket.MessageText, `{"id":22,"op":"create","path":"/e","ephemeral":true}`, "22", api.CodeBadArguments},
		{"bad base64", websocket.MessageText, `{"id":23,"op":"create","path":"/b","data":"!!","encoding":"base64"}`, "23", api.CodeBadArguments},
		{"a write to /zookeeper", websocket.MessageText, `{"id":24,"op":"create","path":"/zookeeper/x"}`, "24", api.CodeBadArguments},
	}
	for _, tc := range tests {
		before := len(c.frames())
		c.sendRaw(tc.typ, []byte(tc.frame))
		ok, ended := c.wait(5*time.Second, func(log []frame) bool { return len(log) > before })
		if !ok {
			t.Fatalf("%s: no answer to %q (connection ended: %v, %v)", tc.name, tc.frame, ended, c.err())
		}
		f := c.frames()[before]
		if f.Error == nil || f.Error.Code != tc.code || string(f.ID) != tc.wantID || f.Error.Message == "" {
			t.Errorf("%s: %q answered %s, want an error %s with id %s and a message", tc.name, tc.frame, f.raw, tc.code, tc.wantID)
		}
		// The socket stays usable.
		var pong map[string]int64
		c.ok(req{"op": "ping"}, &pong)
		if pong["zxid"] < 1 {
			t.Fatalf("%s: ping after it answered %v", tc.name, pong)
		}
	}
	// Nothing was created by the refused writes.
	for _, p := range []string{"/e", "/b", "/zookeeper/x"} {
		c.fails(req{"op": "getData", "path": p}, api.CodeNoNode)
	}
}

func TestWSIDsAreEchoedAsSent(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	c := connect(t, tn)
	for _, id := range []string{`7`, `"seven"`, `7.5`, `true`, `-3`} {
		before := len(c.frames())
		c.sendRaw(websocket.MessageText, []byte(`{"id":`+id+`,"op":"ping"}`))
		c.wait(5*time.Second, func(log []frame) bool { return len(log) > before })
		if f := c.frames()[before]; string(f.ID) != id || f.Error != nil {
			t.Errorf("id %s: answered %s", id, f.raw)
		}
	}
	// No id: the answer says null.
	before := len(c.frames())
	c.sendRaw(websocket.MessageText, []byte(`{"op":"ping"}`))
	c.wait(5*time.Second, func(log []frame) bool { return len(log) > before })
	if f := c.frames()[before]; string(f.ID) != "null" || f.Result == nil {
		t.Errorf("no id: answered %s, want id null and a result", f.raw)
	}
}

func TestWSPingAndSyncAnswerTheAppliedZxid(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	c := connect(t, tn)
	st := c.create("/z", "")
	var pong, synced map[string]int64
	c.ok(req{"op": "ping"}, &pong)
	c.ok(req{"op": "sync", "path": "/"}, &synced)
	if pong["zxid"] < st.Czxid || synced["zxid"] < st.Czxid {
		t.Fatalf("ping %v, sync %v after a write at %d", pong, synced, st.Czxid)
	}
}

func TestWSFrameOverTheReadLimitClosesWith1009(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withLimits(func(l *service.Limits) { l.MaxBodyBytes = 64 << 10 }))
	c := connect(t, tn)
	// Just under the limit is fine.
	c.create("/big", strings.Repeat("x", 60<<10))
	big := `{"id":1,"op":"create","path":"/big2","data":"` + strings.Repeat("x", 70<<10) + `"}`
	c.sendRaw(websocket.MessageText, []byte(big))
	code, reason := c.closed(5 * time.Second)
	if code != websocket.StatusMessageTooBig {
		t.Fatalf("close: %d %q, want 1009", code, reason)
	}
	// The node is fine and did not apply the refused frame.
	if _, _, _, err := tn.node.Tree().Get("/big2"); api.CodeOf(err) != api.CodeNoNode {
		t.Fatalf("/big2: %v, want NoNode", err)
	}
	connect(t, tn).ok(req{"op": "ping"}, nil)
}

func TestWSOriginCheck(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withConfig(func(c *Config) { c.OriginPatterns = []string{"trusted.example"} }))
	tests := []struct {
		origin string
		status int // 101 when the upgrade happens
	}{
		{"", http.StatusSwitchingProtocols}, // a non-browser client
		{"http://" + tn.addr, http.StatusSwitchingProtocols},
		{"http://trusted.example", http.StatusSwitchingProtocols},
		{"https://trusted.example", http.StatusSwitchingProtocols},
		{"http://evil.example", http.StatusForbidden},
		{"http://trusted.example.evil.example", http.StatusForbidden},
		{"http://127.0.0.1:1", http.StatusForbidden}, // same host, another port
		{"null", http.StatusForbidden},
	}
	for _, tc := range tests {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ws, resp, err := websocket.Dial(ctx, tn.wsURL(), &websocket.DialOptions{HTTPHeader: h})
		cancel()
		got := 0
		if resp != nil {
			got = resp.StatusCode
		}
		if got != tc.status {
			t.Errorf("Origin %q: HTTP %d (%v), want %d", tc.origin, got, err, tc.status)
		}
		if ws != nil {
			c := newWSClient(t, ws)
			c.ok(req{"op": "ping"}, nil)
			ws.CloseNow()
		}
	}
}

func TestWSMaxWatchesIsThrottled(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withHub(func(h *HubConfig) { h.MaxWatches = 3 }))
	c := connect(t, tn)
	c.create("/t", "")
	c.addWatch("/t", "persistent")
	c.addWatch("/t", "persistentRecursive")
	c.ok(req{"op": "getData", "path": "/t", "watch": true}, nil)
	e := c.fails(req{"op": "getChildren", "path": "/t", "watch": true}, api.CodeThrottled)
	if e.Path != "/t" {
		t.Errorf("Throttled path %q", e.Path)
	}
	c.fails(req{"op": "addWatch", "path": "/u", "mode": "persistent"}, api.CodeThrottled)
	c.fails(req{"op": "exists", "path": "/u", "watch": true}, api.CodeThrottled)
	// The same watch again is not a new one; a read without a watch is fine.
	c.ok(req{"op": "getData", "path": "/t", "watch": true}, nil)
	c.ok(req{"op": "getChildren", "path": "/t"}, nil)
	// Another connection has its own budget.
	connect(t, tn).ok(req{"op": "getChildren", "path": "/t", "watch": true}, nil)
	// Removing one frees its place.
	c.ok(req{"op": "removeWatch", "path": "/t", "kind": "persistent"}, nil)
	c.ok(req{"op": "getChildren", "path": "/t", "watch": true}, nil)
}

func TestWSAttach(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	newSession := func(t *testing.T) api.Session {
		s, _, err := tn.node.CreateSession(context.Background(), 2000, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	alive := func(id api.ID) bool {
		_, _, err := tn.node.Tree().Session(id)
		return err == nil
	}

	t.Run("unknown session is SessionExpired", func(t *testing.T) {
		t.Parallel()
		connect(t, tn).fails(req{"op": "attach", "session": "0x1234abcd"}, api.CodeSessionExpired)
	})
	t.Run("result and ephemeral ownership", func(t *testing.T) {
		t.Parallel()
		s := newSession(t)
		c := connect(t, tn)
		var res api.AttachResult
		c.ok(req{"op": "attach", "session": s.ID.String()}, &res)
		if res.Session != s.ID || res.TimeoutMs != 2000 {
			t.Fatalf("attach: %+v, want %s and 2000 ms", res, s.ID)
		}
		var ps api.PathStat
		c.ok(req{"op": "create", "path": "/owned", "ephemeral": true}, &ps)
		if ps.Stat.EphemeralOwner != s.ID {
			t.Fatalf("ephemeralOwner %s, want %s", ps.Stat.EphemeralOwner, s.ID)
		}
		var mr api.MultiResponse
		c.ok(req{"op": "multi", "ops": []req{{"op": "create", "path": "/owned2", "ephemeral": true}}}, &mr)
		if got := mr.Results[0].Stat.EphemeralOwner; got != s.ID {
			t.Fatalf("ephemeral created by multi: owner %s, want %s", got, s.ID)
		}
		info, _, _ := tn.node.Tree().Session(s.ID)
		if len(info.Ephemerals) != 2 {
			t.Fatalf("session ephemerals %v, want /owned and /owned2", info.Ephemerals)
		}
	})
	// WS.md: "socket traffic (any frame, and pongs to server pings every
	// timeout/3) keeps the session alive".
	t.Run("pongs alone keep a 2 s session alive", func(t *testing.T) {
		t.Parallel()
		s := newSession(t)
		c := connect(t, tn) // its read loop answers the server's pings
		// A client that has been connected a moment before it attaches: the
		// server's ping loop is already waiting out its idle interval.
		c.ok(req{"op": "ping"}, nil)
		time.Sleep(100 * time.Millisecond)
		c.ok(req{"op": "attach", "session": s.ID.String()}, nil)
		deadline := time.Now().Add(4500 * time.Millisecond)
		for time.Now().Before(deadline) {
			if !alive(s.ID) {
				t.Fatalf("BUG: the session of an open, idle, attached socket expired %v after attach: "+
					"the server keeps pinging at the idle interval (20 s) it chose before the attach, not every timeout/3", 4500*time.Millisecond-time.Until(deadline))
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	t.Run("frames keep a 2 s session alive; closing the socket does not close it", func(t *testing.T) {
		t.Parallel()
		s := newSession(t)
		c := connect(t, tn)
		c.ok(req{"op": "attach", "session": s.ID.String()}, nil)
		deadline := time.Now().Add(4500 * time.Millisecond)
		var lastSent time.Time
		for time.Now().Before(deadline) {
			if !alive(s.ID) {
				t.Fatal("the session of a socket sending a frame every 500 ms expired")
			}
			lastSent = time.Now()
			c.ok(req{"op": "ping"}, nil)
			time.Sleep(500 * time.Millisecond)
		}
		c.ws.Close(websocket.StatusNormalClosure, "")
		if !alive(s.ID) {
			t.Fatal("closing the socket closed the session")
		}
		testkit.WaitFor(t, 6*time.Second, "the session to expire", func() bool { return !alive(s.ID) })
		// The timeout is a lower bound from the last frame the server got
		// (it touched the session on receipt, after lastSent).
		if took := time.Since(lastSent); took < 2*time.Second {
			t.Fatalf("the session ended %v after the last frame was sent, before its 2 s timeout", took)
		}
	})
	t.Run("a session that ends is reported on the next frame", func(t *testing.T) {
		t.Parallel()
		s := newSession(t)
		c := connect(t, tn)
		c.ok(req{"op": "attach", "session": s.ID.String()}, nil)
		if _, _, err := tn.node.Propose(context.Background(), &fsm.Command{Op: fsm.OpCloseSession, Session: s.ID}); err != nil {
			t.Fatal(err)
		}
		id := c.start(req{"op": "ping"})
		pong, at := c.response(strconv.FormatInt(id, 10), 5*time.Second)
		if pong.Error != nil {
			t.Fatalf("ping: %s", pong.raw)
		}
		found := false
		for _, f := range c.frames()[:at] {
			if f.Error != nil && f.Error.Code == api.CodeSessionExpired && string(f.ID) == "null" {
				found = true
			}
		}
		if !found {
			t.Fatalf("no SessionExpired frame (id null) before the ping's answer: %s", c.dump())
		}
		// Detached now: an ephemeral has no session to belong to.
		c.fails(req{"op": "create", "path": "/late", "ephemeral": true}, api.CodeBadArguments)
	})
}
