package wsnotify

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
)

// The trigger rules of WS.md end to end: a real node, real sockets, every
// write through a WebSocket op frame on a second connection.

func TestWSTriggers(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	// run gives each case its own pair of connections and its own subtree.
	run := func(name string, f func(t *testing.T, w, c *wsClient)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, connect(t, tn), connect(t, tn))
		})
	}

	run("getData watch fires once on setData, with the new stat", func(t *testing.T, w, c *wsClient) {
		c.create("/gd1", "v0")
		var got api.NodeData
		w.ok(req{"op": "getData", "path": "/gd1", "watch": true}, &got)
		if got.Data != "v0" {
			t.Fatalf("getData: %+v", got)
		}
		st := c.setData("/gd1", "v1")
		e := w.event(changed, "/gd1")
		if e.Zxid != st.Mzxid || e.Stat == nil || e.Stat.Version != 1 || e.Stat.Mzxid != st.Mzxid {
			t.Fatalf("event %+v (stat %+v), want zxid %d and the new stat %+v", e, e.Stat, st.Mzxid, st)
		}
		c.setData("/gd1", "v2")
		c.delete("/gd1")
		w.noEvent()
	})
	run("getData watch fires on delete", func(t *testing.T, w, c *wsClient) {
		c.create("/gd2", "")
		w.ok(req{"op": "getData", "path": "/gd2", "watch": true}, nil)
		c.delete("/gd2")
		if e := w.event(deleted, "/gd2"); e.Stat != nil {
			t.Fatalf("NodeDeleted carries a stat: %+v", e.Stat)
		}
		w.noEvent()
	})
	run("getData watch ignores children", func(t *testing.T, w, c *wsClient) {
		c.create("/gd3", "")
		w.ok(req{"op": "getData", "path": "/gd3", "watch": true}, nil)
		c.create("/gd3/kid", "")
		c.delete("/gd3/kid")
		w.noEvent()
		c.setData("/gd3", "x")
		w.event(changed, "/gd3")
	})
	run("getData on a missing node is NoNode and sets no watch", func(t *testing.T, w, c *wsClient) {
		w.fails(req{"op": "getData", "path": "/gd4", "watch": true}, api.CodeNoNode)
		c.create("/gd4", "")
		w.noEvent()
	})
	run("exists watch on a missing node fires NodeCreated with the stat", func(t *testing.T, w, c *wsClient) {
		var res struct {
			Path string          `json:"path"`
			Stat json.RawMessage `json:"stat"`
		}
		w.ok(req{"op": "exists", "path": "/ex1", "watch": true}, &res)
		if string(res.Stat) != "null" {
			t.Fatalf("exists on a missing node: stat %s, want null", res.Stat)
		}
		st := c.create("/ex1", "hi")
		e := w.event(created, "/ex1")
		if e.Zxid != st.Czxid || e.Stat == nil || e.Stat.DataLength != 2 {
			t.Fatalf("NodeCreated %+v stat %+v, want zxid %d and the new stat", e, e.Stat, st.Czxid)
		}
		c.setData("/ex1", "again")
		w.noEvent()
	})
	run("exists watch on an existing node fires on setData and delete", func(t *testing.T, w, c *wsClient) {
		c.create("/ex2", "")
		var res api.ExistsResult
		w.ok(req{"op": "exists", "path": "/ex2", "watch": true}, &res)
		if res.Stat == nil {
			t.Fatal("exists on an existing node: stat null")
		}
		c.setData("/ex2", "1")
		w.event(changed, "/ex2")
		w.ok(req{"op": "exists", "path": "/ex2", "watch": true}, nil)
		c.delete("/ex2")
		w.event(deleted, "/ex2")
		w.noEvent()
	})
	run("getChildren watch fires once on a child created, with child and change", func(t *testing.T, w, c *wsClient) {
		c.create("/gc1", "")
		c.create("/gc1/a", "")
		var res api.ChildrenResult
		w.ok(req{"op": "getChildren", "path": "/gc1", "watch": true}, &res)
		if len(res.Children) != 1 || res.Children[0] != "a" {
			t.Fatalf("getChildren: %+v", res)
		}
		c.create("/gc1/b", "")
		e := w.event(children, "/gc1")
		if e.Child != "b" || e.Change != "added" || e.Stat != nil {
			t.Fatalf("NodeChildrenChanged %+v, want child b added and no stat", e)
		}
		c.create("/gc1/c", "")
		w.noEvent()
	})
	run("getChildren watch fires on a child deleted", func(t *testing.T, w, c *wsClient) {
		c.create("/gc2", "")
		c.create("/gc2/a", "")
		w.ok(req{"op": "getChildren", "path": "/gc2", "watch": true}, nil)
		c.delete("/gc2/a")
		if e := w.event(children, "/gc2"); e.Child != "a" || e.Change != "removed" {
			t.Fatalf("NodeChildrenChanged %+v, want child a removed", e)
		}
	})
	run("getChildren watch ignores data and fires on the parent's delete", func(t *testing.T, w, c *wsClient) {
		c.create("/gc3", "")
		w.ok(req{"op": "getChildren", "path": "/gc3", "watch": true}, nil)
		c.setData("/gc3", "x")
		w.noEvent()
		c.delete("/gc3")
		w.event(deleted, "/gc3")
		w.noEvent()
	})
	run("getChildren on a missing node is NoNode and sets no watch", func(t *testing.T, w, c *wsClient) {
		w.fails(req{"op": "getChildren", "path": "/gc4", "watch": true}, api.CodeNoNode)
		c.create("/gc4", "")
		c.create("/gc4/a", "")
		w.noEvent()
	})
	run("persistent watch sees every event of its path and survives deletion", func(t *testing.T, w, c *wsClient) {
		w.addWatch("/p1", "persistent")
		c.create("/p1", "")
		w.event(created, "/p1")
		c.setData("/p1", "1")
		w.event(changed, "/p1")
		c.setData("/p1", "2")
		w.event(changed, "/p1")
		c.create("/p1/kid", "")
		if e := w.event(children, "/p1"); e.Child != "kid" || e.Change != "added" {
			t.Fatalf("NodeChildrenChanged %+v", e)
		}
		c.setData("/p1/kid", "not mine")
		w.noEvent()
		c.delete("/p1/kid")
		w.event(children, "/p1")
		c.delete("/p1")
		w.event(deleted, "/p1")
		c.create("/p1", "")
		w.event(created, "/p1")
	})
	run("persistentRecursive sees the subtree but no NodeChildrenChanged", func(t *testing.T, w, c *wsClient) {
		c.create("/r1", "")
		w.addWatch("/r1", "persistentRecursive")
		c.create("/r1/a", "")
		w.event(created, "/r1/a")
		c.create("/r1/a/b", "")
		w.event(created, "/r1/a/b")
		c.setData("/r1/a/b", "x")
		w.event(changed, "/r1/a/b")
		c.setData("/r1", "top")
		w.event(changed, "/r1")
		c.delete("/r1/a/b")
		w.event(deleted, "/r1/a/b")
		c.create("/r1x", "") // a sibling whose name starts the same
		w.noEvent()
	})
	run("recursive delete fires children before parents in one zxid", func(t *testing.T, w, c *wsClient) {
		for _, p := range []string{"/rd", "/rd/a", "/rd/a/x", "/rd/b"} {
			c.create(p, "")
		}
		w.addWatch("/rd", "persistentRecursive")
		w.ok(req{"op": "getChildren", "path": "/rd", "watch": true}, nil)
		c.ok(req{"op": "delete", "path": "/rd", "recursive": true}, nil)
		var zxid int64
		for i, want := range []struct {
			typ  api.EventType
			path string
		}{{deleted, "/rd/a/x"}, {deleted, "/rd/a"}, {children, "/rd"}, {deleted, "/rd/b"}, {deleted, "/rd"}} {
			e := w.event(want.typ, want.path)
			if i == 0 {
				zxid = e.Zxid
			} else if e.Zxid != zxid {
				t.Fatalf("%s %s at zxid %d, want %d like the rest", want.typ, want.path, e.Zxid, zxid)
			}
		}
		// The child watch on /rd fired on the first NodeChildrenChanged
		// /rd (the recursive watch never shows those): once.
		w.noEvent()
	})
	run("multi fires every watch its ops trigger, at one zxid", func(t *testing.T, w, c *wsClient) {
		c.create("/m", "")
		c.create("/m/d", "")
		w.ok(req{"op": "getData", "path": "/m/d", "watch": true}, nil)
		w.ok(req{"op": "getChildren", "path": "/m", "watch": true}, nil)
		w.ok(req{"op": "exists", "path": "/m/new", "watch": true}, nil)
		var res api.MultiResponse
		c.ok(req{"op": "multi", "ops": []req{
			{"op": "set", "path": "/m/d", "data": "1"},
			{"op": "create", "path": "/m/new"},
			{"op": "check", "path": "/m"},
		}}, &res)
		zxid := res.Results[0].Stat.Mzxid
		for _, want := range []struct {
			typ  api.EventType
			path string
		}{{changed, "/m/d"}, {created, "/m/new"}, {children, "/m"}} {
			if e := w.event(want.typ, want.path); e.Zxid != zxid {
				t.Fatalf("%s %s at zxid %d, want the multi's %d", want.typ, want.path, e.Zxid, zxid)
			}
		}
		w.noEvent()
		// A failed multi changes nothing and fires nothing.
		w.addWatch("/m", "persistentRecursive")
		f := c.call(req{"op": "multi", "ops": []req{
			{"op": "set", "path": "/m/d", "data": "2"},
			{"op": "delete", "path": "/m/missing"},
		}})
		if f.Error == nil || f.Error.Code != api.CodeNoNode || f.Error.Index == nil || *f.Error.Index != 1 {
			t.Fatalf("failed multi: got %s, want NoNode at index 1", f.raw)
		}
		w.noEvent()
	})
	run("a one-shot and a persistent watch on one path deliver the event once", func(t *testing.T, w, c *wsClient) {
		c.create("/dup", "")
		w.addWatch("/dup", "persistent")
		w.addWatch("/dup", "persistentRecursive") // "/" would see the other cases' events
		w.ok(req{"op": "getData", "path": "/dup", "watch": true}, nil)
		w.ok(req{"op": "getChildren", "path": "/dup", "watch": true}, nil)
		c.delete("/dup")
		w.event(deleted, "/dup")
		w.noEvent()
	})
	run("removeWatch stops the named kinds; NoWatcher when none", func(t *testing.T, w, c *wsClient) {
		c.create("/rw", "")
		w.ok(req{"op": "getData", "path": "/rw", "watch": true}, nil)
		w.addWatch("/rw", "persistent")
		var res map[string]string
		w.ok(req{"op": "removeWatch", "path": "/rw", "kind": "data"}, &res)
		if res["path"] != "/rw" || res["kind"] != "data" {
			t.Fatalf("removeWatch result %v", res)
		}
		w.fails(req{"op": "removeWatch", "path": "/rw", "kind": "data"}, api.CodeNoWatcher)
		w.fails(req{"op": "removeWatch", "path": "/rw", "kind": "children"}, api.CodeNoWatcher)
		c.setData("/rw", "1")
		w.event(changed, "/rw") // the persistent one
		w.ok(req{"op": "removeWatch", "path": "/rw", "kind": "any"}, nil)
		w.fails(req{"op": "removeWatch", "path": "/rw", "kind": "any"}, api.CodeNoWatcher)
		c.setData("/rw", "2")
		w.noEvent()
		w.fails(req{"op": "removeWatch", "path": "/rw", "kind": "sometimes"}, api.CodeBadArguments)
	})
}

