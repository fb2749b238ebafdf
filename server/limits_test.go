package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testnode"
	"github.com/canopy-coord/canopy/server"
)

// newClient is a Go client of nd, and a context for its calls; both end
// with the test.
func newClient(t *testing.T, nd *testnode.Node, timeout time.Duration) (*client.Client, context.Context) {
	t.Helper()
	c, err := client.New(client.Config{Servers: []string{nd.URL}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(func() {
		cancel()
		c.Close()
	})
	return c, ctx
}

// rawConn is one keep-alive connection to a node, driven by hand so that
// a test knows exactly how many it holds.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, nd *testnode.Node) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(nd.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

// do sends one request on the connection and reads its answer.
func (c *rawConn) do(t *testing.T, method, target, body string) (*http.Response, []byte) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: canopy\r\nContent-Length: %d\r\n\r\n%s", method, target, len(body), body)
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, target, err)
	}
	return resp, b
}

// assertThrottled checks a refusal is DESIGN §4's: 429, Retry-After, the
// error body with code Throttled and a message naming what was over.
func assertThrottled(t *testing.T, resp *http.Response, body []byte, reason string) {
	t.Helper()
	var e api.ErrorBody
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" ||
		json.Unmarshal(body, &e) != nil || e.Error == nil || e.Error.Code != api.CodeThrottled || !strings.Contains(e.Error.Message, reason) {
		t.Fatalf("got %d (Retry-After %q) %s, want 429 Throttled with Retry-After 1 and %q", resp.StatusCode, resp.Header.Get("Retry-After"), body, reason)
	}
}

// holdConn opens a connection the node serves, retrying while it is still
// counting connections this test closed.
func holdConn(t *testing.T, nd *testnode.Node) *rawConn {
	t.Helper()
	var held *rawConn
	testkit.WaitFor(t, 10*time.Second, "a connection within the limit", func() bool {
		c := dial(t, nd)
		if resp, _ := c.do(t, "GET", "/healthz", ""); resp.StatusCode == http.StatusOK {
			held = c
			return true
		}
		c.Close()
		return false
	})
	return held
}

func TestConnectionsOverTheClientLimitAreAnswered429AndClosed(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t, func(m *server.Main) { m.MaxClientConns = 2 })
	http.DefaultClient.CloseIdleConnections() // the readiness checks' connection
	a, b := holdConn(t, nd), holdConn(t, nd)

	// A third connection is told why, then closed; the two go on.
	c := dial(t, nd)
	resp, body := c.do(t, "GET", "/v1/nodes/", "")
	assertThrottled(t, resp, body, "too many connections")
	if !resp.Close {
		t.Errorf("the refused connection was not closed (Connection: %q)", resp.Header.Get("Connection"))
	}
	if _, err := c.r.ReadByte(); err != io.EOF {
		t.Errorf("the refused connection: read %v, want EOF", err)
	}
	// A write over the limit changes nothing.
	resp, body = dial(t, nd).do(t, "POST", "/v1/nodes/refused", "x")
	assertThrottled(t, resp, body, "too many connections")
	for _, held := range []*rawConn{a, b} {
		if resp, body := held.do(t, "GET", "/v1/nodes/refused", ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /v1/nodes/refused on a held connection: %d %s, want 404", resp.StatusCode, body)
		}
	}

	// A WebSocket counts while it is open.
	a.Close()
	var ws *websocket.Conn
	testkit.WaitFor(t, 10*time.Second, "a WebSocket within the limit", func() bool {
		var err error
		ws, _, err = websocket.Dial(context.Background(), strings.Replace(nd.URL, "http", "ws", 1)+"/v1/watch", nil)
		return err == nil
	})
	defer ws.CloseNow()
	resp, body = dial(t, nd).do(t, "GET", "/healthz", "")
	assertThrottled(t, resp, body, "too many connections")
	ws.Close(websocket.StatusNormalClosure, "")
	holdConn(t, nd)
}

