package wsnotify

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/testkit"
)

// Order, resume and backpressure over real sockets.

// evKey names one event for comparisons.
type evKey struct {
	zxid int64
	typ  api.EventType
	path string
}

func (k evKey) String() string { return fmt.Sprintf("%d %s %s", k.zxid, k.typ, k.path) }

func keyOf(e api.Event) evKey { return evKey{e.Zxid, e.Type, e.Path} }

func TestWSEventsArriveInZxidOrderUnderConcurrentWriters(t *testing.T) {
	t.Parallel()
	const writers, perWriter = 8, 125 // 1,000 writes
	tn := startNode(t)
	setup := connect(t, tn)
	setup.create("/ord", "")
	for w := 0; w < writers; w++ {
		setup.create(fmt.Sprintf("/ord/w%d", w), "")
	}
	watcher := connect(t, tn)
	watcher.addWatch("/ord", "persistentRecursive")

	// Each writer acknowledges zxids; every 5th write is a multi that makes
	// two events the recursive watch sees (and a NodeChildrenChanged it
	// must not see) at one zxid.
	var mu sync.Mutex
	want := map[int64][]evKey{}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		c := connect(t, tn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := fmt.Sprintf("/ord/w%d", w)
			for i := 0; i < perWriter; i++ {
				var keys []evKey
				if i%5 == 4 {
					f := c.call(req{"op": "multi", "ops": []req{
						{"op": "set", "path": node, "data": strconv.Itoa(i)},
						{"op": "create", "path": fmt.Sprintf("%s/c%d", node, i)},
					}})
					var res api.MultiResponse
					if f.Error != nil || json.Unmarshal(f.Result, &res) != nil {
						errs <- fmt.Errorf("writer %d multi %d: %s", w, i, f.raw)
						return
					}
					z := res.Results[0].Stat.Mzxid
					keys = []evKey{{z, changed, node}, {z, created, fmt.Sprintf("%s/c%d", node, i)}}
				} else {
					f := c.call(req{"op": "setData", "path": node, "data": strconv.Itoa(i)})
					var res api.PathStat
					if f.Error != nil || json.Unmarshal(f.Result, &res) != nil {
						errs <- fmt.Errorf("writer %d set %d: %s", w, i, f.raw)
						return
					}
					keys = []evKey{{res.Stat.Mzxid, changed, node}}
				}
				mu.Lock()
				want[keys[0].zxid] = keys
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(want) != writers*perWriter {
		t.Fatalf("%d distinct acknowledged zxids for %d writes", len(want), writers*perWriter)
	}
	total := 0
	for _, ks := range want {
		total += len(ks)
	}
	ok, _ := watcher.wait(30*time.Second, func(log []frame) bool {
		n := 0
		for _, f := range log {
			if f.isEvent() {
				n++
			}
		}
		return n >= total
	})
	if !ok {
		t.Fatalf("the watcher did not get %d events within 30 s; reading: %v", total, watcher.err())
	}
	var got []evKey
	for _, e := range watcher.settle() {
		got = append(got, keyOf(e))
	}
	// Zxids never go back; the events of one zxid are together and exactly
	// those its write made, in the order it made them.
	zxids := make([]int64, 0, len(want))
	for z := range want {
		zxids = append(zxids, z)
	}
	sort.Slice(zxids, func(i, j int) bool { return zxids[i] < zxids[j] })
	var expect []evKey
	for _, z := range zxids {
		expect = append(expect, want[z]...)
	}
	for i := 1; i < len(got); i++ {
		if got[i].zxid < got[i-1].zxid {
			t.Fatalf("event %d (%v) after %v: zxids went back", i, got[i], got[i-1])
		}
	}
	if len(got) != len(expect) {
		t.Fatalf("got %d events, want %d", len(got), len(expect))
	}
	for i := range expect {
		if got[i] != expect[i] {
			t.Fatalf("event %d: got %v, want %v (gap, duplicate or reorder)", i, got[i], expect[i])
		}
	}
}

// "a read's response precedes events its watch delivers": the data watch's
// event always follows the getData that set it, and shows a later zxid
// than the data the response showed; each watch fires once.
func TestWSReadResponsePrecedesItsWatchEvents(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	w, writer := connect(t, tn), connect(t, tn)
	writer.create("/rr", "0")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			writer.call(req{"op": "setData", "path": "/rr", "data": strconv.Itoa(i)})
		}
	}()
	for round := 0; round < 100; round++ {
		id := w.start(req{"op": "getData", "path": "/rr", "watch": true})
		resp, at := w.response(strconv.FormatInt(id, 10), 5*time.Second)
		var nd api.NodeData
		if resp.Error != nil || json.Unmarshal(resp.Result, &nd) != nil {
			t.Fatalf("getData: %s", resp.raw)
		}
		e, ok := w.nextEvent(5 * time.Second)
		if !ok {
			t.Fatalf("round %d: no event", round)
		}
		if w.evNext-1 < at {
			t.Fatalf("round %d: event %+v at frame %d came before its read's response at frame %d", round, e, w.evNext-1, at)
		}
		if e.Zxid <= nd.Stat.Mzxid {
			t.Fatalf("round %d: event at zxid %d, but the read already showed mzxid %d", round, e.Zxid, nd.Stat.Mzxid)
		}
	}
	close(stop)
	<-done
	w.noEvent() // each one-shot fired once
}

