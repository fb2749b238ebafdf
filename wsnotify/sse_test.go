package wsnotify

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/testkit"
)

// sseMsg is one Server-Sent Events message, or one comment line.
type sseMsg struct {
	comment, event, id, data string
}

// sseStream reads a GET /v1/events response in the background.
type sseStream struct {
	t    testing.TB
	resp *http.Response
	msgs chan sseMsg // closed when the stream ends
}

// getSSE sends GET /v1/events?query with the given headers and returns the
// response; the body is closed when the test ends.
func getSSE(t testing.TB, tn *testNode, query string, header http.Header) *http.Response {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", tn.httpURL()+"/v1/events?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET /v1/events?%s: %v", query, err)
	}
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
	return resp
}

// openSSE opens a stream that must answer 200.
func openSSE(t testing.TB, tn *testNode, query string, header http.Header) *sseStream {
	t.Helper()
	resp := getSSE(t, tn, query, header)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /v1/events?%s: %d %s", query, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	s := &sseStream{t: t, resp: resp, msgs: make(chan sseMsg, 10000)}
	go s.read()
	return s
}

func (s *sseStream) read() {
	defer close(s.msgs)
	r := bufio.NewReader(s.resp.Body)
	var m sseMsg
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if m != (sseMsg{}) {
				s.msgs <- m
			}
			m = sseMsg{}
		case strings.HasPrefix(line, ":"):
			s.msgs <- sseMsg{comment: strings.TrimSpace(line[1:])}
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				m.id = value
			case "event":
				m.event = value
			case "data":
				m.data += value
			}
		}
	}
}

// next returns the next message, skipping comments unless asked for.
func (s *sseStream) next(comments bool) sseMsg {
	s.t.Helper()
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				s.t.Fatal("the event stream ended")
			}
			if m.comment != "" && !comments {
				continue
			}
			return m
		case <-time.After(5 * time.Second):
			s.t.Fatal("no event on the stream within 5 s")
		}
	}
}

// event returns the next event message with its id and decoded data.
func (s *sseStream) event() (string, api.Event) {
	s.t.Helper()
	m := s.next(false)
	var e api.Event
	if m.event != "" || json.Unmarshal([]byte(m.data), &e) != nil {
		s.t.Fatalf("got message %+v, want an event", m)
	}
	return m.id, e
}

func TestSSEStreamsEventsWithZxidSlashIndexIDs(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	c := connect(t, tn)
	c.create("/s", "")
	applied := tn.node.Applied()
	rec := openSSE(t, tn, "path=/s&recursive", nil)
	own := openSSE(t, tn, "path=/s", nil)
	all := openSSE(t, tn, "recursive=true", nil) // the path defaults to /
	// The stream starts from the zxid applied when it opened: /s's create,
	// or an entry of the node's own committed since (a member record).
	var from int64
	if m := rec.next(true); !sscanf(m.comment, "watching /s from zxid %d", &from) || from < applied || from > tn.node.Applied() {
		t.Fatalf("first line: %+v, want the watching comment from zxid %d or later", m, applied)
	}
	if z := rec.resp.Header.Get("Canopy-Zxid"); z != strconv.FormatInt(from, 10) {
		t.Fatalf("Canopy-Zxid %q, want %d, the zxid the stream starts from", z, from)
	}
	var fromAll int64
	if m := all.next(true); !sscanf(m.comment, "watching / from zxid %d", &fromAll) || fromAll < applied {
		t.Fatalf("first line of the / stream: %+v", m)
	}
	// A multi's events are numbered within its zxid: NodeCreated a (0),
	// NodeChildrenChanged /s (1), NodeCreated b (2), NodeChildrenChanged (3).
	var res api.MultiResponse
	c.ok(req{"op": "multi", "ops": []req{{"op": "create", "path": "/s/a"}, {"op": "create", "path": "/s/b"}}}, &res)
	z := res.Results[0].Stat.Czxid
	for _, want := range []struct {
		s    *sseStream
		id   string
		typ  api.EventType
		path string
	}{
		{rec, fmt.Sprintf("%d/0", z), created, "/s/a"},
		{rec, fmt.Sprintf("%d/2", z), created, "/s/b"},
		{own, fmt.Sprintf("%d/1", z), children, "/s"},
		{own, fmt.Sprintf("%d/3", z), children, "/s"},
		{all, fmt.Sprintf("%d/0", z), created, "/s/a"},
		{all, fmt.Sprintf("%d/2", z), created, "/s/b"},
	} {
		id, e := want.s.event()
		if id != want.id || e.Type != want.typ || e.Path != want.path || e.Zxid != z {
			t.Fatalf("got id %s %+v, want id %s %s %s", id, e, want.id, want.typ, want.path)
		}
	}
	st := c.setData("/s", "x")
	if id, e := own.event(); id != fmt.Sprintf("%d/0", st.Mzxid) || e.Type != changed || e.Stat == nil {
		t.Fatalf("setData on the stream: id %s %+v", id, e)
	}
}