func TestRequestsOverTheClientRateAreAnswered429(t *testing.T) {
	t.Parallel()
	const perSec = 5
	nd := testnode.Start(t, func(m *server.Main) { m.MaxClientRate = perSec })
	c := dial(t, nd)

	start := time.Now()
	served := 0
	for range 4 * perSec {
		resp, body := c.do(t, "GET", "/v1/nodes/", "")
		if resp.StatusCode == http.StatusOK {
			served++
			continue
		}
		assertThrottled(t, resp, body, fmt.Sprintf("at most %d a second", perSec))
	}
	// The burst, plus what refilled while the loop ran.
	if most := perSec + 1 + int(time.Since(start).Seconds()*perSec); served < perSec || served > most {
		t.Errorf("%d of %d requests served, want from %d to %d", served, 4*perSec, perSec, most)
	}
	// A write refused for the rate changes nothing.
	resp, body := c.do(t, "POST", "/v1/nodes/refused", "x")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a create over the rate: %d %s", resp.StatusCode, body)
	}
	// Health, readiness, metrics and the UI's files answer whatever the rate.
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/ui/", "/ui/app.js", "/openapi.yaml"} {
		if resp, body := c.do(t, "GET", path, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s over the rate: %d %s", path, resp.StatusCode, body)
		}
	}
	testkit.WaitFor(t, 5*time.Second, "the rate to allow a request again", func() bool {
		resp, _ := c.do(t, "GET", "/v1/nodes/refused", "")
		return resp.StatusCode == http.StatusNotFound
	})
	_, metrics := c.do(t, "GET", "/metrics", "")
	if !strings.Contains(string(metrics), `canopy_throttled_total{limit="rate"} `) {
		t.Errorf("no canopy_throttled_total{limit=\"rate\"} in the metrics")
	}

	// The Go client waits as Retry-After says and gets every write done.
	cl, ctx := newClient(t, nd, 30*time.Second)
	for i := range 3 * perSec {
		if _, _, err := cl.Create(ctx, "/paced-"+strconv.Itoa(i), nil, nil); err != nil {
			t.Fatalf("create %d through the client: %v", i, err)
		}
	}
}

func TestWebSocketFramesCountAgainstTheClientRateButPingsDoNot(t *testing.T) {
	t.Parallel()
	const perSec = 5
	nd := testnode.Start(t, func(m *server.Main) { m.MaxClientRate = perSec })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, strings.Replace(nd.URL, "http", "ws", 1)+"/v1/watch", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()

	const frames = 8 * perSec
	for i := range frames {
		op := "getData"
		if i%2 == 1 {
			op = "ping"
		}
		if err := wsjson.Write(ctx, ws, map[string]any{"id": i, "op": op, "path": "/"}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	throttled := 0
	for range frames {
		var f struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *api.Error      `json:"error"`
		}
		if err := wsjson.Read(ctx, ws, &f); err != nil {
			t.Fatal(err)
		}
		switch {
		case f.Error == nil:
		case f.ID%2 == 1:
			t.Errorf("ping %d refused: %v", f.ID, f.Error)
		case f.Error.Code == api.CodeThrottled:
			throttled++
		default:
			t.Errorf("getData %d: %v", f.ID, f.Error)
		}
	}
	// The upgrade took one request of the burst, the reads the rest, plus
	// what refilled while they were answered.
	if served, most := frames/2-throttled, perSec+int(time.Since(start).Seconds()*perSec); throttled == 0 || served > most {
		t.Errorf("%d of %d getData frames sent at once served, want at most %d", served, frames/2, most)
	}
}

func TestClientLimitFlags(t *testing.T) {
	m := server.New(io.Discard)
	if err := m.ParseFlags([]string{"--max-client-conns", "60", "--max-client-rate", "1000"}); err != nil || m.MaxClientConns != 60 || m.MaxClientRate != 1000 {
		t.Errorf("--max-client-conns 60 --max-client-rate 1000: %v, %d, %d", err, m.MaxClientConns, m.MaxClientRate)
	}
	for _, bad := range [][]string{{"--max-client-conns", "-1"}, {"--max-client-rate", "-5"}} {
		if err := server.New(io.Discard).ParseFlags(bad); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}

func TestStatusCountsOpenConnections(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	http.DefaultClient.CloseIdleConnections() // the readiness checks' connection
	conns := []*rawConn{dial(t, nd), dial(t, nd), dial(t, nd)}
	alive := func() int64 {
		resp, body := conns[0].do(t, "GET", "/v1/status", "")
		var st struct {
			N *int64 `json:"num_alive_connections"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &st) != nil || st.N == nil {
			t.Fatalf("GET /v1/status: %d %s", resp.StatusCode, body)
		}
		return *st.N
	}
	testkit.WaitFor(t, 10*time.Second, "3 connections in /v1/status", func() bool { return alive() == 3 })
	conns[1].Close()
	conns[2].Close()
	testkit.WaitFor(t, 10*time.Second, "1 connection in /v1/status", func() bool { return alive() == 1 })
	if _, metrics := conns[0].do(t, "GET", "/metrics", ""); !strings.Contains(string(metrics), "\ncanopy_http_connections 1\n") {
		t.Error("canopy_http_connections is not 1 in the metrics")
	}
}