// "a write's response follows the events it caused", on the writer's own
// connection, while other writers run.
func TestWSWriteResponseFollowsTheEventsItCaused(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	c, other := connect(t, tn), connect(t, tn)
	c.create("/wr", "")
	other.create("/wr/o", "")
	c.addWatch("/wr", "persistentRecursive")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			other.call(req{"op": "setData", "path": "/wr/o", "data": "x"})
		}
	}()
	for i := 0; i < 100; i++ {
		id := c.start(req{"op": "setData", "path": "/wr", "data": strconv.Itoa(i)})
		resp, at := c.response(strconv.FormatInt(id, 10), 5*time.Second)
		var ps api.PathStat
		if json.Unmarshal(resp.Result, &ps) != nil {
			t.Fatalf("setData: %s", resp.raw)
		}
		found := -1
		for j, f := range c.frames() {
			if f.isEvent() && f.Event.Path == "/wr" && f.Event.Zxid == ps.Stat.Mzxid {
				found = j
			}
		}
		if found < 0 || found > at {
			t.Fatalf("write %d at zxid %d: its event at frame %d, its response at frame %d: %s", i, ps.Stat.Mzxid, found, at, c.dump())
		}
	}
	close(stop)
	<-done
}

// WS.md: "A connection gets each event at most once even if several of its
// watches match." A read's watch set while writes run must not repeat an
// event that the connection's persistent watch already delivered.
//
// Not parallel: the race it looks for needs the CPU the other tests take.
func TestWSConcurrentReadWatchDoesNotRepeatAnEvent(t *testing.T) {
	tn := startNode(t)
	w := connect(t, tn)
	w.create("/dd", "0")
	w.addWatch("/dd", "persistent")
	// Several writers, so that changes often apply between a read and the
	// registration of its watch.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for k := 0; k < 4; k++ {
		writer := connect(t, tn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				writer.call(req{"op": "setData", "path": "/dd", "data": strconv.Itoa(i)})
			}
		}()
	}
	// Stale reads skip the linearizing round trip, which widens nothing on
	// the server: the read and the watch still run back to back.
	// Read until a duplicate shows, for at most 5 s.
	seen := map[int64]int{}
	var dups []string
	scanned, reads := 0, 0
	for start := time.Now(); time.Since(start) < 5*time.Second && len(dups) == 0; {
		for i := 0; i < 50; i++ {
			w.call(req{"op": "getData", "path": "/dd", "watch": true, "consistency": "stale"})
			reads++
		}
		fs := w.frames()
		for ; scanned < len(fs); scanned++ {
			if e := fs[scanned].Event; e != nil {
				seen[e.Zxid]++
				if seen[e.Zxid] == 2 {
					dups = append(dups, fmt.Sprintf("zxid %d again at frame %d", e.Zxid, scanned))
				}
			}
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d reads with a watch, %d events", reads, len(seen))
	if len(dups) > 0 {
		t.Fatalf("BUG: %d events delivered twice on one connection (%d events in all): %s",
			len(dups), len(seen), strings.Join(dups[:min(5, len(dups))], "; "))
	}
}

func TestWSResumeWithSinceZxidDeliversExactlyTheMissedEvents(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	writer := connect(t, tn)
	writer.create("/res", "")
	a := connect(t, tn)
	a.addWatch("/res", "persistentRecursive")
	acked := []evKey{}
	write := func(i int) {
		p := fmt.Sprintf("/res/n%03d", i)
		st := writer.create(p, "")
		acked = append(acked, evKey{st.Czxid, created, p})
		st = writer.setData(p, "x")
		acked = append(acked, evKey{st.Mzxid, changed, p})
	}
	for i := 0; i < 25; i++ {
		write(i)
	}
	a.wait(10*time.Second, func(log []frame) bool { return len(log) >= 1+len(acked) })
	var seen []evKey
	for _, f := range a.frames() {
		if f.isEvent() {
			seen = append(seen, keyOf(*f.Event))
		}
	}
	if len(seen) != len(acked) {
		t.Fatalf("before the disconnect: saw %d events, want %d", len(seen), len(acked))
	}
	last := seen[len(seen)-1].zxid
	a.ws.CloseNow()

	for i := 25; i < 50; i++ {
		write(i)
	}
	writer.create("/other", "") // not under the watch
	b := connect(t, tn)
	var wr api.WatchResult
	b.ok(req{"op": "addWatch", "path": "/res", "mode": "persistentRecursive", "since_zxid": last}, &wr)
	if wr.Zxid != last || wr.Mode != "persistentRecursive" || wr.Path != "/res" {
		t.Fatalf("addWatch result %+v, want zxid %d", wr, last)
	}
	for i := 50; i < 55; i++ { // live ones after the replay
		write(i)
	}
	missed := acked[len(seen):]
	b.wait(10*time.Second, func(log []frame) bool { return len(log) >= 1+len(missed) })
	if f := b.frames()[0]; string(f.ID) != "1" {
		t.Fatalf("the first frame after addWatch is %s, want its result before the replay", f.raw)
	}
	var got []evKey
	for _, e := range b.settle() {
		got = append(got, keyOf(e))
	}
	if len(got) != len(missed) {
		t.Fatalf("after resuming: got %d events, want the %d missed and live ones", len(got), len(missed))
	}
	for i := range missed {
		if got[i] != missed[i] {
			t.Fatalf("after resuming, event %d: got %v, want %v", i, got[i], missed[i])
		}
	}
}

func TestWSSinceZxidOlderThanTheHistoryIsCompacted(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withHub(func(h *HubConfig) { h.History = 10 }))
	c := connect(t, tn)
	first := c.create("/cmp", "")
	for i := 0; i < 20; i++ {
		c.setData("/cmp", strconv.Itoa(i))
	}
	e := c.fails(req{"op": "addWatch", "path": "/cmp", "mode": "persistent", "since_zxid": first.Czxid}, api.CodeCompacted)
	if e.OldestZxid == nil || *e.OldestZxid <= first.Czxid || e.Path != "/cmp" {
		t.Fatalf("Compacted error %+v (oldest %v), want oldest_zxid after %d", e, e.OldestZxid, first.Czxid)
	}
	if h := tn.hub.Horizon(); *e.OldestZxid != h {
		t.Fatalf("oldest_zxid %d, hub horizon %d", *e.OldestZxid, h)
	}
	// Resuming from oldest_zxid works and replays what is held after it.
	var wr api.WatchResult
	c.ok(req{"op": "addWatch", "path": "/cmp", "mode": "persistent", "since_zxid": *e.OldestZxid}, &wr)
	c.wait(5*time.Second, func(log []frame) bool { return len(log) > 23 })
	n := 0
	for _, f := range c.frames() {
		if f.isEvent() {
			if f.Event.Zxid <= *e.OldestZxid {
				t.Fatalf("replayed zxid %d, not after %d", f.Event.Zxid, *e.OldestZxid)
			}
			n++
		}
	}
	if n == 0 || n > 10 {
		t.Fatalf("replayed %d events from a history of 10", n)
	}
	// A one-shot read is not affected by the history.
	c.ok(req{"op": "getData", "path": "/cmp", "watch": true}, nil)
}

