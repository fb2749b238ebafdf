package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testnode"
	"github.com/canopy-coord/canopy/server"
)

// lines is the output so far, one entry per complete line.
func lines(s string) []string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return strings.Split(s[:i], "\n")
	}
	return nil
}

func TestWatchPrintsEveryEventUntilInterrupted(t *testing.T) {
	nd := testnode.Start(t)
	canopyAt(t, nd.URL, "create", "/w").ok(t)
	since, err := newClient(t, nd.URL).Sync(ctxT(t), "/")
	if err != nil {
		t.Fatal(err)
	}
	text := background(t, nd.URL, "watch", "-r", "/w")
	js := background(t, nd.URL, "watch", "-o", "json", "/w")
	// Once live, a watch says so on stderr.
	testkit.WaitFor(t, 15*time.Second, "the watches to be live", func() bool {
		return strings.HasPrefix(text.errOut.String(), "watching /w") && strings.HasPrefix(js.errOut.String(), "watching /w")
	})

	canopyAt(t, nd.URL, "create", "/w/a", "1").ok(t)
	canopyAt(t, nd.URL, "set", "/w/a", "2").ok(t)
	canopyAt(t, nd.URL, "set", "/w", "top").ok(t)
	canopyAt(t, nd.URL, "deleteall", "/w/a").ok(t)

	want := []string{"NodeCreated /w/a", "NodeDataChanged /w/a", "NodeDataChanged /w", "NodeDeleted /w/a"}
	testkit.WaitFor(t, 15*time.Second, "four events in text", func() bool { return len(lines(text.out.String())) >= len(want) })
	got := lines(text.out.String())
	for i, w := range want {
		if !strings.HasPrefix(got[i], w+" zxid=") {
			t.Errorf("event %d: %q, want %q zxid=N", i, got[i], w)
		}
	}
	// The persistent watch of /w itself sees its children change, and its
	// data: three events, as JSON objects with their zxids in order.
	testkit.WaitFor(t, 15*time.Second, "three events in JSON", func() bool { return len(lines(js.out.String())) >= 3 })
	var last int64
	for i, line := range lines(js.out.String()) {
		var ev api.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if ev.Path != "/w" || ev.Zxid <= last {
			t.Errorf("JSON event %d: %+v", i, ev)
		}
		last = ev.Zxid
	}
	if r := text.stop(); r.code != 0 || len(lines(r.out)) != len(want) {
		t.Errorf("watch after its interruption: exit %d, %d lines, stderr %q", r.code, len(lines(r.out)), r.err)
	}
	// --since replays them from the server's history, the same.
	replay := background(t, nd.URL, "watch", "-r", "--since", strconv.FormatInt(since, 10), "/w")
	testkit.WaitFor(t, 15*time.Second, "the replay", func() bool { return len(lines(replay.out.String())) >= len(want) })
	if r := replay.stop(); r.out != strings.Join(got, "\n")+"\n" {
		t.Errorf("watch --since %d printed\n%s\nwant\n%s", since, r.out, strings.Join(got, "\n"))
	}
	if r := js.stop(); r.code != 0 {
		t.Errorf("watch -o json after its interruption: exit %d: %s", r.code, r.err)
	}
}

func TestWatchOfACompactedHistoryFails(t *testing.T) {
	nd := testnode.Start(t, func(m *server.Main) { m.Limits.WatchHistory = 2 })
	for i := 0; i < 5; i++ {
		canopyAt(t, nd.URL, "create", "/h"+strconv.Itoa(i)).ok(t)
	}
	r := canopyAt(t, nd.URL, "watch", "--since", "1", "/")
	r.fails(t, exitError)
	if !strings.Contains(r.err, "Compacted") {
		t.Errorf("stderr %q", r.err)
	}
}

