package wsnotify

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// TestMain runs more tests at once than there are CPUs: they mostly wait.
func TestMain(m *testing.M) {
	flag.Parse()
	testkit.RaiseParallel()
	os.Exit(m.Run())
}

// testNode is a real single-voter raft node whose events feed a hub, with
// the watch endpoints served on a loopback port.
type testNode struct {
	t       testing.TB
	node    *consensus.Node
	hub     *Hub
	handler *Handler
	metrics *Metrics
	reg     *prometheus.Registry
	addr    string // host:port of the HTTP server
	// inflight counts the watch and event handlers still running: a
	// handler that outlives its client is a leaked goroutine.
	inflight atomic.Int64
}

// nodeOptions adjust what startNode builds.
type nodeOptions struct {
	hub    HubConfig
	cfg    Config
	limits service.Limits
	listen func(net.Listener) net.Listener // wraps the HTTP listener
}

type nodeOption func(*nodeOptions)

func withHub(f func(*HubConfig)) nodeOption { return func(o *nodeOptions) { f(&o.hub) } }
func withConfig(f func(*Config)) nodeOption { return func(o *nodeOptions) { f(&o.cfg) } }
func withLimits(f func(*service.Limits)) nodeOption {
	return func(o *nodeOptions) { f(&o.limits) }
}

// startNode opens a raft node (raftnode.Open) with the hub as its event
// sink, waits until it leads, and serves GET /v1/watch and GET /v1/events
// over it. Everything stops when the test ends.
func startNode(t testing.TB, opts ...nodeOption) *testNode {
	t.Helper()
	var o nodeOptions
	for _, f := range opts {
		f(&o)
	}
	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	o.hub.Metrics = metrics
	hub := NewHub(o.hub)
	node := raftnode.Open(t, func(c *consensus.Config) { c.Sink, c.Registerer = hub, reg })
	o.cfg.Metrics = metrics
	o.cfg.Logger = zerolog.Nop()
	tn := &testNode{t: t, node: node, hub: hub, metrics: metrics, reg: reg}
	tn.handler = NewHandler(service.New(node, o.limits), hub, o.cfg)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/watch", tn.track(tn.handler.ServeWS))
	mux.HandleFunc("GET /v1/events", tn.track(tn.handler.ServeSSE))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	tn.addr = ln.Addr().String()
	if o.listen != nil {
		ln = o.listen(ln)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	// Registered before any client, so it runs after every client has
	// closed (and before raftnode closes the node).
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
	return tn
}

func (tn *testNode) track(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tn.inflight.Add(1)
		defer tn.inflight.Add(-1)
		h(w, r)
	}
}

func (tn *testNode) wsURL() string   { return "ws://" + tn.addr + "/v1/watch" }
func (tn *testNode) httpURL() string { return "http://" + tn.addr }

// counter reads one series of a counter or gauge from the node's registry.
func (tn *testNode) counter(name string, labels ...string) float64 {
	tn.t.Helper()
	return metricValue(tn.t, tn.reg, name, labels...)
}

// metricValue reads one series of a counter or gauge (labels as name,
// value pairs); 0 when it does not exist yet.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue series
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// dial opens a raw WebSocket to the node; it is closed when the test ends.
func dial(t testing.TB, tn *testNode, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, tn.wsURL(), opts)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", tn.wsURL(), err, status)
	}
	ws.SetReadLimit(-1)
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}

// frame is one server frame: a response ({"id","result"|"error"}) or an
// event ({"event"}).
type frame struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *api.Error      `json:"error"`
	Event  *api.Event      `json:"event"`
	raw    string
	at     time.Time
}

func (f frame) isEvent() bool    { return f.Event != nil }
func (f frame) isResponse() bool { return f.Result != nil || f.Error != nil }

// wsClient is a WebSocket client that reads every frame in the background
// into an ordered log, so that tests can look at events and responses
// separately and at their relative order.
type wsClient struct {
	t      testing.TB
	ws     *websocket.Conn
	nextID atomic.Int64

	mu      sync.Mutex
	log     []frame
	more    chan struct{} // closed and replaced when the log grows or reading ends
	readErr error         // why reading ended
	done    chan struct{} // closed when reading ended

	evNext int // log index from which nextEvent looks; test goroutine only
}