func TestSSEResumesWithLastEventIDAndSinceZxid(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	c := connect(t, tn)
	c.create("/l", "")
	start := tn.node.Applied()
	var res api.MultiResponse
	c.ok(req{"op": "multi", "ops": []req{
		{"op": "create", "path": "/l/a"}, {"op": "create", "path": "/l/b"}, {"op": "create", "path": "/l/c"},
	}}, &res)
	z := res.Results[0].Stat.Czxid
	st := c.setData("/l/a", "1")

	// Last-Event-ID: right after that event, within its zxid and after it.
	s := openSSE(t, tn, "path=/l&recursive", http.Header{"Last-Event-Id": {fmt.Sprintf("%d/0", z)}})
	for _, want := range []string{fmt.Sprintf("%d/2", z), fmt.Sprintf("%d/4", z), fmt.Sprintf("%d/0", st.Mzxid)} {
		if id, _ := s.event(); id != want {
			t.Fatalf("after Last-Event-ID %d/0: got id %s, want %s", z, id, want)
		}
	}
	// The last event of a zxid: the next zxid follows.
	s = openSSE(t, tn, "path=/l&recursive", http.Header{"Last-Event-Id": {fmt.Sprintf("%d/4", z)}})
	if id, _ := s.event(); id != fmt.Sprintf("%d/0", st.Mzxid) {
		t.Fatalf("after Last-Event-ID %d/4: got id %s", z, id)
	}
	// since_zxid replays every event after it, then goes live.
	s = openSSE(t, tn, "path=/l&recursive&since_zxid="+strconv.FormatInt(start, 10), nil)
	for _, want := range []string{"/l/a", "/l/b", "/l/c", "/l/a"} {
		if _, e := s.event(); e.Path != want {
			t.Fatalf("since_zxid=%d: got %+v, want %s", start, e, want)
		}
	}
	c.create("/l/d", "")
	if _, e := s.event(); e.Path != "/l/d" || e.Type != created {
		t.Fatalf("live after the replay: %+v", e)
	}
}

func TestSSERefusesBadRequests(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	tests := []struct {
		query  string
		header http.Header
	}{
		{"path=/&bogus=1", nil},
		{"Path=/", nil},
		{"path=nope", nil},
		{"path=/&recursive=maybe", nil},
		{"since_zxid=-1", nil},
		{"since_zxid=abc", nil},
		{"path=/%zz", nil},
		{"path=/", http.Header{"Last-Event-Id": {"12"}}},
		{"path=/", http.Header{"Last-Event-Id": {"0/0"}}},
		{"path=/", http.Header{"Last-Event-Id": {"5/-1"}}},
	}
	for _, tc := range tests {
		resp := getSSE(t, tn, tc.query, tc.header)
		var body api.ErrorBody
		err := json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != http.StatusBadRequest || err != nil || body.Error == nil ||
			body.Error.Code != api.CodeBadArguments || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("?%s %v: %d %+v (%v), want 400 BadArguments as JSON", tc.query, tc.header, resp.StatusCode, body.Error, err)
		}
		resp.Body.Close()
	}
}

func TestSSESinceZxidOlderThanTheHistoryIs410Compacted(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withHub(func(h *HubConfig) { h.History = 10 }))
	c := connect(t, tn)
	first := c.create("/old", "")
	for i := 0; i < 20; i++ {
		c.setData("/old", strconv.Itoa(i))
	}
	for _, tc := range []struct {
		query  string
		header http.Header
	}{
		{"path=/old&since_zxid=" + strconv.FormatInt(first.Czxid, 10), nil},
		{"path=/old", http.Header{"Last-Event-Id": {fmt.Sprintf("%d/0", first.Czxid)}}},
	} {
		resp := getSSE(t, tn, tc.query, tc.header)
		var body api.ErrorBody
		err := json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != http.StatusGone || err != nil || body.Error == nil || body.Error.Code != api.CodeCompacted ||
			body.Error.OldestZxid == nil || *body.Error.OldestZxid != tn.hub.Horizon() {
			t.Fatalf("?%s %v: %d %+v (%v), want 410 Compacted with oldest_zxid %d", tc.query, tc.header,
				resp.StatusCode, body.Error, err, tn.hub.Horizon())
		}
		resp.Body.Close()
	}
	// From oldest_zxid it streams.
	s := openSSE(t, tn, "path=/old&since_zxid="+strconv.FormatInt(tn.hub.Horizon(), 10), nil)
	if _, e := s.event(); e.Path != "/old" || e.Type != changed {
		t.Fatalf("from the horizon: %+v", e)
	}
}

func TestSSESlowClientGetsResyncAndTheStreamEnds(t *testing.T) {
	t.Parallel()
	tn := startNode(t, withHub(func(h *HubConfig) { h.QueueSize = 256 }))
	c := connect(t, tn)
	long := "/sse-slow/" + strings.Repeat("p", 1000)
	c.create("/sse-slow", "")
	c.create(long, "")

	client := &http.Client{Transport: slowDialOptions().HTTPClient.Transport}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hreq, _ := http.NewRequestWithContext(ctx, "GET", tn.httpURL()+"/v1/events?path=/sse-slow&recursive", nil)
	resp, err := client.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	testkit.WaitFor(t, 5*time.Second, "the stream's watch", func() bool { return tn.hub.WatchCount() == 1 })

	events := floodUntilDropped(t, tn, c, long, "stream")
	s := &sseStream{t: t, resp: resp, msgs: make(chan sseMsg, 100000)}
	go s.read()
	n := 0
	for m := range s.msgs {
		if m.event == "resync" {
			if _, more := <-s.msgs; more {
				t.Fatal("the stream went on after event: resync")
			}
			t.Logf("dropped after %d events; the client read %d before event: resync", events, n)
			return
		}
		if m.comment == "" {
			n++
		}
	}
	t.Fatalf("the stream ended after %d events without event: resync", n)
}

// sscanf reports whether s is exactly format with its one number read.
func sscanf(s, format string, v *int64) bool {
	n, err := fmt.Sscanf(s, format, v)
	return err == nil && n == 1 && fmt.Sprintf(format, *v) == s
}