// smallReadBuffer makes a client socket whose kernel receive buffer is
// small, so that a client that does not read stalls the server's writes
// after a few kilobytes rather than megabytes.
func smallReadBuffer(network, address string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	})
	if err != nil {
		return err
	}
	return serr
}

func slowDialOptions() *websocket.DialOptions {
	d := &net.Dialer{Control: smallReadBuffer}
	return &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}}
}

func TestWSSlowConsumerIsClosedWithResyncAndOthersAreServed(t *testing.T) {
	t.Parallel()
	// A queue of 256 holds a few multis of 50 events: the reading client
	// never overflows it, the stalled one soon does.
	tn := startNode(t, withHub(func(h *HubConfig) { h.QueueSize = 256 }))
	setup := connect(t, tn)
	// Long paths make big events: the stalled socket fills sooner.
	long := "/slow/" + strings.Repeat("p", 1000)
	setup.create("/slow", "")
	setup.create(long, "")

	slowWS := dial(t, tn, slowDialOptions())
	if err := slowWS.Write(context.Background(), websocket.MessageText, []byte(`{"id":1,"op":"addWatch","path":"/slow","mode":"persistentRecursive"}`)); err != nil {
		t.Fatal(err)
	}
	healthy := connect(t, tn)
	healthy.addWatch("/slow", "persistentRecursive")
	testkit.WaitFor(t, 5*time.Second, "both watches", func() bool { return tn.hub.WatchCount() == 2 })

	events := floodUntilDropped(t, tn, setup, long, "client")
	t.Logf("the non-reading client was dropped after %d events", events)

	// The healthy client got everything and still works.
	healthy.wait(20*time.Second, func(log []frame) bool { return len(log) >= 1+events })
	if n := len(healthy.settle()); n != events {
		t.Fatalf("the healthy client got %d events, want %d", n, events)
	}
	st := setup.setData(long, "y")
	if e := healthy.event(changed, long); e.Zxid != st.Mzxid {
		t.Fatalf("after the drop: %+v", e)
	}

	// The slow client, reading at last, finds what was sent, then 1008 resync.
	slow := newWSClient(t, slowWS)
	code, reason := slow.closed(15 * time.Second)
	if code != websocket.StatusPolicyViolation || reason != "resync" {
		t.Fatalf("the slow client was closed with %d %q, want 1008 \"resync\"", code, reason)
	}
	if n := len(slow.frames()); n == 0 || n > events+1 {
		t.Fatalf("the slow client read %d frames before the close", n)
	}
	// Its last event tells it where to resume.
	var lastZxid int64
	for _, f := range slow.frames() {
		if f.isEvent() {
			lastZxid = f.Event.Zxid
		}
	}
	again := connect(t, tn)
	again.ok(req{"op": "addWatch", "path": "/slow", "mode": "persistentRecursive", "since_zxid": lastZxid}, nil)
	again.event(changed, long)
}