// connect dials the node and starts reading.
func connect(t testing.TB, tn *testNode) *wsClient {
	t.Helper()
	return newWSClient(t, dial(t, tn, nil))
}

func newWSClient(t testing.TB, ws *websocket.Conn) *wsClient {
	c := &wsClient{t: t, ws: ws, more: make(chan struct{}), done: make(chan struct{})}
	go c.readLoop()
	t.Cleanup(func() {
		c.ws.CloseNow()
		<-c.done
	})
	return c
}

func (c *wsClient) readLoop() {
	defer close(c.done)
	for {
		typ, b, err := c.ws.Read(context.Background())
		if err == nil && typ != websocket.MessageText {
			err = fmt.Errorf("server sent a %v frame", typ)
		}
		var f frame
		if err == nil {
			if jerr := json.Unmarshal(b, &f); jerr != nil {
				err = fmt.Errorf("server frame %q is not JSON: %w", b, jerr)
			} else if !f.isEvent() && !f.isResponse() {
				err = fmt.Errorf("server frame %q is neither an event nor a response", b)
			}
		}
		c.mu.Lock()
		if err != nil {
			c.readErr = err
			close(c.more)
			c.mu.Unlock()
			return
		}
		f.raw, f.at = string(b), time.Now()
		c.log = append(c.log, f)
		close(c.more)
		c.more = make(chan struct{})
		c.mu.Unlock()
	}
}

// wait blocks until cond holds over the log or within passes; it returns
// cond's last answer and whether reading ended.
func (c *wsClient) wait(within time.Duration, cond func(log []frame) bool) (ok, ended bool) {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		ok, more, ended := cond(c.log), c.more, c.readErr != nil
		c.mu.Unlock()
		if ok || ended {
			return ok, ended
		}
		select {
		case <-more:
		case <-deadline.C:
			return false, false
		}
	}
}

// frames is a copy of the log so far.
func (c *wsClient) frames() []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]frame(nil), c.log...)
}

func (c *wsClient) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readErr
}

// req is a request frame without its id.
type req map[string]any

// send writes v as a text frame.
func (c *wsClient) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatalf("encode %v: %v", v, err)
	}
	c.sendRaw(websocket.MessageText, b)
}

func (c *wsClient) sendRaw(typ websocket.MessageType, b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, typ, b); err != nil {
		c.t.Fatalf("write frame %.200s: %v", b, err)
	}
}

// start sends r with a fresh numeric id and returns the id.
func (c *wsClient) start(r req) int64 {
	c.t.Helper()
	id := c.nextID.Add(1)
	f := req{"id": id}
	for k, v := range r {
		f[k] = v
	}
	c.send(f)
	return id
}

// response waits for the response with the given id (a JSON value) and
// returns it with its index in the log.
func (c *wsClient) response(id string, within time.Duration) (frame, int) {
	c.t.Helper()
	at := -1
	ok, _ := c.wait(within, func(log []frame) bool {
		for i, f := range log {
			if f.isResponse() && string(f.ID) == id {
				at = i
				return true
			}
		}
		return false
	})
	if !ok {
		c.t.Fatalf("no response with id %s within %v (reading: %v); frames: %s", id, within, c.err(), c.dump())
	}
	return c.frames()[at], at
}

// call sends r and waits for its response.
func (c *wsClient) call(r req) frame {
	c.t.Helper()
	f, _ := c.response(strconv.FormatInt(c.start(r), 10), callWait)
	return f
}

// callWait is how long a test waits for an answer: the server answers
// every frame within its own 10 s bound (an error then), and the rest is
// slack for a loaded machine under the race detector.
const callWait = 20 * time.Second

// ok sends r, fails the test on an error response, and decodes the result
// into out (when not nil).
func (c *wsClient) ok(r req, out any) {
	c.t.Helper()
	f := c.call(r)
	if f.Error != nil {
		c.t.Fatalf("%v: got error %+v, want a result", r, *f.Error)
	}
	if out != nil {
		if err := json.Unmarshal(f.Result, out); err != nil {
			c.t.Fatalf("%v: result %s: %v", r, f.Result, err)
		}
	}
}