// An ephemeral's session expires when nothing keeps it alive: its deletion
// fires the watches on it like any delete.
func TestWSSessionExpiryFiresNodeDeletedForEphemerals(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	sess, _, err := tn.node.CreateSession(context.Background(), 2000, nil)
	if err != nil {
		t.Fatal(err)
	}
	owner, w := connect(t, tn), connect(t, tn)
	owner.ok(req{"op": "attach", "session": sess.ID.String()}, nil)
	owner.create("/eph-parent", "")
	var res api.PathStat
	owner.ok(req{"op": "create", "path": "/eph-parent/e", "ephemeral": true}, &res)
	if res.Stat.EphemeralOwner != sess.ID {
		t.Fatalf("ephemeralOwner %s, want the attached session %s", res.Stat.EphemeralOwner, sess.ID)
	}
	w.ok(req{"op": "exists", "path": "/eph-parent/e", "watch": true}, nil)
	w.ok(req{"op": "getChildren", "path": "/eph-parent", "watch": true}, nil)
	w.addWatch("/eph-parent", "persistentRecursive")

	closedAt := time.Now()
	owner.ws.CloseNow() // the session outlives the socket...
	if _, _, err := tn.node.Tree().Session(sess.ID); err != nil {
		t.Fatalf("closing the socket closed the session: %v", err)
	}
	e, ok := w.nextEvent(8 * time.Second) // ...until its timeout
	if !ok {
		t.Fatalf("no event within 8 s of closing the owner's socket; frames: %s", w.dump())
	}
	if e.Type != deleted || e.Path != "/eph-parent/e" {
		t.Fatalf("got %s %s, want NodeDeleted /eph-parent/e", e.Type, e.Path)
	}
	if took := time.Since(closedAt); took < 1500*time.Millisecond {
		t.Fatalf("the ephemeral went %v after the socket closed: before the 2 s session timeout", took)
	}
	if e2, _ := w.nextEvent(time.Second); e2.Type != children || e2.Path != "/eph-parent" || e2.Zxid != e.Zxid {
		t.Fatalf("after NodeDeleted: got %+v, want NodeChildrenChanged /eph-parent at zxid %d (the child watch)", e2, e.Zxid)
	}
	w.noEvent()
	if _, _, err := tn.node.Tree().Session(sess.ID); api.CodeOf(err) != api.CodeSessionExpired {
		t.Fatalf("session after expiry: %v, want SessionExpired", err)
	}
}