// The queue bounds what a client that stops reading may cost; it must not
// drop a client that reads, nor make a zxid impossible to replay. One
// recursive delete of a subtree of more nodes than the queue holds (1,024
// by default) makes that many events at one zxid, published at once.
func TestWSAReadingClientSurvivesOneLargeTransaction(t *testing.T) {
	t.Parallel()
	const nodes = 2400
	tn := startNode(t) // the default queue of 1,024
	c := connect(t, tn)
	c.create("/bigtx", "")
	for start := 0; start < nodes; start += 600 {
		ops := make([]req, 600)
		for i := range ops {
			ops[i] = req{"op": "create", "path": fmt.Sprintf("/bigtx/c%04d", start+i)}
		}
		c.ok(req{"op": "multi", "ops": ops}, nil)
	}
	w := connect(t, tn)
	before := w.addWatch("/bigtx", "persistentRecursive")
	c.ok(req{"op": "delete", "path": "/bigtx", "recursive": true}, nil)

	ok, ended := w.wait(10*time.Second, func(log []frame) bool { return len(log) >= 1+nodes+1 })
	if !ok {
		code, reason := -1, ""
		if ended {
			sc, r := w.closed(time.Second)
			code, reason = int(sc), r
		}
		t.Errorf("BUG: a client reading as fast as it can got %d of the %d events of one recursive delete, "+
			"then the connection ended (close %d %q)", len(w.frames())-1, nodes+1, code, reason)
	}
	// Resuming from before that zxid must work too.
	r := connect(t, tn)
	r.ok(req{"op": "addWatch", "path": "/bigtx", "mode": "persistentRecursive", "since_zxid": before}, nil)
	ok, ended = r.wait(10*time.Second, func(log []frame) bool { return len(log) >= 1+nodes+1 })
	if !ok {
		code, reason := -1, ""
		if ended {
			sc, rs := r.closed(time.Second)
			code, reason = int(sc), rs
		}
		t.Errorf("BUG: resuming with since_zxid=%d got %d of %d replayed events, then the connection ended "+
			"(close %d %q): the replay overflows the queue again, so no client can ever get past this zxid",
			before, len(r.frames())-1, nodes+1, code, reason)
	}
}

// floodUntilDropped sets path through c, 50 times per multi, until the hub
// has dropped a subscriber for falling behind, and returns how many events
// that took. who names the subscriber that should be dropped.
func floodUntilDropped(t *testing.T, tn *testNode, c *wsClient, path, who string) int {
	t.Helper()
	ops := make([]req, 50)
	for i := range ops {
		ops[i] = req{"op": "set", "path": path, "data": "x"}
	}
	events := 0
	for tn.counter("canopy_watch_connections_dropped_total", "reason", "resync") == 0 {
		if events > 50000 {
			t.Fatalf("the non-reading %s is still served after %d events", who, events)
		}
		c.ok(req{"op": "multi", "ops": ops}, nil)
		events += len(ops)
	}
	return events
}