// fails sends r and checks that it answers the error code.
func (c *wsClient) fails(r req, code api.Code) *api.Error {
	c.t.Helper()
	f := c.call(r)
	if f.Error == nil {
		c.t.Fatalf("%v: got result %s, want error %s", r, f.Result, code)
	}
	if f.Error.Code != code {
		c.t.Fatalf("%v: got error %+v, want %s", r, *f.Error, code)
	}
	return f.Error
}

func (c *wsClient) create(path, data string) api.Stat {
	c.t.Helper()
	var res api.PathStat
	c.ok(req{"op": "create", "path": path, "data": data}, &res)
	return res.Stat
}

func (c *wsClient) setData(path, data string) api.Stat {
	c.t.Helper()
	var res api.PathStat
	c.ok(req{"op": "setData", "path": path, "data": data}, &res)
	return res.Stat
}

func (c *wsClient) delete(path string) {
	c.t.Helper()
	c.ok(req{"op": "delete", "path": path}, nil)
}

// addWatch adds a persistent or persistentRecursive watch and returns the
// zxid it starts after.
func (c *wsClient) addWatch(path, mode string) int64 {
	c.t.Helper()
	var res api.WatchResult
	c.ok(req{"op": "addWatch", "path": path, "mode": mode}, &res)
	return res.Zxid
}

// nextEvent returns the next event frame of the log not yet returned.
func (c *wsClient) nextEvent(within time.Duration) (api.Event, bool) {
	c.t.Helper()
	var got *api.Event
	c.wait(within, func(log []frame) bool {
		for ; c.evNext < len(log); c.evNext++ {
			if log[c.evNext].isEvent() {
				got = log[c.evNext].Event
				c.evNext++
				return true
			}
		}
		return false
	})
	if got == nil {
		return api.Event{}, false
	}
	return *got, true
}

// event waits for the next event and checks its type and path.
func (c *wsClient) event(typ api.EventType, path string) api.Event {
	c.t.Helper()
	e, ok := c.nextEvent(5 * time.Second)
	if !ok {
		c.t.Fatalf("no event within 5 s, want %s %s (reading: %v); frames: %s", typ, path, c.err(), c.dump())
	}
	if e.Type != typ || e.Path != path {
		c.t.Fatalf("got event %s %s (zxid %d), want %s %s; frames: %s", e.Type, e.Path, e.Zxid, typ, path, c.dump())
	}
	return e
}

// noEvent checks that no further event arrives: it first makes a round
// trip (a ping), so every event caused by earlier writes is already queued
// ahead of its answer, then waits a little for stragglers.
func (c *wsClient) noEvent() {
	c.t.Helper()
	c.ok(req{"op": "ping"}, nil)
	if e, ok := c.nextEvent(50 * time.Millisecond); ok {
		c.t.Fatalf("got event %s %s (zxid %d), want none; frames: %s", e.Type, e.Path, e.Zxid, c.dump())
	}
}

// settle makes a round trip, so that every event caused by earlier writes
// is queued ahead of its answer, waits a little for stragglers, and returns
// every event of the log; later nextEvent calls look past them.
func (c *wsClient) settle() []api.Event {
	c.t.Helper()
	c.ok(req{"op": "ping"}, nil)
	time.Sleep(50 * time.Millisecond)
	var out []api.Event
	fs := c.frames()
	for _, f := range fs {
		if f.isEvent() {
			out = append(out, *f.Event)
		}
	}
	c.evNext = len(fs)
	return out
}

// closed waits for the server to end the connection and returns its close
// status and reason.
func (c *wsClient) closed(within time.Duration) (websocket.StatusCode, string) {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(within):
		c.t.Fatalf("connection still open after %v", within)
	}
	var ce websocket.CloseError
	if errors.As(c.err(), &ce) {
		return ce.Code, ce.Reason
	}
	return -1, c.err().Error()
}

// dump renders the last frames of the log for failure messages.
func (c *wsClient) dump() string {
	fs := c.frames()
	var b strings.Builder
	if len(fs) > 30 {
		fmt.Fprintf(&b, "\n  ... %d earlier frames", len(fs)-30)
		fs = fs[len(fs)-30:]
	}
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  %s", f.raw)
	}
	return b.String()
}
