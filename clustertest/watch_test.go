package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/canopy-coord/canopy/api"
)

// wsFrame is any frame the server sends.
type wsFrame struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *api.Error      `json:"error"`
	Event  *struct {
		Type string `json:"type"`
		Path string `json:"path"`
		Zxid int64  `json:"zxid"`
	} `json:"event"`
}

func TestWatchOnFollowerSeesWritesThroughOtherNodes(t *testing.T) {
	c := startCluster(t, 3)
	leader := c.leader(t)
	fs := c.followers(t)
	watcher, other := fs[0], fs[1]
	mustCreate(t, leader, "/w", "")
	// The watcher's watches start at its applied zxid: let it apply /w first.
	if r := get(watcher, "/v1/nodes/w", requestTimeout); r.Status != http.StatusOK {
		t.Fatalf("linearizable read of /w on %s: %s", watcher.id, r)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+watcher.http+"/v1/watch", nil)
	if err != nil {
		t.Fatalf("dial the watch endpoint of %s: %v", watcher.id, err)
	}
	defer ws.CloseNow()
	send := func(frame string) {
		t.Helper()
		if err := ws.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
			t.Fatal(err)
		}
	}
	read := func() wsFrame {
		t.Helper()
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("read a frame from %s: %v", watcher.id, err)
		}
		var f wsFrame
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("frame %s: %v", b, err)
		}
		if f.Error != nil {
			t.Fatalf("error frame: %s", b)
		}
		return f
	}
	send(`{"id":1,"op":"addWatch","path":"/w","mode":"persistentRecursive"}`)
	if f := read(); f.Result == nil {
		t.Fatalf("addWatch: %+v", f)
	}
	// A one-shot data watch on /w too: its event must come once only.
	send(`{"id":2,"op":"getData","path":"/w","watch":true}`)
	if f := read(); f.Result == nil {
		t.Fatalf("getData: %+v", f)
	}

	// Writes through the leader and the other follower, never the watcher.
	type write struct {
		nd           *node
		method, path string
		wantEvent    string
	}
	writes := []write{
		{leader, http.MethodPost, "/w/a", "NodeCreated"},
		{other, http.MethodPut, "/w/a", "NodeDataChanged"},
		{other, http.MethodDelete, "/w/a", "NodeDeleted"},
		{leader, http.MethodPut, "/w", "NodeDataChanged"},
	}
	var want []string
	for _, w := range writes {
		r := call(w.nd, w.method, "/v1/nodes"+w.path, []byte("x"), requestTimeout)
		if r.Status/100 != 2 {
			t.Fatalf("%s %s through %s: %s", w.method, w.path, w.nd.id, r)
		}
		want = append(want, fmt.Sprintf("%s %s @%d", w.wantEvent, w.path, r.Zxid))
	}
	var got []string
	for len(got) < len(want) {
		f := read()
		if f.Event == nil {
			t.Fatalf("unexpected frame %+v", f)
		}
		got = append(got, fmt.Sprintf("%s %s @%d", f.Event.Type, f.Event.Path, f.Event.Zxid))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events on follower %s:\n got %v\nwant %v", watcher.id, got, want)
	}
	// Nothing more: a ping's answer is the next frame.
	send(`{"id":3,"op":"ping"}`)
	if f := read(); f.Event != nil || string(f.ID) != "3" {
		t.Errorf("frame after the expected events: %+v, want the ping's answer", f)
	}
}