func TestGetAndLsWaitForOneEvent(t *testing.T) {
	nd := testnode.Start(t)
	canopyAt(t, nd.URL, "create", "/g", "before").ok(t)

	get := background(t, nd.URL, "get", "-w", "/g")
	// The data is printed once the watch is set.
	testkit.WaitFor(t, 15*time.Second, "get -w to read", func() bool { return get.out.String() != "" })
	canopyAt(t, nd.URL, "set", "/g", "after").ok(t)
	r := get.wait()
	if got := lines(r.out); r.code != 0 || len(got) != 2 || got[0] != "before" || !strings.HasPrefix(got[1], "NodeDataChanged /g zxid=") {
		t.Errorf("get -w: exit %d, printed %q, stderr %q", r.code, r.out, r.err)
	}

	canopyAt(t, nd.URL, "create", "/g/first").ok(t)
	ls := background(t, nd.URL, "ls", "-w", "/g")
	// The listing is printed once the watch is set.
	testkit.WaitFor(t, 15*time.Second, "ls -w to list", func() bool { return ls.out.String() != "" })
	canopyAt(t, nd.URL, "create", "/g/kid").ok(t)
	if r := ls.wait(); r.code != 0 || len(lines(r.out)) != 2 || lines(r.out)[0] != "first" || !strings.HasPrefix(lines(r.out)[1], "NodeChildrenChanged /g added kid zxid=") {
		t.Errorf("ls -w: exit %d, printed %q, stderr %q", r.code, r.out, r.err)
	}

	// Interrupted before its event: exit 130, as a shell reports it.
	get = background(t, nd.URL, "get", "-w", "/g")
	testkit.WaitFor(t, 15*time.Second, "get -w to read", func() bool { return get.out.String() != "" })
	if r := get.stop(); r.code != exitInterrupted || r.err != "canopy: interrupted\n" {
		t.Errorf("get -w interrupted: exit %d, stderr %q", r.code, r.err)
	}
}

func TestCreateEphemeralHoldsItsSessionUntilInterrupted(t *testing.T) {
	nd := testnode.Start(t)
	c := newClient(t, nd.URL)
	canopyAt(t, nd.URL, "create", "/locks").ok(t)
	cr := background(t, nd.URL, "create", "-es", "/locks/lock-")
	testkit.WaitFor(t, 15*time.Second, "the ephemeral node", func() bool { return strings.HasSuffix(cr.out.String(), "\n") })
	p := strings.TrimSpace(strings.TrimPrefix(cr.out.String(), "created "))
	if st := mustGet(t, c, p).Stat; st.EphemeralOwner == 0 {
		t.Fatalf("%s is not ephemeral: %+v", p, st)
	}
	if !strings.Contains(cr.errOut.String(), "holding session") {
		t.Errorf("create -e does not say it holds a session: %q", cr.errOut.String())
	}
	if r := cr.stop(); r.code != 0 {
		t.Fatalf("create -e interrupted: exit %d: %s", r.code, r.err)
	}
	// The session closed on the way out, and its node with it.
	if exists(t, c, p) {
		t.Errorf("%s outlived the command that held its session", p)
	}
}

func TestSessionVerbs(t *testing.T) {
	nd := testnode.Start(t)
	c := newClient(t, nd.URL)
	open := background(t, nd.URL, "session", "open", "--timeout", "2s")
	testkit.WaitFor(t, 15*time.Second, "the session id", func() bool { return strings.HasSuffix(open.out.String(), "\n") })
	id := strings.TrimSpace(open.out.String())
	if _, err := api.ParseID(id); err != nil {
		t.Fatalf("session open printed %q", open.out.String())
	}

	canopyAt(t, nd.URL, "create", "-e", "--session", id, "/eph", "mine").ok(t)
	if st := mustGet(t, c, "/eph").Stat; st.EphemeralOwner.String() != id {
		t.Errorf("/eph's owner is %s, want %s", st.EphemeralOwner, id)
	}
	if r := canopyAt(t, nd.URL, "session", "ls").ok(t); !strings.Contains(r.out, id) {
		t.Errorf("session ls does not list %s:\n%s", id, r.out)
	}
	r := canopyAt(t, nd.URL, "session", "get", id).ok(t)
	if !strings.Contains(r.out, "id = "+id+"\n") || !strings.Contains(r.out, "timeout = 2s\n") || !strings.Contains(r.out, "  /eph\n") {
		t.Errorf("session get printed\n%s", r.out)
	}
	var s api.Session
	decodeJSON(t, canopyAt(t, nd.URL, "session", "get", "-o", "json", id).ok(t).out, &s)
	if s.ID.String() != id || len(s.Ephemerals) != 1 {
		t.Errorf("session get -o json: %+v", s)
	}

	// Closed from elsewhere: its nodes go, and the command holding it
	// fails with the session's exit code.
	canopyAt(t, nd.URL, "session", "close", id).ok(t)
	if exists(t, c, "/eph") {
		t.Error("/eph outlived its session's close")
	}
	canopyAt(t, nd.URL, "session", "get", id).fails(t, exitSession)
	canopyAt(t, nd.URL, "session", "close", id).fails(t, exitSession)
	if r := open.wait(); r.code != exitSession {
		t.Errorf("session open after its session was closed: exit %d, want %d: %s", r.code, exitSession, r.err)
	}
}
